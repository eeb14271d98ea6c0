// SerialStateRegion: how SerialState lives in the state region so that a
// device process killed at any instruction loses nothing and applies nothing
// twice.
//
// The exit ring is at-least-once (ipc/exit_ring.h): a request whose handler
// died may be handed to the successor again. A UART access changes several
// fields (an RBR read pops the FIFO and may drop the interrupt line), so
// neither "apply again" (a received byte lost) nor "skip" (a half-applied
// state) is right. The region therefore keeps two slots. Every access:
//   1. Begin(): copy the committed slot into the other one (128 bytes);
//   2. run the Uart16550 on that copy;
//   3. Commit(seq, reply): record the request's seq and reply in the copy and
//      publish it with a single release store of `active`.
// A crash before 3 leaves the committed slot untouched; the successor applies
// the request once, as if for the first time. A crash after 3 leaves
// applied_seq == seq; the successor answers with the stored reply and does not
// apply it again. Effects that already left the process (an irqfd edge, bytes
// given to the sink) can repeat, and both are benign: a spurious edge costs
// one IIR read, a repeated byte is console output.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "devproc/serial/serial_state.h"

namespace bulkhead {

inline constexpr uint32_t kSerialRegionMagic = 0x52353531;  // "155R"

struct SerialSlot {
  uint64_t applied_seq;  // exit-ring seq of the last request applied (0: none yet)
  uint64_t reply;        // that request's reply (read value)
  SerialState state;
};
static_assert(sizeof(SerialSlot) == 144);

struct SerialStateRegion {
  uint32_t magic;
  uint32_t size;
  std::atomic<uint32_t> active;  // index of the committed slot; only bit 0 is used
  uint32_t reserved;
  SerialSlot slots[2];
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<SerialStateRegion>);
static_assert(sizeof(SerialStateRegion) == 16 + 2 * sizeof(SerialSlot));

// Formats a fresh region (done once, by whoever creates it).
void InitSerialStateRegion(SerialStateRegion& region);

// For a process attaching to an existing region: checks the header (a foreign
// header re-initializes the region), masks `active` and validates the committed
// slot's SerialState. Returns what ValidateSerialState() found.
[[nodiscard]] SerialStateRepair AttachSerialStateRegion(SerialStateRegion& region);

// The committed slot.
[[nodiscard]] const SerialSlot& CommittedSlot(const SerialStateRegion& region);

// If request `seq` was already applied by a previous process, its reply.
[[nodiscard]] std::optional<uint64_t> AlreadyApplied(const SerialStateRegion& region,
                                                     uint64_t seq);

// Copies the committed state into the scratch slot and returns it for the
// Uart16550 of this one request to work on.
[[nodiscard]] SerialState& BeginAccess(SerialStateRegion& region);

// Publishes the scratch slot as the committed one.
void CommitAccess(SerialStateRegion& region, uint64_t seq, uint64_t reply);

}  // namespace bulkhead
