// Uart16550: a 16550A UART as a pure state machine (the vm-superio approach).
// All state is in a SerialState the caller owns (in the shared state region);
// the only effects, raising the interrupt line and emitting output bytes, go
// through two small interfaces. No threads, no timers, no syscalls: the model is
// unit-tested and fuzzed on the host, and any number of Uart16550 objects can
// be put over the same bytes one after the other (that is how a restarted
// device process resumes).
//
// Two modelling choices that a reader should know:
// - Transmission is instantaneous: a byte written to THR goes to the output
//   sink in the same call. If the sink is full, bytes wait in the TX FIFO (THRE
//   stays clear, so the guest driver waits for the THRE interrupt) until
//   DrainTx(): output flow control without dropping console output.
// - The RX character timeout is modelled without a timer: a non-empty RX FIFO
//   holding fewer bytes than the trigger level reports "timeout" (IIR 0xCC)
//   right away. A guest cannot tell the difference from a fast timeout, and the
//   8250 driver treats both identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "devproc/serial/serial_state.h"

namespace bulkhead {

// The UART's INTR output. On the PC it is ISA IRQ 4, which the IOAPIC takes as
// EDGE-triggered; the device signals it with an irqfd write. Trigger() is
// called exactly when the UART's interrupt output goes from inactive to active.
class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  virtual void Trigger() = 0;
};

// Where transmitted bytes go (the console backend).
class SerialOutput {
 public:
  virtual ~SerialOutput() = default;
  // Takes as many leading bytes of `bytes` as it can without blocking and
  // returns how many. Fewer than bytes.size() means "full, call DrainTx() later".
  virtual size_t Write(std::span<const uint8_t> bytes) = 0;
};

class Uart16550 {
 public:
  // `state` must have passed ValidateSerialState() (or ResetSerialState()).
  // The model additionally masks every index it reads, so even an unvalidated
  // state cannot make it access memory out of bounds.
  Uart16550(SerialState& state, InterruptLine& irq, SerialOutput& out)
      : s_(state), irq_(irq), out_(out) {}
  Uart16550(const Uart16550&) = delete;
  Uart16550& operator=(const Uart16550&) = delete;

  // Guest register access at `offset` from the port base. Offsets >= 8 are
  // counted in counters.bad_offsets and read as 0xFF (an undriven bus).
  [[nodiscard]] uint8_t Read(uint8_t offset);
  void Write(uint8_t offset, uint8_t value);

  // Host input: moves as many leading bytes as the RX FIFO has room for and
  // returns how many; the rest stays in the caller's buffer (flow control, no
  // loss). Takes nothing in loopback mode, where the receiver is disconnected
  // from the line.
  [[nodiscard]] size_t EnqueueInput(std::span<const uint8_t> bytes);
  [[nodiscard]] bool RxFifoHasRoom() const;

  // Retries handing the TX FIFO to the sink (after the backend became writable).
  void DrainTx();
  [[nodiscard]] bool TxPending() const { return s_.tx.count != 0; }

  // To be called once by a process that has just attached to an existing state
  // region: if an interrupt is pending, raise an edge even if irq_level says it
  // was raised already. The previous process may have died between deciding to
  // raise it and the irqfd write; a spurious edge costs the guest one IIR read,
  // a lost one stalls its serial port forever.
  void Resume();

  // The value IIR would read now, without IIR's read side effect.
  [[nodiscard]] uint8_t PeekIir() const;

  [[nodiscard]] const SerialState& state() const { return s_; }

 private:
  bool Dlab() const;
  bool Loopback() const;
  uint8_t Lsr() const;
  uint8_t Msr() const;
  uint8_t RxTriggerLevel() const;

  uint8_t ReadRbr();
  void WriteThr(uint8_t value);
  void WriteIer(uint8_t value);
  void WriteFcr(uint8_t value);
  void WriteMcr(uint8_t value);
  void PushRx(uint8_t byte);
  void DrainTxInternal();

  // Recomputes the INTR level and raises an edge on a 0 -> 1 transition. Called
  // once at the end of every public operation, never in the middle, so that a
  // THR write (which clears and re-sets THRE in one access) yields one edge.
  void UpdateInterrupt();

  SerialState& s_;
  InterruptLine& irq_;
  SerialOutput& out_;
};

}  // namespace bulkhead
