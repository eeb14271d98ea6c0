// Constants of the virtio 1.x specification that every device shares: feature
// bits, device status bits, split-virtqueue descriptor and ring flags, and the
// guest-memory layout of a split virtqueue. Named as in the specification (and
// Linux's uapi headers) so a reader can grep both.
#pragma once

#include <cstdint>

namespace bulkhead::virtio {

// Device-independent feature bits.
inline constexpr unsigned kFIndirectDesc = 28;  // VIRTIO_F_INDIRECT_DESC
inline constexpr unsigned kFEventIdx = 29;      // VIRTIO_F_RING_EVENT_IDX
inline constexpr unsigned kFVersion1 = 32;      // VIRTIO_F_VERSION_1

[[nodiscard]] constexpr uint64_t Bit(unsigned bit) { return uint64_t{1} << bit; }
[[nodiscard]] constexpr bool Has(uint64_t features, unsigned bit) { return (features & Bit(bit)) != 0; }

// device_status bits.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

// ISR status bits (read clears).
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;

inline constexpr uint16_t kNoVector = 0xffff;  // VIRTIO_MSI_NO_VECTOR

// Descriptor flags.
inline constexpr uint16_t kDescNext = 1;      // VIRTQ_DESC_F_NEXT
inline constexpr uint16_t kDescWrite = 2;     // VIRTQ_DESC_F_WRITE
inline constexpr uint16_t kDescIndirect = 4;  // VIRTQ_DESC_F_INDIRECT

// Ring flags.
inline constexpr uint16_t kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT
inline constexpr uint16_t kUsedNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY

// struct virtq_desc, as it lies in guest memory (little-endian; x86 only).
struct Descriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

struct UsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(UsedElem) == 8);

// Guest-physical addresses of the split-ring fields, from the three areas
// the driver programmed (queue_desc, queue_driver = avail, queue_device = used).
// All arithmetic is in uint64_t; GuestMemory checks the results.
struct RingLayout {
  uint64_t desc;
  uint64_t avail;
  uint64_t used;
  uint16_t size;

  [[nodiscard]] uint64_t DescAt(uint16_t i) const { return desc + uint64_t{i} * sizeof(Descriptor); }
  [[nodiscard]] uint64_t AvailFlags() const { return avail; }
  [[nodiscard]] uint64_t AvailIdx() const { return avail + 2; }
  [[nodiscard]] uint64_t AvailRing(uint16_t slot) const { return avail + 4 + 2 * uint64_t{slot}; }
  [[nodiscard]] uint64_t UsedEvent() const { return avail + 4 + 2 * uint64_t{size}; }
  [[nodiscard]] uint64_t UsedFlags() const { return used; }
  [[nodiscard]] uint64_t UsedIdx() const { return used + 2; }
  [[nodiscard]] uint64_t UsedRing(uint16_t slot) const { return used + 4 + 8 * uint64_t{slot}; }
  [[nodiscard]] uint64_t AvailEvent() const { return used + 4 + 8 * uint64_t{size}; }
  // Bytes of each area, for the whole-range checks at enable time.
  [[nodiscard]] uint64_t DescBytes() const { return 16 * uint64_t{size}; }
  [[nodiscard]] uint64_t AvailBytes() const { return 6 + 2 * uint64_t{size}; }
  [[nodiscard]] uint64_t UsedBytes() const { return 6 + 8 * uint64_t{size}; }
};

// vring_need_event(): true if the driver asked to be told when the used (or
// avail) index passes `event`, and the index moved from `old_idx` to
// `new_idx` across it. All mod 2^16.
[[nodiscard]] constexpr bool NeedEvent(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace bulkhead::virtio
