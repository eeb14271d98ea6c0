#include "core/boot/e820.h"

namespace bulkhead::boot {

std::vector<E820Entry> BuildE820(const MemoryLayout& layout) {
  std::vector<E820Entry> map;
  // Base memory up to the EBDA. The loader's own structures (GDT, zero page,
  // page tables, command line) live here; Linux reserves what it still needs
  // from the zero page itself and keeps the first 1 MiB off its allocator.
  map.push_back({0, kEbdaStart, E820Type::kRam});
  map.push_back({kEbdaStart, kBiosAreaStart - kEbdaStart, E820Type::kReserved});
  map.push_back({kAcpiStart, kAcpiEnd - kAcpiStart, E820Type::kAcpi});
  map.push_back({kHighMemoryStart, layout.low_ram_end - kHighMemoryStart, E820Type::kRam});
  // Listing KVM's pages and the APIC pages as reserved keeps Linux from
  // handing them out as PCI resources; the 32-bit PCI window itself stays a
  // hole.
  map.push_back({kKvmIdentityMapAddr, kKvmReservedSize, E820Type::kReserved});
  map.push_back({kIoApicBase, kIoApicSize, E820Type::kReserved});
  map.push_back({kLocalApicBase, kLocalApicSize, E820Type::kReserved});
  if (layout.high_ram_end > kHighRamStart) {
    map.push_back({kHighRamStart, layout.high_ram_size(), E820Type::kRam});
  }
  return map;
}

}  // namespace bulkhead::boot
