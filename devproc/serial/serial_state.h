// SerialState: every bit of architectural state of one 16550A, laid out as a
// fixed 128-byte struct that lives in a state region (a memfd the core owns).
// The serial device process is only a worker over these bytes: when it dies,
// a fresh process maps the same region, runs ValidateSerialState() and carries
// on, so the guest never sees the UART reset.
//
// Rules that follow from living in shared memory:
// - plain integers only: no pointers, no std containers, no `bool` (a byte
//   holding 2 would make a `bool` load undefined behaviour), no padding the
//   compiler chooses (every reserved byte is spelled out);
// - no std::atomic: the struct must be trivially copyable so a process can
//   snapshot it, and nothing reads it concurrently: only the device process
//   touches it while it runs, the core only keeps it. Statistics reach the core
//   over the control plane, not by reading these counters racily;
// - every index is validated (or masked) before use, because the previous
//   owner of the region may have been a compromised process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace bulkhead {

inline constexpr uint32_t kSerialStateMagic = 0x30353531;  // "1550" in little-endian bytes
inline constexpr uint16_t kSerialStateVersion = 1;
inline constexpr uint8_t kSerialFifoCapacity = 16;  // 16550A: 16-byte RX and TX FIFOs

// A ring of up to 16 bytes. `head` is the index of the oldest byte, `count` how
// many are held. In 16450 mode (FIFOs disabled) the same ring holds at most
// one byte: the RBR or THR.
struct SerialFifo {
  uint8_t bytes[kSerialFifoCapacity];
  uint8_t head;
  uint8_t count;
  uint8_t reserved[2];
};
static_assert(sizeof(SerialFifo) == 20);

// Monotonic counters, for stats and for tests. A guest can drive all of these,
// so none of them is ever a reason to stop.
struct SerialCounters {
  uint64_t tx_bytes;         // bytes handed to the output sink
  uint64_t rx_bytes;         // bytes accepted from the input backend
  uint64_t rx_overruns;      // loopback bytes lost to a full RX FIFO (sets LSR.OE)
  uint64_t tx_dropped;       // THR writes while the TX FIFO was full (backend stalled)
  uint64_t bad_offsets;      // accesses at offsets >= 8: a core bus bug, never guest-reachable
  uint64_t readonly_writes;  // writes to LSR/MSR (factory-test registers on real parts)
  uint64_t interrupts;       // edges raised on the interrupt line
  uint64_t repairs;          // fields ValidateSerialState() had to fix
};
static_assert(sizeof(SerialCounters) == 64);

struct SerialState {
  // Header: a region with the wrong magic, version or size is not ours.
  uint32_t magic;
  uint16_t version;
  uint16_t size;

  // Programmer-visible registers. IIR, LSR.DR/THRE/TEMT and the MSR line bits
  // are not stored: they are functions of the rest, so they cannot disagree.
  uint8_t dll;
  uint8_t dlm;
  uint8_t ier;         // low nibble only
  uint8_t fcr;         // the kFcrStoredMask bits of the last FCR write
  uint8_t lcr;
  uint8_t mcr;         // low five bits only
  uint8_t lsr_errors;  // sticky LSR error bits (OE/PE/FE/BI), cleared by reading LSR
  uint8_t msr_deltas;  // MSR low nibble, cleared by reading MSR
  uint8_t scr;

  // THRE interrupt latch (0/1): set when the transmitter becomes empty or when
  // IER.ETBEI is switched on while it is empty; cleared by writing THR or by
  // reading IIR while it is the reported interrupt. It is separate from
  // LSR.THRE because Linux's UART_BUG_THRE probe depends on exactly this.
  uint8_t thre_pending;

  // Level of the UART's INTR output after the last access (0/1). The line is
  // signalled through an edge-triggered irqfd, so the model raises an edge
  // only when this goes 0 -> 1.
  uint8_t irq_level;
  uint8_t reserved0[5];

  SerialFifo rx;
  SerialFifo tx;
  SerialCounters counters;
};

static_assert(std::is_standard_layout_v<SerialState>);
static_assert(std::is_trivially_copyable_v<SerialState>);
static_assert(sizeof(SerialState) == 128, "SerialState layout is an ABI between processes");
static_assert(offsetof(SerialState, dll) == 8);
static_assert(offsetof(SerialState, rx) == 24);
static_assert(offsetof(SerialState, tx) == 44);
static_assert(offsetof(SerialState, counters) == 64);

// Puts the UART in its power-on state (datasheet reset values) with a valid header.
void ResetSerialState(SerialState& state);

// What ValidateSerialState() found and fixed.
struct SerialStateRepair {
  bool reinitialized = false;  // header was not ours: the whole state was reset
  uint32_t fields_fixed = 0;   // individual fields clamped or masked
  [[nodiscard]] bool clean() const { return !reinitialized && fields_fixed == 0; }
};

// Checks every field whose value the model relies on (header, FIFO indices and
// counts, reserved register bits, 0/1 latches) and repairs what is out of
// range, so that a region left by a crashed or compromised process can never
// cause undefined behaviour. Repairs are also added to counters.repairs.
[[nodiscard]] SerialStateRepair ValidateSerialState(SerialState& state);

// Capacity of the FIFOs in the current mode: 16 with FCR.enable, else 1.
[[nodiscard]] uint8_t SerialFifoCapacity(const SerialState& state);

}  // namespace bulkhead
