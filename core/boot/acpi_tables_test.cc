#include "core/boot/acpi_tables.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/boot/dsdt.h"

namespace bulkhead::boot {
namespace {

uint8_t Sum(std::span<const uint8_t> b) {
  uint8_t s = 0;
  for (uint8_t x : b) s = static_cast<uint8_t>(s + x);
  return s;
}

template <class T>
T Get(std::span<const uint8_t> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

bool Contains(std::span<const uint8_t> hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

MemoryLayout Layout(uint64_t ram) { return *MemoryLayout::ForRamSize(ram); }

// A table in guest memory: signature checked, length bounded, checksum zero.
std::span<const uint8_t> TableAt(const std::vector<uint8_t>& mem, uint64_t addr,
                                 std::string_view sig) {
  EXPECT_LE(addr + kAcpiHeaderSize, mem.size());
  std::span<const uint8_t> hdr(mem.data() + addr, kAcpiHeaderSize);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(hdr.data()), 4), sig);
  const uint32_t len = Get<uint32_t>(hdr, 4);
  EXPECT_LE(addr + len, kAcpiEnd);
  std::span<const uint8_t> t(mem.data() + addr, len);
  EXPECT_EQ(Sum(t), 0) << sig << " checksum";
  return t;
}

class AcpiInMemory : public ::testing::Test {
 protected:
  void Build(uint64_t ram_size, int cpus) {
    layout_ = Layout(ram_size);
    mem_.assign(kHighMemoryStart, 0xA5);  // garbage where the scan runs
    auto info = WriteAcpiTables(RamView(mem_), layout_, cpus);
    ASSERT_TRUE(info) << info.error().message;
    info_ = *info;
  }

  // Linux's legacy discovery: 16-byte steps over 0xE0000..0xFFFFF.
  uint64_t ScanForRsdp() const {
    for (uint64_t a = 0xE0000; a < 0x100000; a += 16) {
      if (std::memcmp(mem_.data() + a, "RSD PTR ", 8) != 0) continue;
      std::span<const uint8_t> r(mem_.data() + a, kRsdpSize);
      if (Sum(r.first(20)) == 0 && Sum(r) == 0) return a;
    }
    return 0;
  }

