#include "core/boot/page_tables.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

TEST(PageTables, IdentityMapsFirstFourGiB) {
  std::vector<uint8_t> mem(1 * MiB, 0xEE);  // garbage must be overwritten
  RamView ram(mem);
  auto cr3 = WriteIdentityPageTables(ram);
  ASSERT_TRUE(cr3) << cr3.error().message;
  EXPECT_EQ(*cr3, kPml4Addr);
  for (uint64_t a : std::initializer_list<uint64_t>{
           0, 0x1234, kZeroPageAddr, kCmdlineAddr, kKernelLoadAddr + 0x200, 16 * MiB + 77, 1 * GiB,
           3 * GiB - 1, kIoApicBase, kLocalApicBase + 0x300, 4 * GiB - 1}) {
    auto phys = WalkPageTables(ram, *cr3, a);
    ASSERT_TRUE(phys) << std::hex << a;
    EXPECT_EQ(*phys, a);
  }
  // Every 2 MiB page, not just samples.
  for (uint64_t a = 0; a < 4 * GiB; a += 2 * MiB) ASSERT_EQ(WalkPageTables(ram, *cr3, a), a);
  EXPECT_FALSE(WalkPageTables(ram, *cr3, 4 * GiB));
  EXPECT_FALSE(WalkPageTables(ram, *cr3, 512 * GiB));
  EXPECT_FALSE(WalkPageTables(ram, *cr3, 0xFFFF'8000'0000'0000ull));
}

TEST(PageTables, TablesStayInsideTheirArea) {
  std::vector<uint8_t> mem(1 * MiB, 0xEE);
  RamView ram(mem);
  ASSERT_TRUE(WriteIdentityPageTables(ram));
  for (uint64_t a = 0; a < mem.size(); ++a) {
    const bool in_tables = a >= kPml4Addr && a < kPdAddr + kIdentityMapPds * 0x1000;
    if (!in_tables) {
      ASSERT_EQ(mem[a], 0xEE) << std::hex << a;
    }
  }
}

TEST(PageTables, LongModeControlRegisters) {
  BootCpuState st;
  SetLongModeControlRegisters(st, kPml4Addr);
  EXPECT_EQ(st.cr3, kPml4Addr);
  EXPECT_TRUE(st.cr0 & kCr0Pe);
  EXPECT_TRUE(st.cr0 & kCr0Pg);
  EXPECT_TRUE(st.cr4 & kCr4Pae);
  EXPECT_EQ(st.efer, kEferLme | kEferLma);
}

TEST(PageTables, FailsWhenRamTooSmall) {
  std::vector<uint8_t> mem(0xA000);
  EXPECT_FALSE(WriteIdentityPageTables(RamView(mem)));
}

TEST(PageTables, WalkerRejectsTablesOutsideRam) {
  std::vector<uint8_t> mem(0x2000, 0);
  RamView ram(mem);
  ASSERT_TRUE(ram.WriteObj<uint64_t>(0x1000, 0xFFFF'F000ull | kPtePresent));  // PDPT off the end
  EXPECT_FALSE(WalkPageTables(ram, 0x1000, 0));
}

}  // namespace
}  // namespace bulkhead::boot
