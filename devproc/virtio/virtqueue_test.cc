// Virtqueue against the driver-side mock: popping, used-ring writes, the
// progress commit, notification suppression both ways (VIRTQ_AVAIL_F_NO_INTERRUPT,
// used_event, VIRTQ_USED_F_NO_NOTIFY, avail_event), and broken queues.
#include "devproc/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include "devproc/virtio/testing/mock_queue.h"

namespace bulkhead::virtio {
namespace {

using testing::MockQueue;
using testing::TestGuest;

class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResetVirtqueueState(state_, 256);
    q_.Configure(state_);
  }
  Virtqueue Make(uint64_t features = Bit(kFVersion1) | Bit(kFIndirectDesc)) {
    return Virtqueue(state_, guest_.memory(), features, 256, 1 << 20);
  }
  // Pops everything, completes each chain with len 1, returns the notify decision.
  bool CompleteAll(Virtqueue& vq) {
    for (;;) {
      auto h = vq.PopInto(chain_);
      EXPECT_TRUE(h) << h.error().message;
      if (!h || !*h) break;
      EXPECT_TRUE(vq.AddUsed(**h, 1));
    }
    auto n = vq.Publish();
    EXPECT_TRUE(n);
    return n && *n;
  }

  TestGuest guest_;
  MockQueue q_{guest_, 8};
  VirtqueueState state_{};
  DescriptorChain chain_;
};

TEST_F(VirtqueueTest, PopsInOrderAndCommitsProgressAtPublish) {
  const uint16_t a = q_.AddChain({q_.Readable("a")});
  const uint16_t b = q_.AddIndirectChain({q_.Readable("b"), q_.Writable(2)});
  Virtqueue vq = Make();
  ASSERT_TRUE(vq.ready());
  auto h = vq.PopInto(chain_);
  ASSERT_TRUE(h && *h);
  EXPECT_EQ(**h, a);
  h = vq.PopInto(chain_);
  ASSERT_TRUE(h && *h);
  EXPECT_EQ(**h, b);
  EXPECT_EQ(chain_.writable_bytes, 2u);
  h = vq.PopInto(chain_);
  ASSERT_TRUE(h);
  EXPECT_FALSE(*h);
  // Nothing is visible before Publish: a crash here re-serves both chains.
  EXPECT_EQ(state_.progress.load(), 0u);
  ASSERT_TRUE(vq.AddUsed(a, 0));
  ASSERT_TRUE(vq.AddUsed(b, 2));
  EXPECT_EQ(q_.used_idx(), 0);
  auto n = vq.Publish();
  ASSERT_TRUE(n);
  EXPECT_TRUE(*n);
  EXPECT_EQ(q_.used_idx(), 2);
  EXPECT_EQ(q_.used(0).id, a);
  EXPECT_EQ(q_.used(1).id, b);
  EXPECT_EQ(q_.used(1).len, 2u);
  EXPECT_EQ(state_.progress.load(), PackProgress(2, 2));
  EXPECT_EQ(state_.chains, 2u);
}

TEST_F(VirtqueueTest, RewindGivesChainsBack) {
  const uint16_t a = q_.AddChain({q_.Writable(4)});
  Virtqueue vq = Make();
  ASSERT_TRUE(vq.PopInto(chain_));
  EXPECT_EQ(vq.popped(), 1);
  vq.Rewind(1);
  auto h = vq.PopInto(chain_);
  ASSERT_TRUE(h && *h);
  EXPECT_EQ(**h, a);
}

TEST_F(VirtqueueTest, NoInterruptFlagSuppressesWithoutEventIdx) {
  q_.AddChain({q_.Readable("a")});
  Virtqueue vq = Make();
  q_.set_avail_flags(kAvailNoInterrupt);
  EXPECT_FALSE(CompleteAll(vq));
  q_.set_avail_flags(0);
  q_.AddChain({q_.Readable("b")});
  Virtqueue vq2 = Make();
  EXPECT_TRUE(CompleteAll(vq2));
}

TEST_F(VirtqueueTest, UsedEventDecidesWithEventIdx) {
  const uint64_t f = Bit(kFVersion1) | Bit(kFEventIdx);
  // The driver wants an interrupt once used idx passes 2 (i.e. reaches 3).
  q_.set_used_event(2);
  q_.set_avail_flags(kAvailNoInterrupt);  // ignored under EVENT_IDX
  for (int i = 0; i < 4; ++i) q_.AddChain({q_.Readable("x")});
  {
    Virtqueue vq(state_, guest_.memory(), f, 256, 1 << 20);
    ASSERT_TRUE(vq.PopInto(chain_));
    ASSERT_TRUE(vq.AddUsed(chain_.head, 0));
    ASSERT_TRUE(vq.PopInto(chain_));
    ASSERT_TRUE(vq.AddUsed(chain_.head, 0));
    auto n = vq.Publish();  // used 0 -> 2: event 2 not crossed
    ASSERT_TRUE(n);
    EXPECT_FALSE(*n);
  }
  {
    Virtqueue vq(state_, guest_.memory(), f, 256, 1 << 20);
    EXPECT_TRUE(CompleteAll(vq));  // 2 -> 4 crosses 2
  }
  q_.AddChain({q_.Readable("y")});
  {
    Virtqueue vq(state_, guest_.memory(), f, 256, 1 << 20);
    EXPECT_FALSE(CompleteAll(vq));  // 4 -> 5, event still 2
  }
}

