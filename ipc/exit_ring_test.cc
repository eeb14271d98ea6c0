// Exit ring behaviour within one process (two threads where needed).
#include "ipc/exit_ring.h"

#include <cerrno>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace bulkhead {
namespace {

using namespace std::chrono_literals;

struct Pair {
  ExitRingFds fds;
  ExitRingProducer producer;
  ExitRingConsumer consumer;
};

Pair MakePair(uint32_t capacity) {
  auto fds = CreateExitRing(capacity);
  EXPECT_TRUE(fds) << fds.error().message;
  auto producer = ExitRingProducer::Attach(fds->Dup().value());
  EXPECT_TRUE(producer) << producer.error().message;
  auto consumer = ExitRingConsumer::Attach(fds->Dup().value());
  EXPECT_TRUE(consumer) << consumer.error().message;
  return Pair{std::move(*fds), std::move(*producer), std::move(*consumer)};
}

ExitRequest Write(uint64_t addr, uint64_t data, uint8_t size = 1) {
  return ExitRequest{
      .space = AccessSpace::kPio, .size = size, .is_write = true, .addr = addr, .data = data};
}

// Serves `count` requests: writes are recorded, a read of addr returns addr * 3.
void Serve(ExitRingConsumer& c, int count, std::vector<ExitRequest>* seen) {
  for (int i = 0; i < count;) {
    auto woke = c.WaitForWork();
    ASSERT_TRUE(woke) << woke.error().message;
    auto req = c.Peek();
    ASSERT_TRUE(req) << req.error().message;
    if (!*req) continue;
    seen->push_back(**req);
    ASSERT_TRUE(c.Complete((*req)->is_write ? 0 : (*req)->addr * 3));
    ++i;
  }
}

TEST(ExitRing, CreateRejectsBadCapacity) {
  EXPECT_FALSE(CreateExitRing(0));
  EXPECT_FALSE(CreateExitRing(3));
  EXPECT_FALSE(CreateExitRing(1u << 17));
  EXPECT_TRUE(CreateExitRing(1));
}

TEST(ExitRing, PostedWritesArriveInOrderWithFields) {
  Pair p = MakePair(8);
  ASSERT_TRUE(p.producer.Post(Write(0x3f8, 'h')));
  ASSERT_TRUE(p.producer.Post(ExitRequest{.space = AccessSpace::kMmio,
                                          .size = 4,
                                          .is_write = true,
                                          .addr = 0xfebf0000,
                                          .data = 0x1'2345'6789}));
  auto a = p.consumer.Peek();
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->addr, 0x3f8u);
  EXPECT_EQ((*a)->data, uint64_t{'h'});
  EXPECT_EQ((*a)->seq, 0u);
  // Peek without Complete returns the same request.
  EXPECT_EQ(p.consumer.Peek().value()->seq, 0u);
  ASSERT_TRUE(p.consumer.Complete());
  auto b = p.consumer.Peek();
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->space, AccessSpace::kMmio);
  EXPECT_EQ((*b)->size, 4);
  EXPECT_TRUE((*b)->is_write);
  EXPECT_EQ((*b)->data, 0x2345'6789u);  // truncated to the access size
  EXPECT_EQ((*b)->seq, 1u);
  ASSERT_TRUE(p.consumer.Complete());
  EXPECT_FALSE(p.consumer.Peek().value().has_value());
  EXPECT_FALSE(p.consumer.Complete());  // nothing peeked
}

TEST(ExitRing, SyncReadGetsReplyAfterEarlierWrites) {
  Pair p = MakePair(4);
  std::vector<ExitRequest> seen;
  std::thread consumer([&] { Serve(p.consumer, 3, &seen); });
  ASSERT_TRUE(p.producer.Post(Write(0x3f9, 1)));
  ASSERT_TRUE(p.producer.Post(Write(0x3fb, 3)));
  auto v = p.producer.Read(AccessSpace::kPio, 0x3fd, 1);
  consumer.join();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, (0x3fdu * 3) & 0xff);  // reply truncated to 1 byte
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].addr, 0x3f9u);
  EXPECT_EQ(seen[1].addr, 0x3fbu);
  EXPECT_FALSE(seen[2].is_write);
}

TEST(ExitRing, WrapAroundManyMoreRequestsThanCapacity) {
  Pair p = MakePair(8);
  constexpr int kRequests = 20000;
  std::vector<ExitRequest> seen;
  seen.reserve(kRequests);
  std::thread consumer([&] { Serve(p.consumer, kRequests, &seen); });
  uint64_t read_sum = 0;
  for (int i = 0; i < kRequests; ++i) {
    if (i % 5 == 4) {
      auto v = p.producer.Read(AccessSpace::kMmio, static_cast<uint64_t>(i), 8);
      ASSERT_TRUE(v) << v.error().message;
      ASSERT_EQ(*v, static_cast<uint64_t>(i) * 3);
      read_sum += *v;
    } else {
      ASSERT_TRUE(p.producer.Post(ExitRequest{.space = AccessSpace::kMmio,
                                              .size = 8,
                                              .is_write = true,
                                              .addr = static_cast<uint64_t>(i),
                                              .data = ~static_cast<uint64_t>(i)}));
    }
  }
  consumer.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRequests));
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].seq, static_cast<uint64_t>(i));
    ASSERT_EQ(seen[i].addr, static_cast<uint64_t>(i));
    if (seen[i].is_write) {
      ASSERT_EQ(seen[i].data, ~static_cast<uint64_t>(i));
    }
  }
  EXPECT_GT(read_sum, 0u);
}

