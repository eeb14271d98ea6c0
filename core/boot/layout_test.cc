#include "core/boot/layout.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace bulkhead::boot {
namespace {

TEST(MemoryLayout, SmallGuestHasOnlyLowRam) {
  auto l = MemoryLayout::ForRamSize(256 * MiB);
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->low_ram_end, 256 * MiB);
  EXPECT_EQ(l->high_ram_end, kHighRamStart);
  EXPECT_EQ(l->high_ram_size(), 0u);
  EXPECT_EQ(l->mmio64_start, 4 * GiB);
}

TEST(MemoryLayout, ExactlyThreeGiBFillsLowRam) {
  auto l = MemoryLayout::ForRamSize(3 * GiB);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->low_ram_end, 3 * GiB);
  EXPECT_EQ(l->high_ram_size(), 0u);
}

TEST(MemoryLayout, LargeGuestSplitsAroundTheHole) {
  auto l = MemoryLayout::ForRamSize(8 * GiB + 4 * MiB);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->low_ram_end, 3 * GiB);
  EXPECT_EQ(l->high_ram_end, 4 * GiB + 5 * GiB + 4 * MiB);
  EXPECT_EQ(l->high_ram_size(), 5 * GiB + 4 * MiB);
  EXPECT_EQ(l->mmio64_start, 10 * GiB);  // next 1 GiB boundary
  EXPECT_EQ(l->mmio64_end(), 10 * GiB + kPciMmio64Size);
}

TEST(MemoryLayout, RejectsBadSizes) {
  auto odd = MemoryLayout::ForRamSize(64 * MiB + 1);
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("multiple of 4 KiB"), std::string::npos);
  auto tiny = MemoryLayout::ForRamSize(8 * MiB);
  ASSERT_FALSE(tiny);
  EXPECT_NE(tiny.error().message.find("minimum"), std::string::npos);
  EXPECT_FALSE(MemoryLayout::ForRamSize(2048 * GiB));
}

TEST(Layout, LowMemoryRegionsDoNotOverlap) {
  std::vector<std::pair<uint64_t, uint64_t>> r = {
      {kGdtAddr, kGdtSize},
      {kIdtAddr, kIdtSize},
      {kPvhStartInfoAddr, 56},
      {kPvhModlistAddr, 32},
      {kPvhMemmapAddr, kPvhMemmapMaxEntries * 24},
      {kZeroPageAddr, 4096},
      {0x8000, 0x1000},  // boot stack
      {kPml4Addr, 0x1000},
      {kPdptAddr, 0x1000},
      {kPdAddr, kIdentityMapPds * 0x1000},
      {kCmdlineAddr, kCmdlineMaxSize},
      {kAcpiStart, kAcpiEnd - kAcpiStart},
  };
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_LE(r[i].first + r[i].second, kHighMemoryStart) << i;
    for (size_t j = i + 1; j < r.size(); ++j) {
      const bool disjoint =
          r[i].first + r[i].second <= r[j].first || r[j].first + r[j].second <= r[i].first;
      EXPECT_TRUE(disjoint) << "regions " << i << " and " << j << " overlap";
    }
  }
  EXPECT_LT(kBootStackTop, kPml4Addr);
  EXPECT_GT(kBootStackTop, kZeroPageAddr + 4096);
}

TEST(Layout, PciIntxSwizzle) {
  EXPECT_EQ(PciIntxGsi(0, 0), 16u);
  EXPECT_EQ(PciIntxGsi(1, 0), 17u);
  EXPECT_EQ(PciIntxGsi(1, 3), 20u);
  EXPECT_EQ(PciIntxGsi(7, 1), 16u);
  EXPECT_EQ(PciIntxGsi(31, 3), 18u);
  for (uint32_t s = 0; s < 32; ++s) {
    for (uint32_t p = 0; p < 4; ++p) {
      EXPECT_GE(PciIntxGsi(s, p), 16u);
      EXPECT_LT(PciIntxGsi(s, p), kIoApicPins);
    }
  }
}

TEST(Layout, PowerOffByteDecoding) {
  // What Linux writes for \_S5 = 5: SLP_TYP << 2 | SLP_EN.
  EXPECT_TRUE(IsAcpiPowerOffWrite(0x34));
  EXPECT_FALSE(IsAcpiPowerOffWrite(0x14));  // SLP_EN missing
  EXPECT_FALSE(IsAcpiPowerOffWrite(0x2C));  // S3 type
  EXPECT_FALSE(IsAcpiPowerOffWrite(0x80));  // WAK_STS clear to the status port
}

}  // namespace
}  // namespace bulkhead::boot