TEST_F(VirtqueueTest, DeviceSideSuppression) {
  {
    // Without EVENT_IDX: NO_NOTIFY while busy, cleared before sleeping.
    Virtqueue vq = Make();
    ASSERT_TRUE(vq.DisableNotifications());
    EXPECT_EQ(q_.used_flags(), kUsedNoNotify);
    auto more = vq.EnableNotifications();
    ASSERT_TRUE(more);
    EXPECT_FALSE(*more);
    EXPECT_EQ(q_.used_flags(), 0);
  }
  // With EVENT_IDX: avail_event = the next index the device will read.
  const uint64_t f = Bit(kFVersion1) | Bit(kFEventIdx);
  q_.AddChain({q_.Readable("a")});
  q_.AddChain({q_.Readable("b")});
  Virtqueue vq(state_, guest_.memory(), f, 256, 1 << 20);
  ASSERT_TRUE(vq.PopInto(chain_));
  auto more = vq.EnableNotifications();
  ASSERT_TRUE(more);
  EXPECT_TRUE(*more) << "chain b is pending: the device must not sleep";
  EXPECT_EQ(q_.avail_event(), 1);
  ASSERT_TRUE(vq.PopInto(chain_));
  more = vq.EnableNotifications();
  ASSERT_TRUE(more);
  EXPECT_FALSE(*more);
  EXPECT_EQ(q_.avail_event(), 2);
  // The driver's side of the protocol: kick only when crossing avail_event.
  EXPECT_TRUE(NeedEvent(q_.avail_event(), 3, 2));
  EXPECT_FALSE(NeedEvent(q_.avail_event(), 4, 3));
}

TEST_F(VirtqueueTest, AvailIdxTooFarAheadIsAnError) {
  q_.SetAvailIdx(9);  // queue of 8
  Virtqueue vq = Make();
  EXPECT_FALSE(vq.PopInto(chain_));
  EXPECT_TRUE(vq.MarkBroken());
  EXPECT_FALSE(vq.MarkBroken()) << "logged once";
  EXPECT_FALSE(Make().ready());
  EXPECT_EQ(state_.broken_events, 1u);
  ResetVirtqueueState(state_, 256);
  EXPECT_EQ(state_.broken.load(), 0u);
  EXPECT_EQ(state_.broken_events, 1u);
}

TEST_F(VirtqueueTest, InvalidConfigurationIsNotReady) {
  state_.size = 6;  // not a power of two
  EXPECT_FALSE(Make().ready());
  q_.Configure(state_);
  state_.desc_addr += 8;  // misaligned
  EXPECT_FALSE(Make().ready());
  q_.Configure(state_);
  state_.device_addr = guest_.end() - 8;  // used ring runs past RAM
  EXPECT_FALSE(Make().ready());
  q_.Configure(state_);
  state_.enabled = 0;
  EXPECT_FALSE(Make().ready());
  q_.Configure(state_);
  EXPECT_TRUE(Make().ready());
}

TEST_F(VirtqueueTest, ResumeRepublishesCommittedUsedIdx) {
  q_.AddChain({q_.Readable("a")});
  Virtqueue vq = Make();
  EXPECT_TRUE(CompleteAll(vq));
  // A process that died after the region store and before used->idx.
  guest_.Put<uint16_t>(q_.layout().UsedIdx(), 0);
  Virtqueue next = Make();
  ASSERT_TRUE(next.Resume());
  EXPECT_EQ(q_.used_idx(), 1);
}

TEST_F(VirtqueueTest, IndicesWrapAround) {
  state_.progress.store(PackProgress(0xfffe, 0xfffe));
  q_.SetAvailIdx(0xfffe);
  guest_.Put<uint16_t>(q_.layout().UsedIdx(), 0xfffe);
  for (int i = 0; i < 4; ++i) q_.AddChain({q_.Readable("w")});
  Virtqueue vq = Make();
  EXPECT_TRUE(CompleteAll(vq));
  EXPECT_EQ(q_.used_idx(), 2);
  EXPECT_EQ(state_.progress.load(), PackProgress(2, 2));
}

}  // namespace
}  // namespace bulkhead::virtio
