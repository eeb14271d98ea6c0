// Walking one descriptor chain of a split virtqueue, with every rule the
// guest could break checked.
//
// The walker reads each descriptor once (a copy: the guest may rewrite the
// table while we walk) and refuses the chain, with an Error that names why, if:
//   * an index (the head, a `next`) is outside the table;
//   * the chain visits more descriptors than the queue size (a loop), or an
//     indirect table's `next` leaves that table, or it loops inside it;
//   * a descriptor has length 0, or lies (in its whole [addr, addr+len))
//     outside guest RAM, or the total length exceeds `max_total_bytes`;
//   * a device-readable descriptor follows a device-writable one;
//   * VIRTQ_DESC_F_INDIRECT appears when not negotiated, together with
//     F_NEXT, inside an indirect table (no nesting), or names a table whose
//     length is 0, not a multiple of 16, larger than the queue size allows,
//     or outside RAM.
// Segments are checked against RAM when walked, and GuestMemory checks every
// byte again when data moves (the ranges cannot change, RAM can only be
// re-read). A refused chain is the device's cue to mark the queue broken.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "devproc/common/guest_memory.h"
#include "devproc/virtio/virtio_spec.h"
#include "ipc/result.h"

namespace bulkhead::virtio {

struct ChainSegment {
  uint64_t addr;
  uint32_t len;
  bool writable;
};

struct DescriptorChain {
  uint16_t head = 0;
  std::vector<ChainSegment> segments;  // readable ones first, then writable ones
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

struct WalkLimits {
  uint64_t max_total_bytes = 1 << 20;
  bool indirect_allowed = true;  // VIRTIO_F_INDIRECT_DESC negotiated
};

// Walks the chain starting at descriptor `head` of `ring` into `out` (whose
// vector capacity is reused).
[[nodiscard]] Status WalkChain(const GuestMemory& mem, const RingLayout& ring, uint16_t head,
                               const WalkLimits& limits, DescriptorChain& out);

// Copies readable bytes [offset, offset+out.size()) of the chain into `out`;
// an error if the readable part is shorter.
[[nodiscard]] Status ReadChain(const GuestMemory& mem, const DescriptorChain& chain,
                               uint64_t offset, std::span<uint8_t> out);

// Copies `in` into the writable part of the chain starting at writable byte
// `offset`; an error if it does not fit.
[[nodiscard]] Status WriteChain(const GuestMemory& mem, const DescriptorChain& chain,
                                uint64_t offset, std::span<const uint8_t> in);

// iovecs over the readable part of the chain, skipping its first `skip` bytes,
// for writev() straight from guest memory (pass-through data only: the device
// must not interpret bytes it reads this way). Appends to `out`.
[[nodiscard]] Status ReadableIovecs(const GuestMemory& mem, const DescriptorChain& chain,
                                    uint64_t skip, std::vector<iovec>& out);

}  // namespace bulkhead::virtio
