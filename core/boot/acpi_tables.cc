#include "core/boot/acpi_tables.h"

#include <cstring>

#include "core/boot/dsdt.h"

namespace bulkhead::boot {
namespace {

constexpr char kOemId[] = "BLKHD ";         // 6 bytes
constexpr char kOemTableId[] = "BULKHEAD";  // 8 bytes
constexpr char kCreatorId[] = "BLKH";       // 4 bytes
constexpr uint32_t kOemRevision = 1;
constexpr uint32_t kCreatorRevision = 1;

// Offsets (ACPI 6.4 5.2.6 header, 5.2.9 FADT, 5.2.3.2 GAS).
constexpr size_t kLengthOffset = 4;
constexpr size_t kChecksumOffset = 9;
constexpr size_t kFadtDsdt = 40;
constexpr size_t kFadtIapcBootArch = 109;
constexpr size_t kFadtFlags = 112;
constexpr size_t kFadtResetReg = 116;
constexpr size_t kFadtResetValue = 128;
constexpr size_t kFadtMinorVersion = 131;
constexpr size_t kFadtXDsdt = 140;
constexpr size_t kFadtSleepControlReg = 244;
constexpr size_t kFadtSleepStatusReg = 256;
constexpr size_t kFadtHypervisorVendor = 268;
constexpr uint8_t kGasSystemIo = 1;
constexpr uint8_t kGasAccessByte = 1;

// MADT structure types.
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoApic = 1;
constexpr uint8_t kMadtIntSourceOverride = 2;
constexpr uint8_t kMadtLocalApicNmi = 4;
constexpr uint32_t kMadtPcatCompat = 1;  // dual 8259s present (KVM's PIC): Linux masks them

template <class T>
void Put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}

template <class T>
void Append(std::vector<uint8_t>& b, T v) {
  const size_t off = b.size();
  b.resize(off + sizeof(T));
  Put(b, off, v);
}

void AppendChars(std::vector<uint8_t>& b, std::string_view s) {
  b.insert(b.end(), s.begin(), s.end());
}

// Generic Address Structure for an 8-bit I/O port.
void PutIoPortGas(std::vector<uint8_t>& b, size_t off, uint16_t port) {
  b[off + 0] = kGasSystemIo;
  b[off + 1] = 8;  // register bit width
  b[off + 2] = 0;  // bit offset
  b[off + 3] = kGasAccessByte;
  Put<uint64_t>(b, off + 4, port);
}

void Align(uint64_t& addr, uint64_t a) { addr = (addr + a - 1) & ~(a - 1); }

}  // namespace

uint8_t AcpiChecksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> MakeAcpiTable(std::string_view signature, uint8_t revision,
                                   std::span<const uint8_t> body) {
  std::vector<uint8_t> t;
  t.reserve(kAcpiHeaderSize + body.size());
  AppendChars(t, signature.substr(0, 4));
  Append<uint32_t>(t, 0);  // length, below
  t.push_back(revision);
  t.push_back(0);  // checksum, below
  AppendChars(t, std::string_view(kOemId, 6));
  AppendChars(t, std::string_view(kOemTableId, 8));
  Append<uint32_t>(t, kOemRevision);
  AppendChars(t, std::string_view(kCreatorId, 4));
  Append<uint32_t>(t, kCreatorRevision);
  t.insert(t.end(), body.begin(), body.end());
  Put<uint32_t>(t, kLengthOffset, static_cast<uint32_t>(t.size()));
  t[kChecksumOffset] = AcpiChecksum(t);
  return t;
}

std::vector<uint8_t> BuildRsdp(uint64_t xsdt_addr) {
  std::vector<uint8_t> r;
  AppendChars(r, "RSD PTR ");
  r.push_back(0);  // checksum of the first 20 bytes
  AppendChars(r, std::string_view(kOemId, 6));
  r.push_back(2);          // revision: ACPI 2.0+, XSDT valid
  Append<uint32_t>(r, 0);  // no RSDT: every consumer we target reads the XSDT
  Append<uint32_t>(r, kRsdpSize);
  Append<uint64_t>(r, xsdt_addr);
  r.push_back(0);  // extended checksum of all 36 bytes
  r.insert(r.end(), 3, 0);
  r[8] = AcpiChecksum(std::span(r).first(20));
  r[32] = AcpiChecksum(r);
  return r;
}

std::vector<uint8_t> BuildXsdt(std::span<const uint64_t> table_addrs) {
  std::vector<uint8_t> body;
  for (uint64_t a : table_addrs) Append<uint64_t>(body, a);
  return MakeAcpiTable("XSDT", 1, body);
}

