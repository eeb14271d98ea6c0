#include "core/boot/linux_loader.h"

#include "core/boot/acpi_tables.h"
#include "core/boot/bzimage.h"
#include "core/boot/e820.h"
#include "core/boot/gdt.h"
#include "core/boot/page_tables.h"
#include "core/boot/pvh.h"
#include "core/boot/ram_view.h"
#include "core/boot/zero_page.h"

namespace bulkhead::boot {
namespace {

constexpr uint64_t kPageSize = 4 * KiB;

// Writes the NUL-terminated command line; `max_len` excludes the NUL.
Status WriteCmdline(const RamView& ram, std::string_view cmdline, uint64_t max_len) {
  if (cmdline.find('\0') != std::string_view::npos) {
    return MakeError("kernel command line contains a NUL byte");
  }
  max_len = std::min<uint64_t>(max_len, kCmdlineMaxSize - 1);
  if (cmdline.size() > max_len) {
    return MakeError("kernel command line is {} bytes; this kernel accepts at most {}",
                     cmdline.size(), max_len);
  }
  if (auto s = ram.Fill(kCmdlineAddr, kCmdlineMaxSize, 0); !s) return s;
  return ram.Write(kCmdlineAddr,
                   std::span(reinterpret_cast<const uint8_t*>(cmdline.data()), cmdline.size()));
}

Result<uint64_t> LoadInitrd(const RamView& ram, std::span<const uint8_t> initrd, uint64_t lowest,
                            uint64_t limit) {
  if (initrd.empty()) return 0;
  auto addr = PlaceInitrd(initrd.size(), lowest, limit);
  if (!addr) return addr;
  if (auto s = ram.Write(*addr, initrd); !s) return tl::unexpected(s.error());
  return addr;
}

Result<BootCpuState> LoadBzImage(const RamView& ram, const MemoryLayout& layout,
                                 std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                                 std::string_view cmdline, const AcpiTablesInfo& acpi) {
  auto bz = ParseBzImage(kernel);
  if (!bz) return tl::unexpected(bz.error());
  auto place = PlaceBzImage(*bz, layout.low_ram_end);
  if (!place) return tl::unexpected(place.error());
  if (auto s = WriteCmdline(ram, cmdline, bz->header.cmdline_size); !s) {
    return tl::unexpected(s.error());
  }
  // initrd_addr_max is the highest address the initrd's last byte may have.
  const uint64_t initrd_limit =
      std::min<uint64_t>(layout.low_ram_end, uint64_t{bz->header.initrd_addr_max} + 1);
  auto initrd_addr = LoadInitrd(ram, initrd, place->end, initrd_limit);
  if (!initrd_addr) return tl::unexpected(initrd_addr.error());
  if (auto s = ram.Write(place->load_addr, bz->payload); !s) return tl::unexpected(s.error());

  const std::vector<E820Entry> e820 = BuildE820(layout);
  auto zp = BuildZeroPage(*bz, {.cmdline_addr = kCmdlineAddr,
                                .initrd_addr = *initrd_addr,
                                .initrd_size = initrd.size(),
                                .rsdp_addr = acpi.rsdp,
                                .e820 = e820});
  if (!zp) return tl::unexpected(zp.error());
  if (auto s = ram.WriteObj(kZeroPageAddr, *zp); !s) return tl::unexpected(s.error());

  auto cr3 = WriteIdentityPageTables(ram);
  if (!cr3) return tl::unexpected(cr3.error());
  BootCpuState st;
  SetLongModeSegments(st);
  SetLongModeControlRegisters(st, *cr3);
  st.rip = place->entry;
  st.rsi = kZeroPageAddr;
  st.rsp = st.rbp = kBootStackTop;
  return st;
}

Result<BootCpuState> LoadPvh(const RamView& ram, const MemoryLayout& layout,
                             std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                             std::string_view cmdline, const AcpiTablesInfo& acpi) {
  auto k = LoadPvhElf(ram, kernel);
  if (!k) return tl::unexpected(k.error());
  // Linux truncates a longer PVH command line to COMMAND_LINE_SIZE itself.
  if (auto s = WriteCmdline(ram, cmdline, kCmdlineMaxSize - 1); !s) {
    return tl::unexpected(s.error());
  }
  auto initrd_addr = LoadInitrd(ram, initrd, k->end, layout.low_ram_end);
  if (!initrd_addr) return tl::unexpected(initrd_addr.error());
  const std::vector<E820Entry> e820 = BuildE820(layout);
  auto start_info = WritePvhStartInfo(ram, {.cmdline_addr = kCmdlineAddr,
                                            .initrd_addr = *initrd_addr,
                                            .initrd_size = initrd.size(),
                                            .rsdp_addr = acpi.rsdp,
                                            .memmap = e820});
  if (!start_info) return tl::unexpected(start_info.error());

  // PVH entry: 32-bit protected mode, flat segments, paging off.
  BootCpuState st;
  SetProtectedModeSegments(st);
  st.cr0 = kCr0Pe | kCr0Et;
  st.rip = k->entry;
  st.rbx = *start_info;
  st.rsp = st.rbp = kBootStackTop;
  return st;
}

}  // namespace

Result<uint64_t> PlaceInitrd(uint64_t size, uint64_t lowest, uint64_t limit) {
  if (size > limit || (limit - size) / kPageSize * kPageSize < lowest) {
    return MakeError(
        "initrd of {} MiB does not fit in guest RAM between the kernel ({:#x}) and "
        "{:#x}",
        (size + MiB - 1) / MiB, lowest, limit);
  }
  return (limit - size) / kPageSize * kPageSize;
}

Result<BootCpuState> LoadLinux(std::span<uint8_t> low_ram, const MemoryLayout& layout,
                               std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                               std::string_view cmdline, int num_cpus) {
  if (low_ram.size() < layout.low_ram_end) {
    return MakeError("low RAM mapping is {:#x} bytes, layout says {:#x}", low_ram.size(),
                     layout.low_ram_end);
  }
  const RamView ram(low_ram.first(layout.low_ram_end));
  if (auto s = WriteBootGdt(ram); !s) return tl::unexpected(s.error());
  auto acpi = WriteAcpiTables(ram, layout, num_cpus);
  if (!acpi) return tl::unexpected(acpi.error());
  if (IsElf(kernel)) return LoadPvh(ram, layout, kernel, initrd, cmdline, *acpi);
  return LoadBzImage(ram, layout, kernel, initrd, cmdline, *acpi);
}

}  // namespace bulkhead::boot
