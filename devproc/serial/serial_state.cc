#include "devproc/serial/serial_state.h"

#include <cstring>

#include "devproc/serial/uart_regs.h"

namespace bulkhead {

void ResetSerialState(SerialState& state) {
  std::memset(&state, 0, sizeof(state));
  state.magic = kSerialStateMagic;
  state.version = kSerialStateVersion;
  state.size = sizeof(SerialState);
  // The datasheet leaves the divisor undefined at reset; 12 (9600 baud from the
  // PC's 1.8432 MHz clock) is what firmware conventionally finds there.
  state.dll = 12;
  // Everything else resets to zero: IER=0, FIFOs off, LCR=0, MCR=0, no errors,
  // no deltas, no THRE interrupt latched (it needs an event to latch), line low.
}

uint8_t SerialFifoCapacity(const SerialState& state) {
  return (state.fcr & uart::kFcrEnable) != 0 ? kSerialFifoCapacity : 1;
}

namespace {

// Replaces `field` by `fixed` and counts it when they differ.
template <class T>
void Fix(T& field, T fixed, SerialStateRepair& repair) {
  if (field != fixed) {
    field = fixed;
    ++repair.fields_fixed;
  }
}

void ValidateFifo(SerialFifo& fifo, uint8_t capacity, SerialStateRepair& repair) {
  // An out-of-range head makes the content meaningless: start the ring over
  // rather than guess which bytes were valid.
  if (fifo.head >= kSerialFifoCapacity) {
    fifo.head = 0;
    fifo.count = 0;
    ++repair.fields_fixed;
  }
  if (fifo.count > capacity) Fix(fifo.count, capacity, repair);
  for (uint8_t& b : fifo.reserved) Fix(b, uint8_t{0}, repair);
}

}  // namespace

SerialStateRepair ValidateSerialState(SerialState& state) {
  SerialStateRepair repair;
  if (state.magic != kSerialStateMagic || state.version != kSerialStateVersion ||
      state.size != sizeof(SerialState)) {
    // Not a region we wrote (or from an incompatible build): the only safe
    // state is a freshly reset UART. The guest sees a reset serial port, which
    // Linux's 8250 driver survives (it reprograms the port on every open).
    ResetSerialState(state);
    repair.reinitialized = true;
    state.counters.repairs = 1;
    return repair;
  }

  Fix(state.ier, static_cast<uint8_t>(state.ier & uart::kIerMask), repair);
  Fix(state.fcr, static_cast<uint8_t>(state.fcr & uart::kFcrStoredMask), repair);
  Fix(state.mcr, static_cast<uint8_t>(state.mcr & uart::kMcrMask), repair);
  Fix(state.lsr_errors, static_cast<uint8_t>(state.lsr_errors & uart::kLsrErrorBits), repair);
  Fix(state.msr_deltas, static_cast<uint8_t>(state.msr_deltas & uart::kMsrDeltaMask), repair);
  // A garbled THRE latch becomes "pending": a spurious THRE interrupt is
  // harmless to a driver, a lost one stalls its output for good.
  if (state.thre_pending > 1) Fix(state.thre_pending, uint8_t{1}, repair);
  // A garbled line level becomes "low" so the next update raises a fresh edge,
  // for the same reason.
  if (state.irq_level > 1) Fix(state.irq_level, uint8_t{0}, repair);
  for (uint8_t& b : state.reserved0) Fix(b, uint8_t{0}, repair);

  const uint8_t capacity = SerialFifoCapacity(state);
  ValidateFifo(state.rx, capacity, repair);
  ValidateFifo(state.tx, capacity, repair);

  state.counters.repairs += repair.fields_fixed;
  return repair;
}

}  // namespace bulkhead
