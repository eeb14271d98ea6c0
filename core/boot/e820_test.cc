#include "core/boot/e820.h"

#include <gtest/gtest.h>

namespace bulkhead::boot {
namespace {

MemoryLayout Layout(uint64_t ram) {
  auto l = MemoryLayout::ForRamSize(ram);
  EXPECT_TRUE(l);
  return *l;
}

uint64_t RamBytes(const std::vector<E820Entry>& map) {
  uint64_t n = 0;
  for (const auto& e : map) {
    if (e.type == E820Type::kRam) n += e.size;
  }
  return n;
}

void ExpectSortedDisjoint(const std::vector<E820Entry>& map) {
  for (size_t i = 1; i < map.size(); ++i) {
    EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr) << "entry " << i;
  }
  for (const auto& e : map) EXPECT_GT(e.size, 0u);
}

TEST(E820, SmallGuest) {
  const auto map = BuildE820(Layout(128 * MiB));
  const std::vector<E820Entry> want = {
      {0, 0x9FC00, E820Type::kRam},
      {0x9FC00, 0x400, E820Type::kReserved},
      {0xE0000, 0x20000, E820Type::kAcpi},
      {0x100000, 127 * MiB, E820Type::kRam},
      {0xFEBFC000, 0x4000, E820Type::kReserved},
      {0xFEC00000, 0x1000, E820Type::kReserved},
      {0xFEE00000, 0x1000, E820Type::kReserved},
  };
  EXPECT_EQ(map, want);
  ExpectSortedDisjoint(map);
}

TEST(E820, ExactlyThreeGiB) {
  const auto map = BuildE820(Layout(3 * GiB));
  ExpectSortedDisjoint(map);
  ASSERT_EQ(map.size(), 7u);
  EXPECT_EQ(map[3], (E820Entry{0x100000, 3 * GiB - MiB, E820Type::kRam}));
  for (const auto& e : map) EXPECT_LT(e.addr, 4 * GiB);  // no high RAM entry
  // All RAM but the 0x9FC00..1 MiB gap is described as RAM.
  EXPECT_EQ(RamBytes(map), 3 * GiB - (MiB - 0x9FC00));
}

TEST(E820, AboveFourGiB) {
  const auto map = BuildE820(Layout(6 * GiB));
  ExpectSortedDisjoint(map);
  ASSERT_EQ(map.size(), 8u);
  EXPECT_EQ(map[3], (E820Entry{0x100000, 3 * GiB - MiB, E820Type::kRam}));
  EXPECT_EQ(map.back(), (E820Entry{4 * GiB, 3 * GiB, E820Type::kRam}));
  EXPECT_EQ(RamBytes(map), 6 * GiB - (MiB - 0x9FC00));
  // Nothing is described inside the 32-bit PCI window.
  for (const auto& e : map) {
    const bool outside = e.addr + e.size <= kPciMmio32Start || e.addr >= kPciMmio32End;
    EXPECT_TRUE(outside) << std::hex << e.addr;
  }
}

}  // namespace
}  // namespace bulkhead::boot