std::vector<uint8_t> BuildFadt(uint64_t dsdt_addr) {
  std::vector<uint8_t> t(kFadtSize - kAcpiHeaderSize, 0);
  auto at = [](size_t off) { return off - kAcpiHeaderSize; };
  // Hardware-reduced: no PM1/GPE blocks, no SCI, no SMI command port. Only
  // the sleep control/status and reset registers below exist.
  Put<uint32_t>(t, at(kFadtDsdt), static_cast<uint32_t>(dsdt_addr));
  Put<uint16_t>(t, at(kFadtIapcBootArch), kFadtBootArchNoVga);
  Put<uint32_t>(t, at(kFadtFlags), kFadtHwReducedAcpi | kFadtResetRegSupported);
  PutIoPortGas(t, at(kFadtResetReg), kAcpiResetPort);
  t[at(kFadtResetValue)] = kAcpiResetValue;
  t[at(kFadtMinorVersion)] = 0;
  Put<uint64_t>(t, at(kFadtXDsdt), dsdt_addr);
  PutIoPortGas(t, at(kFadtSleepControlReg), kAcpiSleepControlPort);
  PutIoPortGas(t, at(kFadtSleepStatusReg), kAcpiSleepStatusPort);
  std::memcpy(t.data() + at(kFadtHypervisorVendor), "BULKHEAD", 8);
  return MakeAcpiTable("FACP", 6, t);
}

std::vector<uint8_t> BuildMadt(int num_cpus) {
  std::vector<uint8_t> b;
  Append<uint32_t>(b, static_cast<uint32_t>(kLocalApicBase));
  Append<uint32_t>(b, kMadtPcatCompat);
  for (int i = 0; i < num_cpus; ++i) {
    b.push_back(kMadtLocalApic);
    b.push_back(8);
    b.push_back(static_cast<uint8_t>(i));  // ACPI processor UID
    b.push_back(static_cast<uint8_t>(i));  // APIC ID
    Append<uint32_t>(b, 1);                // enabled
  }
  b.push_back(kMadtIoApic);
  b.push_back(12);
  b.push_back(static_cast<uint8_t>(kIoApicId));
  b.push_back(0);
  Append<uint32_t>(b, static_cast<uint32_t>(kIoApicBase));
  Append<uint32_t>(b, 0);  // GSI base
  // The PIT's IRQ0 is wired to IOAPIC pin 2, as on every PC; flags 0 =
  // conforms to the ISA bus (edge, active high).
  b.push_back(kMadtIntSourceOverride);
  b.push_back(10);
  b.push_back(0);  // bus ISA
  b.push_back(0);  // source IRQ
  Append<uint32_t>(b, 2);
  Append<uint16_t>(b, 0);
  b.push_back(kMadtLocalApicNmi);
  b.push_back(6);
  b.push_back(0xFF);  // all processors
  Append<uint16_t>(b, 0);
  b.push_back(1);  // LINT1
  return MakeAcpiTable("APIC", 5, b);
}

std::vector<uint8_t> BuildDsdt(const MemoryLayout& layout) {
  return MakeAcpiTable("DSDT", 2, BuildDsdtAml(layout));
}

Result<AcpiTablesInfo> WriteAcpiTables(const RamView& ram, const MemoryLayout& layout,
                                       int num_cpus) {
  if (num_cpus < 1 || num_cpus > kMaxVcpus) {
    return MakeError("{} vCPUs requested; the platform supports 1 to {}", num_cpus, kMaxVcpus);
  }
  // Lay out back to front of the dependency chain: DSDT, FADT, MADT, XSDT
  // after the RSDP, each 16-byte aligned.
  AcpiTablesInfo info;
  info.rsdp = kAcpiStart;
  const std::vector<uint8_t> dsdt = BuildDsdt(layout);
  const std::vector<uint8_t> madt = BuildMadt(num_cpus);
  uint64_t next = info.rsdp + kRsdpSize;
  Align(next, 16);
  info.dsdt = next;
  next += dsdt.size();
  Align(next, 16);
  info.fadt = next;
  next += kFadtSize;
  Align(next, 16);
  info.madt = next;
  next += madt.size();
  Align(next, 16);
  info.xsdt = next;
  const uint64_t tables[] = {info.fadt, info.madt};
  const std::vector<uint8_t> xsdt = BuildXsdt(tables);
  info.end = info.xsdt + xsdt.size();
  if (info.end > kAcpiEnd) {
    return MakeError("ACPI tables need {:#x} bytes, more than the {:#x}-byte ACPI area",
                     info.end - kAcpiStart, kAcpiEnd - kAcpiStart);
  }
  // Zero the whole area first: the legacy RSDP scan must not find stale data.
  if (auto s = ram.Fill(kAcpiStart, kAcpiEnd - kAcpiStart, 0); !s) return tl::unexpected(s.error());
  for (auto [addr, bytes] : {std::pair{info.rsdp, BuildRsdp(info.xsdt)}, std::pair{info.dsdt, dsdt},
                             std::pair{info.fadt, BuildFadt(info.dsdt)}, std::pair{info.madt, madt},
                             std::pair{info.xsdt, xsdt}}) {
    if (auto s = ram.Write(addr, bytes); !s) return tl::unexpected(s.error());
  }
  return info;
}

}  // namespace bulkhead::boot
