// VirtqueueState: everything about one split virtqueue that must outlive the
// device process, as a fixed-layout struct in the device's state region.
//
// Configuration (written through the transport's common-cfg registers) and
// progress (how far the device has consumed the avail ring and filled the
// used ring) are plain integers. Progress is ONE 32-bit atomic holding both
// indices, so a process killed at any instruction leaves them consistent:
// a chain counts as handled exactly when the store that moves both indices
// lands. The device writes used-ring entries before that store and publishes
// the guest-visible used->idx after it; a successor republishes used->idx
// from the region (Virtqueue::Resume), so a death between the two stores
// costs a late interrupt, never a lost or duplicated completion.
//
// Nothing here is trusted on attach: a successor validates the configuration
// (Virtqueue checks it on every use) and treats any 16-bit index as possible.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace bulkhead::virtio {

struct VirtqueueState {
  // Driver-programmed configuration (common cfg registers).
  uint16_t size;         // queue_size; the device's maximum until the driver writes it
  uint16_t enabled;      // queue_enable
  uint16_t msix_vector;  // queue_msix_vector (kNoVector: INTx / ISR)
  uint16_t reserved0;
  uint64_t desc_addr;    // queue_desc
  uint64_t driver_addr;  // queue_driver (avail ring)
  uint64_t device_addr;  // queue_device (used ring)

  // Progress: last_avail_idx in bits 0-15, used idx in bits 16-31.
  std::atomic<uint32_t> progress;
  // Non-zero once the queue met a malformed chain or configuration: the
  // device stops serving it until the driver resets the device.
  std::atomic<uint32_t> broken;
  uint64_t broken_events;  // how many times any reset-to-reset period broke it
  uint64_t chains;         // chains completed (statistics)
};
static_assert(std::is_standard_layout_v<VirtqueueState>);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(VirtqueueState) == 56);

[[nodiscard]] constexpr uint32_t PackProgress(uint16_t last_avail, uint16_t used) {
  return uint32_t{last_avail} | (uint32_t{used} << 16);
}
[[nodiscard]] constexpr uint16_t LastAvailOf(uint32_t progress) {
  return static_cast<uint16_t>(progress & 0xffff);
}
[[nodiscard]] constexpr uint16_t UsedOf(uint32_t progress) {
  return static_cast<uint16_t>(progress >> 16);
}

// Power-on / reset state of a queue whose device supports `max_size`.
void ResetVirtqueueState(VirtqueueState& q, uint16_t max_size);

}  // namespace bulkhead::virtio
