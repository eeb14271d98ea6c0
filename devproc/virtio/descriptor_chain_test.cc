// The chain walker against chains a driver builds (direct, indirect, mixed
// directions) and against every malformed shape the guest could write: each
// must be refused with an error, never walked out of bounds.
#include "devproc/virtio/descriptor_chain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "devproc/virtio/testing/mock_queue.h"

namespace bulkhead::virtio {
namespace {

using testing::Buffer;
using testing::MockQueue;
using testing::TestGuest;
using ::testing::HasSubstr;

class DescriptorChainTest : public ::testing::Test {
 protected:
  Status Walk(uint16_t head, WalkLimits limits = {}) {
    return WalkChain(guest_.memory(), q_.layout(), head, limits, chain_);
  }
  std::string WalkError(uint16_t head, WalkLimits limits = {}) {
    auto s = Walk(head, limits);
    return s ? std::string("(walked)") : s.error().message;
  }

  TestGuest guest_;
  MockQueue q_{guest_, 16};
  DescriptorChain chain_;
};

TEST_F(DescriptorChainTest, DirectChainReadableThenWritable) {
  const uint16_t head = q_.AddChain({q_.Readable("hello "), q_.Readable("world"), q_.Writable(8)});
  ASSERT_TRUE(Walk(head));
  EXPECT_EQ(chain_.head, head);
  ASSERT_EQ(chain_.segments.size(), 3u);
  EXPECT_EQ(chain_.readable_bytes, 11u);
  EXPECT_EQ(chain_.writable_bytes, 8u);
  std::vector<uint8_t> out(11);
  ASSERT_TRUE(ReadChain(guest_.memory(), chain_, 0, out));
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello world");
  std::vector<uint8_t> tail(4);
  ASSERT_TRUE(ReadChain(guest_.memory(), chain_, 4, tail));
  EXPECT_EQ(std::string(tail.begin(), tail.end()), "o wo");
  // One byte more than the readable part: refused.
  std::vector<uint8_t> too_much(12);
  EXPECT_FALSE(ReadChain(guest_.memory(), chain_, 0, too_much));

  const std::string reply = "ok!";
  ASSERT_TRUE(WriteChain(guest_.memory(), chain_, 2,
                         {reinterpret_cast<const uint8_t*>(reply.data()), reply.size()}));
  EXPECT_EQ(guest_.Read(chain_.segments[2].addr + 2, 3), std::vector<uint8_t>({'o', 'k', '!'}));
  std::vector<uint8_t> big(7);
  EXPECT_FALSE(WriteChain(guest_.memory(), chain_, 2, big));
}

TEST_F(DescriptorChainTest, IndirectChainAcrossSegments) {
  const uint16_t head =
      q_.AddIndirectChain({q_.Readable("ab"), q_.Readable("cd"), q_.Writable(4), q_.Writable(4)});
  ASSERT_TRUE(Walk(head));
  EXPECT_EQ(chain_.segments.size(), 4u);
  EXPECT_EQ(chain_.readable_bytes, 4u);
  EXPECT_EQ(chain_.writable_bytes, 8u);
  std::vector<iovec> iov;
  ASSERT_TRUE(ReadableIovecs(guest_.memory(), chain_, 1, iov));
  ASSERT_EQ(iov.size(), 2u);
  EXPECT_EQ(iov[0].iov_len, 1u);
  EXPECT_EQ(*static_cast<char*>(iov[0].iov_base), 'b');
  EXPECT_EQ(iov[1].iov_len, 2u);
}

TEST_F(DescriptorChainTest, IndirectRefusedWhenNotNegotiated) {
  const uint16_t head = q_.AddIndirectChain({q_.Readable("ab")});
  EXPECT_THAT(WalkError(head, {.indirect_allowed = false}), HasSubstr("not negotiated"));
}

TEST_F(DescriptorChainTest, LoopIsRefused) {
  const uint64_t buf = guest_.Alloc(64);
  q_.SetDescriptor(0, {buf, 8, kDescNext, 1});
  q_.SetDescriptor(1, {buf, 8, kDescNext, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("loops"));
  // A self-loop too.
  q_.SetDescriptor(2, {buf, 8, kDescNext, 2});
  EXPECT_THAT(WalkError(2), HasSubstr("loops"));
}

TEST_F(DescriptorChainTest, IndexesOutsideTheTable) {
  const uint64_t buf = guest_.Alloc(64);
  EXPECT_THAT(WalkError(16), HasSubstr("outside"));
  q_.SetDescriptor(0, {buf, 8, kDescNext, 16});
  EXPECT_THAT(WalkError(0), HasSubstr("outside"));
}

TEST_F(DescriptorChainTest, AddressesOutsideRam) {
  // Entirely outside, straddling the end, and wrapping around 2^64.
  q_.SetDescriptor(0, {0x10, 8, 0, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("not guest RAM"));
  q_.SetDescriptor(0, {guest_.end() - 4, 8, 0, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("not guest RAM"));
  q_.SetDescriptor(0, {~uint64_t{0} - 2, 0x10, 0, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("not guest RAM"));
  // The last byte of RAM is fine.
  q_.SetDescriptor(0, {guest_.end() - 1, 1, 0, 0});
  EXPECT_TRUE(Walk(0));
}

TEST_F(DescriptorChainTest, ZeroLengthAndOverlongChains) {
  const uint64_t buf = guest_.Alloc(64);
  q_.SetDescriptor(0, {buf, 0, 0, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("zero-length"));
  // Each descriptor fits, the sum does not.
  q_.SetDescriptor(0, {buf, 48, kDescNext, 1});
  q_.SetDescriptor(1, {buf, 48, 0, 0});
  EXPECT_THAT(WalkError(0, {.max_total_bytes = 64}), HasSubstr("longer than"));
  // Two descriptors spanning all of RAM each: every address is valid, the
  // total is not (and would overflow a 32-bit sum with larger RAM).
  const auto ram = static_cast<uint32_t>(guest_.end() - guest_.base());
  q_.SetDescriptor(0, {guest_.base(), ram, kDescNext, 1});
  q_.SetDescriptor(1, {guest_.base(), ram, 0, 0});
  EXPECT_THAT(WalkError(0, {.max_total_bytes = ram + uint64_t{1}}), HasSubstr("longer than"));
}

TEST_F(DescriptorChainTest, ReadableAfterWritableIsRefused) {
  const uint16_t head = q_.AddChain({q_.Writable(8), q_.Readable("x")});
  EXPECT_THAT(WalkError(head), HasSubstr("after a device-writable"));
  const uint16_t ind = q_.AddIndirectChain({q_.Writable(8), q_.Readable("x")});
  EXPECT_THAT(WalkError(ind), HasSubstr("after a device-writable"));
}

TEST_F(DescriptorChainTest, MalformedIndirectTables) {
  const uint64_t buf = guest_.Alloc(64);
  const uint64_t table = guest_.Alloc(16 * 32);
  auto put = [&](uint16_t i, Descriptor d) { guest_.Put(table + 16 * i, d); };
  put(0, {buf, 8, 0, 0});

  q_.SetDescriptor(0, {table, 0, kDescIndirect, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("multiple of 16"));
  q_.SetDescriptor(0, {table, 24, kDescIndirect, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("multiple of 16"));
  q_.SetDescriptor(0, {table, 16 * 17, kDescIndirect, 0});  // more than the queue size
  EXPECT_THAT(WalkError(0), HasSubstr("exceeds the queue size"));
  q_.SetDescriptor(0, {table, 16, kDescIndirect | kDescNext, 1});
  EXPECT_THAT(WalkError(0), HasSubstr("F_NEXT"));
  q_.SetDescriptor(0, {guest_.end() - 8, 16, kDescIndirect, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("not guest RAM"));

  // Nested indirect.
  put(0, {table, 16, kDescIndirect, 0});
  q_.SetDescriptor(0, {table, 16, kDescIndirect, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("nested"));
  // next beyond the table's own length (but inside the queue size).
  put(0, {buf, 8, kDescNext, 2});
  q_.SetDescriptor(0, {table, 32, kDescIndirect, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("leaves"));
  // A loop inside the table.
  put(0, {buf, 8, kDescNext, 1});
  put(1, {buf, 8, kDescNext, 0});
  EXPECT_THAT(WalkError(0), HasSubstr("loops"));
  // An indirect descriptor after a direct one.
  put(1, {buf, 8, 0, 0});
  q_.SetDescriptor(3, {buf, 8, kDescNext, 4});
  q_.SetDescriptor(4, {table, 32, kDescIndirect, 0});
  EXPECT_THAT(WalkError(3), HasSubstr("after direct"));
  // And the well-formed two-entry table walks.
  EXPECT_TRUE(Walk(0));
  EXPECT_EQ(chain_.segments.size(), 2u);
}

TEST_F(DescriptorChainTest, LongestLegalChainWalks) {
  std::vector<Buffer> bufs;
  for (int i = 0; i < 16; ++i) bufs.push_back(q_.Writable(4));
  const uint16_t head = q_.AddChain(bufs);
  ASSERT_TRUE(Walk(head));
  EXPECT_EQ(chain_.segments.size(), 16u);
  EXPECT_EQ(chain_.writable_bytes, 64u);
}

}  // namespace
}  // namespace bulkhead::virtio
