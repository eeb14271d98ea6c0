#include "core/bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace bulkhead {
namespace {

// Records accesses and answers reads with the low byte of the offset.
class Recorder : public BusDevice {
 public:
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    reads.push_back(offset);
    for (auto& b : data) b = static_cast<uint8_t>(offset);
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    writes.push_back({offset, data[0]});
  }
  std::vector<uint64_t> reads;
  std::vector<std::pair<uint64_t, uint8_t>> writes;
};

TEST(Bus, RoutesToDeviceWithRelativeOffset) {
  Bus bus("pio");
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.Insert(0x3f8, 8, dev, "serial"));
  uint8_t b[1];
  EXPECT_TRUE(bus.Read(0x3fd, b));
  EXPECT_EQ(b[0], 5);
  const uint8_t w[1] = {0x41};
  EXPECT_TRUE(bus.Write(0x3f8, w));
  ASSERT_EQ(dev->writes.size(), 1u);
  EXPECT_EQ(dev->writes[0], (std::pair<uint64_t, uint8_t>{0, 0x41}));
}

TEST(Bus, RejectsEmptyOverflowingAndOverlappingRanges) {
  Bus bus("mmio");
  auto dev = std::make_shared<Recorder>();
  EXPECT_FALSE(bus.Insert(0x1000, 0, dev, "empty"));
  EXPECT_FALSE(bus.Insert(~0ull - 1, 4, dev, "overflow"));
  ASSERT_TRUE(bus.Insert(0x1000, 0x100, dev, "a"));
  EXPECT_FALSE(bus.Insert(0x10ff, 1, dev, "tail overlap"));
  EXPECT_FALSE(bus.Insert(0xf00, 0x101, dev, "head overlap"));
  EXPECT_FALSE(bus.Insert(0x1000, 0x100, dev, "same"));
  EXPECT_FALSE(bus.Insert(0x800, 0x1000, dev, "covering"));
  EXPECT_TRUE(bus.Insert(0x1100, 0x100, dev, "adjacent after"));
  EXPECT_TRUE(bus.Insert(0xf00, 0x100, dev, "adjacent before"));
  EXPECT_FALSE(bus.Insert(0x1000, 0x10, nullptr, "no device"));
}

TEST(Bus, UnhandledAccessesAreCountedAndReadAsAllOnes) {
  Bus bus("pio");
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.Insert(0x70, 2, dev, "rtc"));
  uint8_t b[2] = {0, 0};
  EXPECT_FALSE(bus.Read(0x80, b));
  EXPECT_EQ(b[0], 0xFF);
  EXPECT_EQ(b[1], 0xFF);
  const uint8_t w[1] = {1};
  EXPECT_FALSE(bus.Write(0x80, w));
  EXPECT_FALSE(bus.Write(0x80, w));
  EXPECT_EQ(bus.unhandled_accesses(), 3u);
  EXPECT_TRUE(dev->reads.empty());
}

TEST(Bus, AccessStraddlingTheEndOfARangeIsNotDelivered) {
  Bus bus("mmio");
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.Insert(0x1000, 0x10, dev, "regs"));
  uint8_t b[4];
  EXPECT_FALSE(bus.Read(0x100e, b));  // 0x100e..0x1011 leaves the range
  EXPECT_TRUE(bus.Read(0x100c, b));
  EXPECT_EQ(dev->reads.size(), 1u);
  EXPECT_FALSE(bus.Read(~0ull - 1, b));  // wraps the address space
}

TEST(Bus, RemoveFreesTheRange) {
  Bus bus("mmio");
  auto dev = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.Insert(0x2000, 0x1000, dev, "bar"));
  EXPECT_FALSE(bus.Remove(0x2001));
  ASSERT_TRUE(bus.Remove(0x2000));
  uint8_t b[4];
  EXPECT_FALSE(bus.Read(0x2000, b));
  EXPECT_TRUE(bus.Insert(0x2000, 0x1000, dev, "bar moved back"));
}

}  // namespace
}  // namespace bulkhead
