#include "devproc/virtio/virtqueue.h"

#include <atomic>
#include <bit>

namespace bulkhead::virtio {

void ResetVirtqueueState(VirtqueueState& q, uint16_t max_size) {
  const uint64_t broken_events = q.broken_events;
  q.size = max_size;
  q.enabled = 0;
  q.msix_vector = kNoVector;
  q.reserved0 = 0;
  q.desc_addr = q.driver_addr = q.device_addr = 0;
  q.chains = 0;
  q.broken.store(0, std::memory_order_relaxed);
  q.progress.store(0, std::memory_order_release);
  q.broken_events = broken_events;  // a statistic across resets
}

Status ValidateQueueConfig(const GuestMemory& mem, const VirtqueueState& q, uint16_t max_size) {
  if (q.size == 0 || q.size > max_size || !std::has_single_bit(q.size)) {
    return MakeError("queue size {} is not a power of two up to {}", q.size, max_size);
  }
  const RingLayout r{q.desc_addr, q.driver_addr, q.device_addr, q.size};
  if (r.desc % 16 || r.avail % 2 || r.used % 4) return MakeError("queue areas misaligned");
  if (!mem.Contains(r.desc, r.DescBytes()) || !mem.Contains(r.avail, r.AvailBytes()) ||
      !mem.Contains(r.used, r.UsedBytes())) {
    return MakeError("queue areas are not guest RAM");
  }
  return {};
}

Virtqueue::Virtqueue(VirtqueueState& state, const GuestMemory& mem, uint64_t features,
                     uint16_t max_size, uint64_t max_chain_bytes)
    : state_(state), mem_(mem) {
  ring_ = {state.desc_addr, state.driver_addr, state.device_addr, state.size};
  limits_ = {max_chain_bytes, Has(features, kFIndirectDesc)};
  event_idx_ = Has(features, kFEventIdx);
  const uint32_t p = state.progress.load(std::memory_order_acquire);
  committed_avail_ = next_avail_ = LastAvailOf(p);
  committed_used_ = next_used_ = UsedOf(p);
  ready_ = state.enabled != 0 && state.broken.load(std::memory_order_relaxed) == 0 &&
           ValidateQueueConfig(mem, state, max_size).has_value();
}

Result<uint16_t> Virtqueue::Pending() {
  if (!ready_) return uint16_t{0};
  auto idx = mem_.LoadAcquire16(ring_.AvailIdx());
  if (!idx) return tl::unexpected(idx.error());
  const auto pending = static_cast<uint16_t>(*idx - next_avail_);
  // The driver can be at most a queue ahead of what the device committed.
  if (static_cast<uint16_t>(*idx - committed_avail_) > ring_.size) {
    return MakeError("avail idx {} is more than {} ahead of {}", *idx, ring_.size, committed_avail_);
  }
  return pending;
}

Result<std::optional<uint16_t>> Virtqueue::PopInto(DescriptorChain& chain) {
  auto pending = Pending();
  if (!pending) return tl::unexpected(pending.error());
  if (*pending == 0) return std::optional<uint16_t>{};
  // The acquire load of avail->idx in Pending() orders this read after it.
  auto head = mem_.ReadObj<uint16_t>(ring_.AvailRing(next_avail_ % ring_.size));
  if (!head) return tl::unexpected(head.error());
  if (auto s = WalkChain(mem_, ring_, *head, limits_, chain); !s) {
    return tl::unexpected(Error{fmt::format("chain at head {}: {}", *head, s.error().message), 0});
  }
  ++next_avail_;
  return std::optional<uint16_t>{*head};
}

Status Virtqueue::AddUsed(uint16_t head, uint32_t len) {
  if (static_cast<uint16_t>(next_used_ - committed_used_) >= ring_.size) {
    return MakeError("more used elements than the queue holds");
  }
  if (auto s = mem_.WriteObj(ring_.UsedRing(next_used_ % ring_.size), UsedElem{head, len}); !s) {
    return s;
  }
  ++next_used_;
  return {};
}

Result<bool> Virtqueue::Publish() {
  const uint16_t old_used = committed_used_;
  if (next_avail_ == committed_avail_ && next_used_ == committed_used_) return false;
  state_.chains += static_cast<uint16_t>(next_used_ - committed_used_);
  // The one store that makes this pass's work durable (see virtqueue_state.h).
  state_.progress.store(PackProgress(next_avail_, next_used_), std::memory_order_release);
  committed_avail_ = next_avail_;
  committed_used_ = next_used_;
  if (old_used == next_used_) return false;
  // Release: the used elements are visible before the index that covers them.
  if (auto s = mem_.StoreRelease16(ring_.UsedIdx(), next_used_); !s) return tl::unexpected(s.error());
  // The index store must be ordered before the load of the driver's
  // suppression field, or both sides can decide not to notify.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (event_idx_) {
    auto used_event = mem_.LoadAcquire16(ring_.UsedEvent());
    if (!used_event) return tl::unexpected(used_event.error());
    return NeedEvent(*used_event, next_used_, old_used);
  }
  auto flags = mem_.LoadAcquire16(ring_.AvailFlags());
  if (!flags) return tl::unexpected(flags.error());
  return (*flags & kAvailNoInterrupt) == 0;
}

Result<bool> Virtqueue::EnableNotifications() {
  if (!ready_) return false;
  Status s = event_idx_ ? mem_.StoreRelease16(ring_.AvailEvent(), next_avail_)
                        : mem_.StoreRelease16(ring_.UsedFlags(), 0);
  if (!s) return tl::unexpected(s.error());
  // Store of the suppression field before the load of avail->idx (the
  // driver does the mirror image: store idx, fence, load avail_event).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto pending = Pending();
  if (!pending) return tl::unexpected(pending.error());
  return *pending != 0;
}

Status Virtqueue::DisableNotifications() {
  if (!ready_ || event_idx_) return {};
  return mem_.StoreRelease16(ring_.UsedFlags(), kUsedNoNotify);
}

bool Virtqueue::MarkBroken() {
  ready_ = false;
  if (state_.broken.exchange(1, std::memory_order_relaxed) != 0) return false;
  ++state_.broken_events;
  return true;
}

Status Virtqueue::Resume() {
  if (!ready_) return {};
  return mem_.StoreRelease16(ring_.UsedIdx(), committed_used_);
}

}  // namespace bulkhead::virtio