  MemoryLayout layout_;
  std::vector<uint8_t> mem_;
  AcpiTablesInfo info_;
};

TEST_F(AcpiInMemory, RsdpFoundByScanAndChainResolves) {
  Build(512 * MiB, 4);
  const uint64_t rsdp = ScanForRsdp();
  ASSERT_EQ(rsdp, info_.rsdp);
  std::span<const uint8_t> r(mem_.data() + rsdp, kRsdpSize);
  EXPECT_EQ(r[15], 2);  // revision
  const uint64_t xsdt_addr = Get<uint64_t>(r, 24);
  auto xsdt = TableAt(mem_, xsdt_addr, "XSDT");
  ASSERT_EQ(xsdt.size(), kAcpiHeaderSize + 16);
  auto fadt = TableAt(mem_, Get<uint64_t>(xsdt, 36), "FACP");
  auto madt = TableAt(mem_, Get<uint64_t>(xsdt, 44), "APIC");
  ASSERT_EQ(fadt.size(), kFadtSize);
  const uint64_t x_dsdt = Get<uint64_t>(fadt, 140);
  EXPECT_EQ(Get<uint32_t>(fadt, 40), x_dsdt);
  auto dsdt = TableAt(mem_, x_dsdt, "DSDT");
  EXPECT_TRUE(Contains(dsdt, "_S5_"));
  EXPECT_TRUE(Contains(dsdt, "PCI0"));
  EXPECT_TRUE(Contains(dsdt, "_PRT"));
  EXPECT_TRUE(Contains(dsdt, "_CRS"));
  EXPECT_GT(madt.size(), kAcpiHeaderSize);
  EXPECT_LE(info_.end, kAcpiEnd);
}

TEST_F(AcpiInMemory, FadtDescribesHardwareReducedPowerRegisters) {
  Build(256 * MiB, 1);
  auto fadt = TableAt(mem_, info_.fadt, "FACP");
  EXPECT_EQ(fadt[8], 6);  // revision
  const uint32_t flags = Get<uint32_t>(fadt, 112);
  EXPECT_TRUE(flags & kFadtHwReducedAcpi);
  EXPECT_TRUE(flags & kFadtResetRegSupported);
  EXPECT_EQ(Get<uint16_t>(fadt, 46), 0);  // no SCI
  auto expect_io_gas = [&](size_t off, uint16_t port) {
    EXPECT_EQ(fadt[off], 1) << off;      // system I/O
    EXPECT_EQ(fadt[off + 1], 8) << off;  // 8 bits wide
    EXPECT_EQ(fadt[off + 2], 0) << off;
    EXPECT_EQ(fadt[off + 3], 1) << off;  // byte access
    EXPECT_EQ(Get<uint64_t>(fadt, off + 4), port) << off;
  };
  expect_io_gas(116, kAcpiResetPort);
  EXPECT_EQ(fadt[128], kAcpiResetValue);
  expect_io_gas(244, kAcpiSleepControlPort);
  expect_io_gas(256, kAcpiSleepStatusPort);
}

TEST_F(AcpiInMemory, MadtListsEveryCpuAndTheIoApic) {
  for (int cpus : {1, 3, 64, kMaxVcpus}) {
    SCOPED_TRACE(cpus);
    Build(256 * MiB, cpus);
    auto madt = TableAt(mem_, info_.madt, "APIC");
    EXPECT_EQ(Get<uint32_t>(madt, 36), kLocalApicBase);
    int lapics = 0, ioapics = 0, overrides = 0;
    for (size_t off = 44; off < madt.size();) {
      const uint8_t type = madt[off], len = madt[off + 1];
      ASSERT_GE(len, 2);
      ASSERT_LE(off + len, madt.size());
      if (type == 0) {
        EXPECT_EQ(madt[off + 3], lapics);  // APIC IDs 0..n-1
        EXPECT_EQ(Get<uint32_t>(madt, off + 4), 1u);
        ++lapics;
      } else if (type == 1) {
        EXPECT_EQ(Get<uint32_t>(madt, off + 4), kIoApicBase);
        EXPECT_EQ(Get<uint32_t>(madt, off + 8), 0u);
        ++ioapics;
      } else if (type == 2) {
        EXPECT_EQ(madt[off + 3], 0);                  // IRQ0
        EXPECT_EQ(Get<uint32_t>(madt, off + 4), 2u);  // -> GSI2
        ++overrides;
      }
      off += len;
    }
    EXPECT_EQ(lapics, cpus);
    EXPECT_EQ(ioapics, 1);
    EXPECT_EQ(overrides, 1);
  }
}

TEST(Acpi, RejectsBadCpuCounts) {
  std::vector<uint8_t> mem(kHighMemoryStart);
  const auto l = Layout(64 * MiB);
  EXPECT_FALSE(WriteAcpiTables(RamView(mem), l, 0));
  auto too_many = WriteAcpiTables(RamView(mem), l, kMaxVcpus + 1);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("vCPUs"), std::string::npos);
}

TEST(Acpi, RejectsRamThatEndsInsideTheAcpiArea) {
  std::vector<uint8_t> mem(0xF0000);
  EXPECT_FALSE(WriteAcpiTables(RamView(mem), Layout(64 * MiB), 1));
}

TEST(Acpi, DsdtCrsCarriesTheSixtyFourBitWindow) {
  const auto l = Layout(6 * GiB);
  const auto crs = PciHostBridgeCrs(l);
  // The QWord descriptor's minimum is at +14 from its 0x8A tag.
  auto it = std::find(crs.begin(), crs.end(), 0x8A);
  ASSERT_NE(it, crs.end());
  const size_t off = static_cast<size_t>(it - crs.begin());
  EXPECT_EQ(Get<uint64_t>(crs, off + 14), l.mmio64_start);
  EXPECT_EQ(Get<uint64_t>(crs, off + 22), l.mmio64_end() - 1);
}

// ---- iasl: the reference ACPI compiler must parse what we generate -------

std::string RunIaslDisassembler(const std::vector<uint8_t>& table, const std::string& name) {
  const std::string iasl = BULKHEAD_IASL;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bulkhead_acpi_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::create_directories(dir);
  const auto dat = dir / (name + ".dat");
  std::ofstream(dat, std::ios::binary)
      .write(reinterpret_cast<const char*>(table.data()),
             static_cast<std::streamsize>(table.size()));
  const std::string cmd =
      "cd '" + dir.string() + "' && '" + iasl + "' -d " + name + ".dat > iasl.log 2>&1";
  const int rc = std::system(cmd.c_str());
  std::stringstream log, dsl;
  log << std::ifstream(dir / "iasl.log").rdbuf();
  EXPECT_EQ(rc, 0) << log.str();
  dsl << std::ifstream(dir / (name + ".dsl")).rdbuf();
  std::filesystem::remove_all(dir);
  return dsl.str();
}

class Iasl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string_view(BULKHEAD_IASL).empty()) {
      GTEST_SKIP() << "iasl not found at configure time (Debian package acpica-tools)";
    }
  }
};

