// ACPI tables for a hardware-reduced platform: RSDP -> XSDT -> {FADT, MADT},
// FADT -> DSDT. They are written into [kAcpiStart, kAcpiEnd), with the RSDP
// first so that both the zero page's acpi_rsdp_addr and Linux's legacy scan
// of 0xE0000..0xFFFFF find it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/boot/layout.h"
#include "core/boot/ram_view.h"

namespace bulkhead::boot {

inline constexpr size_t kAcpiHeaderSize = 36;
inline constexpr size_t kFadtSize = 276;  // ACPI 6.x, revision 6
inline constexpr size_t kRsdpSize = 36;

// FADT flags (ACPI 6.4 table 5.10).
inline constexpr uint32_t kFadtResetRegSupported = 1u << 10;
inline constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
// IAPC_BOOT_ARCH: no VGA. The 8042 bit stays clear: there is no keyboard
// controller, and Linux then skips probing one.
inline constexpr uint16_t kFadtBootArchNoVga = 1u << 2;

// Value that makes the byte sum of `bytes` (with this value added) zero.
uint8_t AcpiChecksum(std::span<const uint8_t> bytes);

// Header + body with length and checksum filled in.
std::vector<uint8_t> MakeAcpiTable(std::string_view signature, uint8_t revision,
                                   std::span<const uint8_t> body);

std::vector<uint8_t> BuildRsdp(uint64_t xsdt_addr);
std::vector<uint8_t> BuildXsdt(std::span<const uint64_t> table_addrs);
std::vector<uint8_t> BuildFadt(uint64_t dsdt_addr);
// One enabled Local APIC per vCPU (IDs 0..n-1), the IOAPIC, IRQ0 -> GSI2 and
// LINT1 as NMI on every CPU. `num_cpus` must be in [1, kMaxVcpus].
std::vector<uint8_t> BuildMadt(int num_cpus);
std::vector<uint8_t> BuildDsdt(const MemoryLayout& layout);

struct AcpiTablesInfo {
  uint64_t rsdp = 0;
  uint64_t xsdt = 0;
  uint64_t fadt = 0;
  uint64_t madt = 0;
  uint64_t dsdt = 0;
  uint64_t end = 0;  // first byte past the last table
};

// Builds all tables and writes them into `ram`. Errors: bad vCPU count, RAM
// too small, tables larger than the ACPI area.
[[nodiscard]] Result<AcpiTablesInfo> WriteAcpiTables(const RamView& ram, const MemoryLayout& layout,
                                                     int num_cpus);

}  // namespace bulkhead::boot
