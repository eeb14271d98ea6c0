// The fixed, versioned layout of an exit ring in its memfd, shared by the
// producer (core vCPU thread) and the consumer (device process).
//
//   offset 0    Header        written once by the creator
//   offset 64   ProducerLine  written only by the producer
//   offset 128  ConsumerLine  written only by the consumer
//   offset 192  Slot[capacity]
//
// Every field is a lock-free std::atomic: each side may scribble on the
// memory at any time, so every read is one well-defined load whose value is
// validated before use, and no C++ data race exists even with a hostile peer.
// Indices are free-running uint64_t counters (never wrap in practice); a slot
// is index & (capacity - 1).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ipc/result.h"
#include "ipc/shared_memory.h"

namespace bulkhead::exit_ring_layout {

inline constexpr uint32_t kMagic = 0x52454842;  // "BHER" little-endian
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kMaxCapacity = 1u << 16;

struct alignas(64) Header {
  std::atomic<uint32_t> magic;
  std::atomic<uint32_t> version;
  std::atomic<uint32_t> capacity;   // power of two, 1..kMaxCapacity
  std::atomic<uint32_t> slot_size;  // sizeof(Slot), catches a layout mismatch
};

struct alignas(64) ProducerLine {
  std::atomic<uint64_t> head;               // requests published
  std::atomic<uint32_t> producer_sleeping;  // producer blocks on the done eventfd
};

struct alignas(64) ConsumerLine {
  std::atomic<uint64_t> tail;               // requests fully handled (reply written)
  std::atomic<uint32_t> consumer_sleeping;  // consumer blocks on the kick eventfd
};

// meta: bits 0-7 space, 8-15 size, bit 16 is_write; all other bits zero.
struct Slot {
  std::atomic<uint64_t> meta;
  std::atomic<uint64_t> addr;
  std::atomic<uint64_t> data;   // write data
  std::atomic<uint64_t> reply;  // read reply, written before tail advances
};

struct Control {
  Header header;
  ProducerLine producer;
  ConsumerLine consumer;
};

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics must be lock-free");
static_assert(sizeof(Control) == 192 && sizeof(Slot) == 32, "layout is part of the ABI");

inline constexpr uint64_t kMetaSpaceShift = 0;
inline constexpr uint64_t kMetaSizeShift = 8;
inline constexpr uint64_t kMetaWriteBit = uint64_t{1} << 16;
inline constexpr uint64_t kMetaKnownBits = 0x1ffff;

// Bytes the memfd needs for `capacity` slots, rounded up to a page.
[[nodiscard]] uint64_t RingBytes(uint32_t capacity);

// A validated view of a mapped ring. Both sides keep their own copy of the
// geometry and never re-read the header afterwards.
struct View {
  Control* control = nullptr;
  Slot* slots = nullptr;
  uint32_t capacity = 0;
};

// Writes a fresh header into a zeroed mapping (creator side).
[[nodiscard]] Result<View> Initialize(const Mapping& mapping, uint32_t capacity);
// Checks magic, version, capacity, slot size and mapping size (attach side).
[[nodiscard]] Result<View> Validate(const Mapping& mapping);

}  // namespace bulkhead::exit_ring_layout
