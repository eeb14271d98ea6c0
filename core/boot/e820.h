// The guest's physical memory map, as handed to Linux in the zero page (e820)
// and to PVH kernels in the hvm_start_info memmap.
#pragma once

#include <cstdint>
#include <vector>

#include "core/boot/layout.h"

namespace bulkhead::boot {

enum class E820Type : uint32_t {
  kRam = 1,
  kReserved = 2,
  kAcpi = 3,  // ACPI reclaimable: the tables themselves
};

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;

  friend bool operator==(const E820Entry&, const E820Entry&) = default;
};

// Ordered, non-overlapping map: base memory, EBDA (reserved), ACPI tables in
// the BIOS area, RAM from 1 MiB to the low end, KVM's TSS/identity-map
// pages, the IOAPIC and local APIC pages (reserved, so nothing is placed
// there), high RAM above 4 GiB. The PCI
// windows are not listed: they are holes the host bridge's _CRS describes.
std::vector<E820Entry> BuildE820(const MemoryLayout& layout);

}  // namespace bulkhead::boot
