#include "devproc/common/guest_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace bulkhead {
namespace {

TEST(GuestMemory, ReadWriteInsideBuffer) {
  std::vector<uint8_t> ram(4096);
  auto mem = GuestMemory::ForBuffer(ram, 0x1000);
  const uint32_t v = 0xdeadbeef;
  ASSERT_TRUE(mem.WriteObj(0x1ffc, v));
  auto back = mem.ReadObj<uint32_t>(0x1ffc);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v);
}

TEST(GuestMemory, RejectsRangesThatLeaveRam) {
  std::vector<uint8_t> ram(4096);
  auto mem = GuestMemory::ForBuffer(ram, 0x1000);
  EXPECT_FALSE(mem.ReadObj<uint32_t>(0x1ffd));  // crosses the end by one byte
  EXPECT_FALSE(mem.ReadObj<uint32_t>(0xffe));   // starts before
  EXPECT_FALSE(mem.Contains(0x1000, 0));        // empty
  EXPECT_FALSE(mem.Contains(std::numeric_limits<uint64_t>::max(), 2));  // wraps
  EXPECT_FALSE(mem.Contains(0x1000, std::numeric_limits<uint64_t>::max()));
  EXPECT_TRUE(mem.Contains(0x1000, 4096));
}

TEST(GuestMemory, MapsMemfdRegionsAroundAHole) {
  auto fd = MemFd::Create("test-ram", 3 * 4096);
  ASSERT_TRUE(fd);
  auto mem = GuestMemory::Map(fd->fd(), {{0x100000000, 4096, 2 * 4096}, {0, 2 * 4096, 0}});
  ASSERT_TRUE(mem) << mem.error().message;
  ASSERT_TRUE(mem->WriteObj<uint64_t>(0x100000000, 42));
  EXPECT_FALSE(mem->Contains(2 * 4096, 1));  // the hole
  EXPECT_FALSE(mem->Contains(0x1ff8, 16));   // crosses into the hole
  auto whole = Mapping::Map(*fd);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*reinterpret_cast<uint64_t*>(whole->data() + 2 * 4096), 42u);
}

TEST(GuestMemory, RefusesRegionsBeyondTheFile) {
  auto fd = MemFd::Create("test-ram", 4096);
  ASSERT_TRUE(fd);
  EXPECT_FALSE(GuestMemory::Map(fd->fd(), {{0, 8192, 0}}));
  EXPECT_FALSE(GuestMemory::Map(fd->fd(), {{0, 4096, 0}, {0x800, 4096, 0}}));  // overlap
}

TEST(GuestMemory, AlignedAtomics) {
  std::vector<uint8_t> ram(64);
  auto mem = GuestMemory::ForBuffer(ram);
  ASSERT_TRUE(mem.StoreRelease16(2, 0xabcd));
  EXPECT_EQ(*mem.LoadAcquire16(2), 0xabcd);
  EXPECT_FALSE(mem.LoadAcquire16(3));
  EXPECT_FALSE(mem.StoreRelease16(63, 1));
}

}  // namespace
}  // namespace bulkhead
