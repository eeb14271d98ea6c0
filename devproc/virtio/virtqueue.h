// Virtqueue: the device side of one split virtqueue, over its VirtqueueState
// in the state region and the guest's rings in GuestMemory.
//
// A Virtqueue is a short-lived view: a device builds one for each pass over a
// queue (a kick, a received frame), so no copy of guest- or region-held state
// outlives the pass and a device reset leaves nothing stale behind. Within a
// pass:
//   Pop()      walks the next available chain (does not commit anything);
//   Rewind()   gives popped chains back (a frame that did not fit);
//   AddUsed()  writes a used-ring element for a popped chain;
//   Publish()  commits progress in the region (one atomic store), then the
//              used index in guest memory, and says whether to interrupt
//              the driver (VIRTQ_AVAIL_F_NO_INTERRUPT or used_event);
//   EnableNotifications() before the device sleeps on the queue: clears
//              VIRTQ_USED_F_NO_NOTIFY or writes avail_event, then re-checks
//              the avail index (a chain added meanwhile must not be missed).
// Any error from these is a malformed queue: the caller calls MarkBroken().
#pragma once

#include <cstdint>
#include <optional>

#include "devproc/common/guest_memory.h"
#include "devproc/virtio/descriptor_chain.h"
#include "devproc/virtio/virtio_spec.h"
#include "devproc/virtio/virtqueue_state.h"
#include "ipc/result.h"

namespace bulkhead::virtio {

// Checks a queue's driver-programmed configuration: size a power of two in
// [1, max_size], areas aligned as the spec requires (16/2/4) and in RAM.
[[nodiscard]] Status ValidateQueueConfig(const GuestMemory& mem, const VirtqueueState& q,
                                         uint16_t max_size);

class Virtqueue {
 public:
  // `features`: the negotiated features (EVENT_IDX, INDIRECT_DESC matter).
  Virtqueue(VirtqueueState& state, const GuestMemory& mem, uint64_t features, uint16_t max_size,
            uint64_t max_chain_bytes);

  // Enabled, configured validly and not broken.
  [[nodiscard]] bool ready() const noexcept { return ready_; }
  [[nodiscard]] uint16_t size() const noexcept { return ring_.size; }

  // The next available chain, or nullopt when the driver has made none
  // available. An error means the queue is malformed.
  [[nodiscard]] Result<std::optional<uint16_t>> PopInto(DescriptorChain& chain);
  // Chains available and not yet popped (0 on error).
  [[nodiscard]] Result<uint16_t> Pending();
  // Un-pops the last `n` popped chains.
  void Rewind(uint16_t n) { next_avail_ = static_cast<uint16_t>(next_avail_ - n); }
  [[nodiscard]] uint16_t popped() const noexcept {
    return static_cast<uint16_t>(next_avail_ - committed_avail_);
  }

  [[nodiscard]] Status AddUsed(uint16_t head, uint32_t len);
  // Commits popped chains and used elements; returns whether to notify.
  [[nodiscard]] Result<bool> Publish();

  // Returns true if chains arrived meanwhile (do not sleep).
  [[nodiscard]] Result<bool> EnableNotifications();
  // While the device is busy with the queue anyway: asks the driver not to
  // kick (VIRTQ_USED_F_NO_NOTIFY; with EVENT_IDX a stale avail_event does it).
  [[nodiscard]] Status DisableNotifications();

  // Stops the queue until reset; counts it. Returns true the first time (log then).
  bool MarkBroken();

  // After a restart: makes used->idx match the committed progress (the
  // previous process may have died between the two stores of Publish).
  [[nodiscard]] Status Resume();

 private:
  VirtqueueState& state_;
  const GuestMemory& mem_;
  RingLayout ring_{};
  WalkLimits limits_{};
  bool event_idx_ = false;
  bool ready_ = false;
  uint16_t committed_avail_ = 0;
  uint16_t next_avail_ = 0;
  uint16_t committed_used_ = 0;
  uint16_t next_used_ = 0;
};

}  // namespace bulkhead::virtio
