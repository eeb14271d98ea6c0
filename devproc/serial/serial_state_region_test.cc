// The two-slot commit protocol: a device process that dies mid-access leaves
// the committed state untouched, one that dies after committing is not
// applied twice.
#include "devproc/serial/serial_state_region.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "devproc/serial/uart16550.h"
#include "devproc/serial/uart_test_util.h"

namespace bulkhead {
namespace {

using namespace uart;
using testing::CountingIrq;
using testing::RecordingOutput;

// One device process: serves a read at `offset` with sequence number `seq`,
// optionally dying before the commit.
struct Device {
  SerialStateRegion& region;
  CountingIrq irq = {};
  RecordingOutput out = {};

  uint8_t ServeRead(uint64_t seq, uint8_t offset, bool die_before_commit = false) {
    if (auto reply = AlreadyApplied(region, seq)) return static_cast<uint8_t>(*reply);
    SerialState& s = BeginAccess(region);
    Uart16550 uart(s, irq, out);
    const uint8_t value = uart.Read(offset);
    if (!die_before_commit) CommitAccess(region, seq, value);
    return value;
  }
  void ServeWrite(uint64_t seq, uint8_t offset, uint8_t value) {
    if (AlreadyApplied(region, seq)) return;
    SerialState& s = BeginAccess(region);
    Uart16550 uart(s, irq, out);
    uart.Write(offset, value);
    CommitAccess(region, seq, 0);
  }
  size_t Input(const char* text) {
    SerialState& s = BeginAccess(region);
    Uart16550 uart(s, irq, out);
    const size_t n = uart.EnqueueInput(
        std::span(reinterpret_cast<const uint8_t*>(text), std::strlen(text)));
    // Input is not a ring request: commit under the last applied seq.
    CommitAccess(region, CommittedSlot(region).applied_seq, CommittedSlot(region).reply);
    return n;
  }
};

TEST(SerialStateRegion, CrashBeforeCommitLosesNoByte) {
  auto region = std::make_unique<SerialStateRegion>();
  InitSerialStateRegion(*region);
  Device first{*region};
  first.ServeWrite(1, kIirFcr, kFcrEnable);
  EXPECT_EQ(first.Input("AB"), 2u);
  // The first process pops 'A' for request 2 and dies before committing.
  EXPECT_EQ(first.ServeRead(2, kRbrThr, /*die_before_commit=*/true), 'A');

  Device second{*region};
  EXPECT_TRUE(AttachSerialStateRegion(*region).clean());
  EXPECT_EQ(second.ServeRead(2, kRbrThr), 'A') << "the replayed read gets the same byte";
  EXPECT_EQ(second.ServeRead(3, kRbrThr), 'B');
}

TEST(SerialStateRegion, CrashAfterCommitIsNotAppliedTwice) {
  auto region = std::make_unique<SerialStateRegion>();
  InitSerialStateRegion(*region);
  Device first{*region};
  first.ServeWrite(1, kIirFcr, kFcrEnable);
  EXPECT_EQ(first.Input("AB"), 2u);
  EXPECT_EQ(first.ServeRead(2, kRbrThr), 'A');  // committed; died before Complete()

  Device second{*region};
  EXPECT_TRUE(AttachSerialStateRegion(*region).clean());
  EXPECT_EQ(second.ServeRead(2, kRbrThr), 'A') << "stored reply, FIFO not popped again";
  EXPECT_EQ(second.ServeRead(3, kRbrThr), 'B');
  second.ServeWrite(3, kRbrThr, 'x');  // a stale replay of an applied seq is ignored
  EXPECT_TRUE(second.out.str().empty());
}

TEST(SerialStateRegion, GarbageRegionIsReinitializedOrRepaired) {
  auto region = std::make_unique<SerialStateRegion>();
  std::memset(static_cast<void*>(region.get()), 0x5A, sizeof(SerialStateRegion));
  EXPECT_TRUE(AttachSerialStateRegion(*region).reinitialized);
  EXPECT_EQ(CommittedSlot(*region).state.magic, kSerialStateMagic);

  region->active.store(7);
  region->slots[1].state.rx.head = 99;
  const SerialStateRepair r = AttachSerialStateRegion(*region);
  EXPECT_FALSE(r.reinitialized);
  EXPECT_EQ(r.fields_fixed, 2u);
  EXPECT_EQ(region->active.load(), 1u);
  EXPECT_EQ(CommittedSlot(*region).state.rx.head, 0);
}

}  // namespace
}  // namespace bulkhead
