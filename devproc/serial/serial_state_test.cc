// ValidateSerialState(): a region left by a crashed or compromised process is
// repaired, never trusted, and the model runs correctly over the result.
#include "devproc/serial/serial_state.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "devproc/serial/uart_test_util.h"

namespace bulkhead {
namespace {

using namespace uart;
using testing::UartHarness;

TEST(SerialState, ResetStateIsClean) {
  SerialState s;
  std::memset(&s, 0xAB, sizeof(s));
  ResetSerialState(s);
  EXPECT_EQ(s.magic, kSerialStateMagic);
  EXPECT_EQ(s.size, sizeof(SerialState));
  const SerialStateRepair r = ValidateSerialState(s);
  EXPECT_TRUE(r.clean());
  EXPECT_EQ(s.counters.repairs, 0u);
}

TEST(SerialState, ForeignHeaderReinitializes) {
  for (int field = 0; field < 3; ++field) {
    UartHarness h;
    h.Out(kScr, 0x77);
    if (field == 0) h.state.magic ^= 1;
    if (field == 1) h.state.version = 99;
    if (field == 2) h.state.size = 64;
    const SerialStateRepair r = ValidateSerialState(h.state);
    EXPECT_TRUE(r.reinitialized) << field;
    EXPECT_EQ(h.In(kScr), 0) << "state was reset";
    EXPECT_EQ(h.state.counters.repairs, 1u);
  }
}

TEST(SerialState, CorruptIndicesAreRepairedAndTheModelWorks) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kIer, 0xF0);
  h.state.rx.head = 200;
  h.state.rx.count = 3;
  h.state.tx.head = 5;
  h.state.tx.count = 255;
  h.state.ier = 0xFF;
  h.state.mcr = 0xE0;
  h.state.thre_pending = 7;
  h.state.irq_level = 9;
  h.state.lsr_errors = 0xFF;
  h.state.reserved0[2] = 1;
  const SerialStateRepair r = ValidateSerialState(h.state);
  EXPECT_FALSE(r.reinitialized);
  EXPECT_EQ(r.fields_fixed, 8u);
  EXPECT_EQ(h.state.counters.repairs, 8u);
  EXPECT_EQ(h.state.rx.head, 0);
  EXPECT_EQ(h.state.rx.count, 0);
  EXPECT_EQ(h.state.tx.head, 5);
  EXPECT_EQ(h.state.tx.count, kSerialFifoCapacity);
  EXPECT_EQ(h.state.ier, kIerMask);
  EXPECT_EQ(h.state.thre_pending, 1);
  EXPECT_EQ(h.state.irq_level, 0);
  EXPECT_TRUE(ValidateSerialState(h.state).clean()) << "repair is idempotent";

  // The model serves the repaired state normally.
  h.uart.DrainTx();
  EXPECT_EQ(h.out.str().size(), kSerialFifoCapacity);
  EXPECT_EQ(h.Input("ok"), 2u);
  (void)h.In(kLsr);
  EXPECT_EQ(h.In(kRbrThr), 'o');
  EXPECT_EQ(h.In(kRbrThr), 'k');
}

TEST(SerialState, FifoCountClampedToCapacityInNonFifoMode) {
  UartHarness h;
  h.state.rx.count = 4;  // FIFOs are off: RBR holds one byte at most
  const SerialStateRepair r = ValidateSerialState(h.state);
  EXPECT_EQ(r.fields_fixed, 1u);
  EXPECT_EQ(h.state.rx.count, 1);
}

// Random bytes with a valid header: after validation every invariant the model
// relies on holds, and a burst of accesses (under ASan/UBSan in the sanitizer
// configuration) stays in bounds.
TEST(SerialState, RandomRegionsValidateToInvariants) {
  std::mt19937 rng(1550);
  for (int iter = 0; iter < 2000; ++iter) {
    UartHarness h;
    auto* raw = reinterpret_cast<uint8_t*>(&h.state);
    for (size_t i = 8; i < sizeof(SerialState); ++i) raw[i] = static_cast<uint8_t>(rng());
    (void)ValidateSerialState(h.state);
    const uint8_t cap = SerialFifoCapacity(h.state);
    ASSERT_LT(h.state.rx.head, kSerialFifoCapacity);
    ASSERT_LE(h.state.rx.count, cap);
    ASSERT_LT(h.state.tx.head, kSerialFifoCapacity);
    ASSERT_LE(h.state.tx.count, cap);
    ASSERT_LE(h.state.thre_pending, 1);
    ASSERT_LE(h.state.irq_level, 1);
    ASSERT_TRUE(ValidateSerialState(h.state).clean());
    for (int a = 0; a < 32; ++a) {
      const auto off = static_cast<uint8_t>(rng() % 8);
      if (rng() & 1) {
        h.Out(off, static_cast<uint8_t>(rng()));
      } else {
        (void)h.In(off);
      }
    }
    ASSERT_TRUE(ValidateSerialState(h.state).clean()) << "the model keeps the invariants";
  }
}

}  // namespace
}  // namespace bulkhead
