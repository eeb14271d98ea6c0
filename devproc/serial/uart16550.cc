#include "devproc/serial/uart16550.h"

#include <algorithm>

#include "devproc/serial/uart_regs.h"

namespace bulkhead {

using namespace uart;  // register names; this file is the UART

namespace {

// FIFO helpers. Every index is reduced modulo the capacity and every count
// clamped, so a corrupted (unvalidated) state still cannot index out of bounds.
uint8_t FifoCount(const SerialFifo& f) { return std::min(f.count, kSerialFifoCapacity); }

uint8_t FifoHead(const SerialFifo& f) { return f.head % kSerialFifoCapacity; }

void FifoClear(SerialFifo& f) {
  f.head = 0;
  f.count = 0;
}

// Caller checked there is room.
void FifoPush(SerialFifo& f, uint8_t byte) {
  const uint8_t count = FifoCount(f);
  f.bytes[(FifoHead(f) + count) % kSerialFifoCapacity] = byte;
  f.count = static_cast<uint8_t>(count + 1);
}

uint8_t FifoPop(SerialFifo& f) {
  const uint8_t head = FifoHead(f);
  const uint8_t byte = f.bytes[head];
  f.head = static_cast<uint8_t>((head + 1) % kSerialFifoCapacity);
  f.count = static_cast<uint8_t>(FifoCount(f) - 1);
  return byte;
}

// Modem line state (MSR high nibble) for a given MCR. Outside loopback the
// port behaves as if a terminal were attached and ready: DCD, DSR and CTS
// asserted, RI idle. In loopback the datasheet wires MCR outputs back to the
// MSR inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
uint8_t ModemLines(uint8_t mcr) {
  if ((mcr & kMcrLoop) == 0) return kMsrDcd | kMsrDsr | kMsrCts;
  uint8_t lines = 0;
  if (mcr & kMcrRts) lines |= kMsrCts;
  if (mcr & kMcrDtr) lines |= kMsrDsr;
  if (mcr & kMcrOut1) lines |= kMsrRi;
  if (mcr & kMcrOut2) lines |= kMsrDcd;
  return lines;
}

}  // namespace

bool Uart16550::Dlab() const { return (s_.lcr & kLcrDlab) != 0; }

bool Uart16550::Loopback() const { return (s_.mcr & kMcrLoop) != 0; }

uint8_t Uart16550::RxTriggerLevel() const {
  static constexpr uint8_t kLevels[4] = {1, 4, 8, 14};
  return kLevels[(s_.fcr & kFcrTriggerMask) >> 6];
}

uint8_t Uart16550::Lsr() const {
  uint8_t lsr = s_.lsr_errors & kLsrErrorBits;
  if (FifoCount(s_.rx) != 0) lsr |= kLsrDr;
  // No shift register is modelled (bytes leave instantly), so the transmitter
  // is completely empty exactly when the holding register/FIFO is.
  if (FifoCount(s_.tx) == 0) lsr |= kLsrThre | kLsrTemt;
  // Bit 7: "error in RX FIFO"; only parity/framing/break count, never overrun.
  if ((s_.fcr & kFcrEnable) && (s_.lsr_errors & (kLsrPe | kLsrFe | kLsrBi))) lsr |= kLsrFifoError;
  return lsr;
}

uint8_t Uart16550::Msr() const {
  return static_cast<uint8_t>(ModemLines(s_.mcr) | (s_.msr_deltas & kMsrDeltaMask));
}

uint8_t Uart16550::PeekIir() const {
  const uint8_t fifo_bits = (s_.fcr & kFcrEnable) ? kIirFifoEnabled : 0;
  const uint8_t ier = s_.ier;
  const uint8_t rx = FifoCount(s_.rx);
  uint8_t id = kIirNoInt;
  // Fixed 16550 priority: line status > RX data/timeout > THRE > modem status.
  if ((ier & kIerRlsi) && (s_.lsr_errors & kLsrErrorBits)) {
    id = kIirRlsi;
  } else if ((ier & kIerRdi) && rx != 0) {
    const bool fifo = (s_.fcr & kFcrEnable) != 0;
    id = (!fifo || rx >= RxTriggerLevel()) ? kIirRdi : kIirRxTimeout;
  } else if ((ier & kIerThri) && s_.thre_pending != 0) {
    id = kIirThri;
  } else if ((ier & kIerMsi) && (s_.msr_deltas & kMsrDeltaMask)) {
    id = kIirMsi;
  }
  return static_cast<uint8_t>(fifo_bits | id);
}

uint8_t Uart16550::Read(uint8_t offset) {
  uint8_t value = 0;
  switch (offset) {
    case kRbrThr:
      value = Dlab() ? s_.dll : ReadRbr();
      break;
    case kIer:
      value = Dlab() ? s_.dlm : static_cast<uint8_t>(s_.ier & kIerMask);
      break;
    case kIirFcr:
      // Readable in every LCR mode: Linux's EFR probes (LCR=0x80 and 0xBF)
      // must read a non-zero IIR here to conclude "no EFR, plain 16550A".
      value = PeekIir();
      if ((value & kIirIdMask) == kIirThri) s_.thre_pending = 0;
      break;
    case kLcr:
      value = s_.lcr;
      break;
    case kMcr:
      value = static_cast<uint8_t>(s_.mcr & kMcrMask);
      break;
    case kLsr:
      value = Lsr();
      s_.lsr_errors = 0;  // reading LSR clears the error bits (and so the RLS interrupt)
      break;
    case kMsr:
      value = Msr();
      s_.msr_deltas = 0;
      break;
    case kScr:
      value = s_.scr;
      break;
    default:
      ++s_.counters.bad_offsets;
      return 0xFF;
  }
  UpdateInterrupt();
  return value;
}

void Uart16550::Write(uint8_t offset, uint8_t value) {
  switch (offset) {
    case kRbrThr:
      if (Dlab()) {
        s_.dll = value;
      } else {
        WriteThr(value);
      }
      break;
    case kIer:
      if (Dlab()) {
        s_.dlm = value;
      } else {
        WriteIer(value);
      }
      break;
    case kIirFcr:
      // FCR is written in every LCR mode, DLAB or not: on a real 16550A the
      // "EFR" writes Linux makes with LCR=0xBF land here too.
      WriteFcr(value);
      break;
    case kLcr:
      s_.lcr = value;
      break;
    case kMcr:
      WriteMcr(value);
      break;
    case kLsr:
    case kMsr:
      ++s_.counters.readonly_writes;  // factory-test registers: ignore
      break;
    case kScr:
      s_.scr = value;
      break;
    default:
      ++s_.counters.bad_offsets;
      return;
  }
  UpdateInterrupt();
}

uint8_t Uart16550::ReadRbr() {
  // An empty RBR reads 0; the driver only reads it when LSR.DR says so, or to
  // flush, and then it discards the value.
  if (FifoCount(s_.rx) == 0) return 0;
  return FifoPop(s_.rx);
}

void Uart16550::PushRx(uint8_t byte) {
  if (FifoCount(s_.rx) >= SerialFifoCapacity(s_)) {
    // 16550: the character in the receive shift register is lost, the FIFO
    // keeps its contents, LSR.OE is set.
    s_.lsr_errors |= kLsrOe;
    ++s_.counters.rx_overruns;
    return;
  }
  FifoPush(s_.rx, byte);
}

void Uart16550::WriteThr(uint8_t value) {
  s_.thre_pending = 0;  // writing THR clears the THRE interrupt
  if (Loopback()) {
    // Transmitter output is wired to the receiver input; nothing reaches the
    // line (Linux's size_fifo() counts the FIFO this way: it must find 16).
    PushRx(value);
    s_.thre_pending = 1;  // the byte has "left": THR is empty again
    return;
  }
  if (FifoCount(s_.tx) >= SerialFifoCapacity(s_)) {
    // The driver wrote without waiting for THRE while the backend is stalled:
    // a real UART would overwrite, we drop the newest byte and count it.
    ++s_.counters.tx_dropped;
  } else {
    FifoPush(s_.tx, value);
  }
  DrainTxInternal();
}

void Uart16550::DrainTxInternal() {
  const bool had_bytes = FifoCount(s_.tx) != 0;
  while (FifoCount(s_.tx) != 0) {
    // Hand over the contiguous run starting at head (at most two runs).
    const uint8_t head = FifoHead(s_.tx);
    const uint8_t run = std::min<uint8_t>(FifoCount(s_.tx),
                                          static_cast<uint8_t>(kSerialFifoCapacity - head));
    const size_t taken = std::min<size_t>(out_.Write(std::span(&s_.tx.bytes[head], run)), run);
    // A crash between the sink write and this update re-sends up to `run`
    // bytes after restart: console output is at-least-once.
    s_.tx.head = static_cast<uint8_t>((head + taken) % kSerialFifoCapacity);
    s_.tx.count = static_cast<uint8_t>(FifoCount(s_.tx) - taken);
    s_.counters.tx_bytes += taken;
    if (taken < run) break;  // sink full: keep the rest, THRE stays clear
  }
  if (had_bytes && FifoCount(s_.tx) == 0) s_.thre_pending = 1;
}

void Uart16550::WriteIer(uint8_t value) {
  const uint8_t old = s_.ier;
  s_.ier = value & kIerMask;
  if ((old ^ s_.ier) & kIerThri) {
    // Enabling ETBEI while the transmitter is empty raises THRE right away;
    // disabling it drops a latched one. Linux's startup test (UART_BUG_THRE)
    // toggles ETBEI 1 -> 0 -> 1 and expects THRE to be reported both times.
    s_.thre_pending = ((s_.ier & kIerThri) && FifoCount(s_.tx) == 0) ? 1 : 0;
  }
}

void Uart16550::WriteFcr(uint8_t value) {
  const bool was_enabled = (s_.fcr & kFcrEnable) != 0;
  const bool enable = (value & kFcrEnable) != 0;
  if (was_enabled != enable) {
    // Switching between 16450 and FIFO mode resets both FIFOs.
    FifoClear(s_.rx);
    FifoClear(s_.tx);
  }
  if (!enable) {
    // FCR0 must be set for the other bits to be programmed (datasheet).
    s_.fcr = 0;
    return;
  }
  s_.fcr = value & kFcrStoredMask;
  if (value & kFcrClearRx) FifoClear(s_.rx);
  if ((value & kFcrClearTx) && FifoCount(s_.tx) != 0) {
    FifoClear(s_.tx);
    s_.thre_pending = 1;  // the transmitter just became empty
  }
}

void Uart16550::WriteMcr(uint8_t value) {
  const uint8_t before = ModemLines(s_.mcr);
  s_.mcr = value & kMcrMask;
  const uint8_t after = ModemLines(s_.mcr);
  const uint8_t changed = before ^ after;
  uint8_t deltas = 0;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  if ((before & kMsrRi) && !(after & kMsrRi)) deltas |= kMsrTeri;  // trailing edge only
  s_.msr_deltas |= deltas;
}

size_t Uart16550::EnqueueInput(std::span<const uint8_t> bytes) {
  if (Loopback()) return 0;
  const uint8_t room = static_cast<uint8_t>(SerialFifoCapacity(s_) -
                                            std::min(FifoCount(s_.rx), SerialFifoCapacity(s_)));
  const size_t n = std::min<size_t>(room, bytes.size());
  for (size_t i = 0; i < n; ++i) FifoPush(s_.rx, bytes[i]);
  s_.counters.rx_bytes += n;
  if (n != 0) UpdateInterrupt();
  return n;
}

bool Uart16550::RxFifoHasRoom() const {
  return !Loopback() && FifoCount(s_.rx) < SerialFifoCapacity(s_);
}

void Uart16550::DrainTx() {
  DrainTxInternal();
  UpdateInterrupt();
}

void Uart16550::UpdateInterrupt() {
  const uint8_t level = (PeekIir() & kIirNoInt) == 0 ? 1 : 0;
  if (level != 0 && s_.irq_level == 0) {
    // Trigger first, record second: a crash in between costs a duplicate
    // edge after restart (harmless), never a lost one.
    irq_.Trigger();
    ++s_.counters.interrupts;
  }
  s_.irq_level = level;
}

void Uart16550::Resume() {
  s_.irq_level = 0;
  UpdateInterrupt();
}

}  // namespace bulkhead