TEST_F(Iasl, DisassemblesDsdt) {
  const std::string dsl = RunIaslDisassembler(BuildDsdt(Layout(6 * GiB)), "dsdt");
  EXPECT_NE(dsl.find("Device (PCI0)"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("EisaId (\"PNP0A08\")"), std::string::npos);
  EXPECT_NE(dsl.find("EisaId (\"PNP0A03\")"), std::string::npos);
  EXPECT_NE(dsl.find("Name (\\_S5, Package (0x04)"), std::string::npos);
  EXPECT_NE(dsl.find("WordBusNumber"), std::string::npos);
  EXPECT_NE(dsl.find("QWordMemory"), std::string::npos);
  EXPECT_NE(dsl.find("0x00000001C0000000, // Range Minimum"), std::string::npos);  // 7 GiB
  EXPECT_NE(dsl.find("0x00000011BFFFFFFF, // Range Maximum"), std::string::npos);
  EXPECT_NE(dsl.find("0xFEBFBFFF"), std::string::npos);
  EXPECT_NE(dsl.find("0x001FFFFF"), std::string::npos);  // _PRT entry for slot 31
  EXPECT_EQ(dsl.find("Error"), std::string::npos) << dsl;
}

TEST_F(Iasl, DisassemblesFadtMadtXsdt) {
  const std::string fadt = RunIaslDisassembler(BuildFadt(0xE0040), "facp");
  EXPECT_NE(fadt.find("Hardware Reduced (V5) : 1"), std::string::npos) << fadt;
  EXPECT_NE(fadt.find("00000000000003C0"), std::string::npos) << fadt;
  EXPECT_EQ(fadt.find("Invalid"), std::string::npos) << fadt;
  const std::string madt = RunIaslDisassembler(BuildMadt(2), "apic");
  EXPECT_NE(madt.find("FEC00000"), std::string::npos) << madt;
  EXPECT_EQ(madt.find("Invalid"), std::string::npos) << madt;
  const uint64_t addrs[] = {0xE1000, 0xE2000};
  const std::string xsdt = RunIaslDisassembler(BuildXsdt(addrs), "xsdt");
  EXPECT_NE(xsdt.find("00000000000E2000"), std::string::npos) << xsdt;
  // iasl cannot read a binary RSDP on its own (it has no table header);
  // RsdpFoundByScanAndChainResolves checks it instead.
}

}  // namespace
}  // namespace bulkhead::boot
