// A peer that corrupts the ring must produce errors, never UB or a hang.
#include <unistd.h>

#include <gtest/gtest.h>

#include "ipc/exit_ring.h"
#include "ipc/exit_ring_layout.h"

namespace bulkhead {
namespace {

namespace layout = exit_ring_layout;

struct Raw {
  ExitRingFds fds;
  Mapping mapping;
  layout::Control* control() const { return mapping.as<layout::Control>().value(); }
  layout::Slot* slot(size_t i) const {
    return mapping.as<layout::Slot>(sizeof(layout::Control) + i * sizeof(layout::Slot)).value();
  }
};

Raw MakeRaw(uint32_t capacity = 4) {
  auto fds = CreateExitRing(capacity);
  EXPECT_TRUE(fds);
  auto mapping = Mapping::Map(fds->memory);
  EXPECT_TRUE(mapping);
  return Raw{std::move(*fds), std::move(*mapping)};
}

TEST(ExitRingCorruption, HeaderFieldsAreValidatedOnAttach) {
  struct Case {
    const char* name;
    void (*corrupt)(layout::Header&);
  };
  const Case cases[] = {
      {"magic", [](layout::Header& h) { h.magic = 0xdeadbeef; }},
      {"version", [](layout::Header& h) { h.version = 2; }},
      {"capacity not a power of two", [](layout::Header& h) { h.capacity = 3; }},
      {"capacity zero", [](layout::Header& h) { h.capacity = 0; }},
      {"capacity beyond the memfd", [](layout::Header& h) { h.capacity = 1u << 16; }},
      {"slot size", [](layout::Header& h) { h.slot_size = 16; }},
  };
  for (const Case& c : cases) {
    Raw raw = MakeRaw();
    c.corrupt(raw.control()->header);
    EXPECT_FALSE(ExitRingConsumer::Attach(raw.fds.Dup().value())) << c.name;
    EXPECT_FALSE(ExitRingProducer::Attach(raw.fds.Dup().value())) << c.name;
  }
}

TEST(ExitRingCorruption, UnsealedOrTooSmallMemoryIsRejected) {
  auto good = MakeRaw();
  // A copy of a valid ring in an unsealed memfd.
  auto unsealed = MemFd::Create("unsealed", good.mapping.size());
  ASSERT_TRUE(unsealed);
  ASSERT_EQ(::pwrite(unsealed->fd(), good.mapping.data(), good.mapping.size(), 0),
            static_cast<ssize_t>(good.mapping.size()));
  ExitRingFds fds{std::move(*unsealed), good.fds.kick.Dup().value(), good.fds.done.Dup().value()};
  EXPECT_FALSE(ExitRingConsumer::Attach(fds.Dup().value()));
  // Sealed but shorter than its header claims.
  auto small = MemFd::Create("small", 4096);
  ASSERT_TRUE(small);
  ASSERT_EQ(::pwrite(small->fd(), good.mapping.data(), 4096, 0), 4096);
  ASSERT_TRUE(small->Seal());
  Raw raw2{ExitRingFds{std::move(*small), good.fds.kick.Dup().value(), good.fds.done.Dup().value()},
           Mapping()};
  auto m = Mapping::Map(raw2.fds.memory);
  ASSERT_TRUE(m);
  m->as<layout::Control>().value()->header.capacity = 1024;  // needs 32 KiB + 192
  EXPECT_FALSE(ExitRingConsumer::Attach(raw2.fds.Dup().value()));
}

TEST(ExitRingCorruption, ConsumerRejectsHeadBeyondCapacity) {
  Raw raw = MakeRaw(4);
  auto consumer = ExitRingConsumer::Attach(raw.fds.Dup().value());
  ASSERT_TRUE(consumer);
  raw.control()->producer.head = 5;  // tail 0, capacity 4
  EXPECT_FALSE(consumer->Peek());
  EXPECT_FALSE(consumer->WaitForWork());
  raw.control()->producer.head = ~uint64_t{0};  // "behind" tail
  EXPECT_FALSE(consumer->Peek());
  EXPECT_FALSE(ExitRingConsumer::Attach(raw.fds.Dup().value()));
  raw.control()->producer.head = 4;  // exactly full is a valid index pair
  auto woke = consumer->WaitForWork();
  ASSERT_TRUE(woke) << woke.error().message;
  EXPECT_EQ(*woke, WakeReason::kReady);
}

TEST(ExitRingCorruption, MalformedRequestIsAnErrorAndCanBeSkipped) {
  Raw raw = MakeRaw(4);
  auto producer = ExitRingProducer::Attach(raw.fds.Dup().value());
  auto consumer = ExitRingConsumer::Attach(raw.fds.Dup().value());
  ASSERT_TRUE(producer && consumer);
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 1}));
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 2}));
  raw.slot(0)->meta = (uint64_t{3} << 8);  // size 3
  EXPECT_FALSE(consumer->Peek());
  ASSERT_TRUE(consumer->Complete());  // skip it
  auto next = consumer->Peek();
  ASSERT_TRUE(next && *next);
  EXPECT_EQ((*next)->addr, 2u);
  ASSERT_TRUE(consumer->Complete());
  for (uint64_t bad : {uint64_t{1} << 40, uint64_t{5} | (uint64_t{1} << 8)}) {
    ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true}));
    raw.slot(consumer->tail() & 3)->meta = bad;
    EXPECT_FALSE(consumer->Peek()) << bad;
    ASSERT_TRUE(consumer->Complete());
  }
}

TEST(ExitRingCorruption, ProducerRejectsBadTail) {
  Raw raw = MakeRaw(4);
  auto producer = ExitRingProducer::Attach(raw.fds.Dup().value());
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true}));
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true}));
  raw.control()->consumer.tail = 7;  // beyond head 2
  EXPECT_FALSE(producer->Post(ExitRequest{.size = 1, .is_write = true}));
  raw.control()->consumer.tail = 2;
  ASSERT_TRUE(producer->Submit(AccessSpace::kPio, 0, 1));
  raw.control()->consumer.tail = 1;  // moved backwards
  EXPECT_FALSE(producer->WaitReply());
}

TEST(ExitRingCorruption, ProducerTruncatesHostileReply) {
  Raw raw = MakeRaw(4);
  auto producer = ExitRingProducer::Attach(raw.fds.Dup().value());
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->Submit(AccessSpace::kPio, 0x64, 2));
  raw.slot(0)->reply = 0xffff'ffff'1234'5678;
  raw.control()->consumer.tail = 1;
  EXPECT_EQ(producer->WaitReply().value(), 0x5678u);
}

}  // namespace
}  // namespace bulkhead