TEST(ExitRing, FullRingMakesProducerWait) {
  Pair p = MakePair(4);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(p.producer.Post(Write(i, i)));
  // Full: a post with a timeout fails with ETIMEDOUT and posts nothing.
  auto full = p.producer.Post(Write(99, 99), WaitOptions{.timeout = 20ms});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().errnum, ETIMEDOUT);
  // A consumer that frees one slot later unblocks a waiting producer.
  std::thread consumer([&] {
    std::this_thread::sleep_for(30ms);
    ASSERT_TRUE(p.consumer.Peek().value().has_value());
    ASSERT_TRUE(p.consumer.Complete());
  });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.producer.Post(Write(4, 4)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  consumer.join();
  std::vector<uint64_t> addrs;
  while (auto r = p.consumer.Peek().value()) {
    addrs.push_back(r->addr);
    ASSERT_TRUE(p.consumer.Complete());
  }
  EXPECT_EQ(addrs, (std::vector<uint64_t>{1, 2, 3, 4}));  // 99 was never posted
}

TEST(ExitRing, WaitReplyCanBeInterruptedAndResumed) {
  Pair p = MakePair(4);
  auto interrupt = EventFd::Create();
  ASSERT_TRUE(interrupt);
  ASSERT_TRUE(p.producer.Submit(AccessSpace::kPio, 0x60, 1));
  std::thread supervisor([&] {
    std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(interrupt->Signal());
  });
  auto r = p.producer.WaitReply(WaitOptions{.interrupt = &*interrupt});
  supervisor.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, EINTR);
  EXPECT_TRUE(p.producer.read_pending());
  EXPECT_FALSE(p.producer.Post(Write(1, 1)));  // no posts while a read is outstanding
  ASSERT_EQ(interrupt->TryConsume().value(), 1u);

  std::vector<ExitRequest> seen;
  std::thread consumer([&] { Serve(p.consumer, 1, &seen); });
  auto v = p.producer.WaitReply();
  consumer.join();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, (0x60u * 3) & 0xff);  // 1-byte read: reply truncated
  EXPECT_FALSE(p.producer.read_pending());
}

TEST(ExitRing, AbandonedReadFreesTheRingAndItsReplyIsIgnored) {
  Pair p = MakePair(4);
  auto r = p.producer.Read(AccessSpace::kPio, 0x10, 1, WaitOptions{.timeout = 5ms});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum, ETIMEDOUT);
  EXPECT_FALSE(p.producer.Post(Write(1, 1)));  // still outstanding
  p.producer.AbandonRead();
  ASSERT_TRUE(p.producer.Post(Write(2, 2)));
  std::vector<ExitRequest> seen;
  std::thread consumer([&] { Serve(p.consumer, 3, &seen); });
  auto v = p.producer.Read(AccessSpace::kPio, 0x20, 1);
  consumer.join();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 0x60u);  // the reply to 0x20, not to the abandoned 0x10
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].addr, 0x10u);  // the abandoned read was still handled, in order
  EXPECT_EQ(seen[1].addr, 2u);
}

TEST(ExitRing, ConsumerWaitForWorkTimesOutAndIsKickedOnlyWhenAsleep) {
  Pair p = MakePair(4);
  auto w = p.consumer.WaitForWork(WaitOptions{.timeout = 10ms});
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, WakeReason::kTimedOut);
  // Not sleeping: a post must not signal the kick eventfd.
  ASSERT_TRUE(p.producer.Post(Write(1, 1)));
  EXPECT_EQ(p.fds.kick.TryConsume().value(), 0u);
  // Armed: work already there, so ArmSleep says "don't sleep".
  EXPECT_TRUE(p.consumer.ArmSleep().value());
  ASSERT_TRUE(p.consumer.Peek().value().has_value());
  ASSERT_TRUE(p.consumer.Complete());
  // Armed on an empty ring: the next post kicks.
  EXPECT_FALSE(p.consumer.ArmSleep().value());
  ASSERT_TRUE(p.producer.Post(Write(2, 2)));
  EXPECT_EQ(p.fds.kick.TryConsume().value(), 1u);
  p.consumer.DisarmSleep();
  EXPECT_TRUE(p.consumer.Peek().value().has_value());
}

TEST(ExitRing, ProducerRejectsBadRequests) {
  Pair p = MakePair(4);
  EXPECT_FALSE(p.producer.Post(Write(1, 1, 3)));
  EXPECT_FALSE(p.producer.Post(ExitRequest{.size = 1, .is_write = false}));
  EXPECT_FALSE(p.producer.Post(
      ExitRequest{.space = static_cast<AccessSpace>(7), .size = 1, .is_write = true}));
  EXPECT_FALSE(p.producer.WaitReply());  // nothing outstanding
}

}  // namespace
}  // namespace bulkhead
