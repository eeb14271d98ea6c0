// Consumer end of the exit ring: the device process.
#include "ipc/exit_ring.h"
#include "ipc/exit_ring_wait.h"

namespace bulkhead {

namespace layout = exit_ring_layout;

ExitRingConsumer::ExitRingConsumer(ExitRingFds fds, Mapping mapping, layout::View view,
                                   uint64_t tail)
    : fds_(std::move(fds)), mapping_(std::move(mapping)), view_(view), tail_(tail) {}

Result<ExitRingConsumer> ExitRingConsumer::Attach(ExitRingFds fds) {
  // Unsealed memory could be shrunk under us and turn accesses into SIGBUS.
  if (auto sealed = fds.memory.RequireSeals(); !sealed) return tl::unexpected(sealed.error());
  auto mapping = Mapping::Map(fds.memory);
  if (!mapping) return tl::unexpected(mapping.error());
  auto view = layout::Validate(*mapping);
  if (!view) return tl::unexpected(view.error());
  // Resume where the previous consumer (if any) committed. The tail is ours to
  // write from now on; we never re-read it.
  const uint64_t tail = view->control->consumer.tail.load(std::memory_order_relaxed);
  const uint64_t head = view->control->producer.head.load(std::memory_order_acquire);
  if (head - tail > view->capacity) {
    return MakeError("exit ring: corrupted indices head {} tail {}", head, tail);
  }
  // A predecessor may have died asleep; the flag is ours and we are awake.
  view->control->consumer.consumer_sleeping.store(0, std::memory_order_relaxed);
  return ExitRingConsumer(std::move(fds), std::move(*mapping), *view, tail);
}

Result<bool> ExitRingConsumer::HasWork() const {
  // seq_cst (not just acquire): this is the load after the sleeping-flag store.
  const uint64_t head = view_.control->producer.head.load(std::memory_order_seq_cst);
  if (head - tail_ > view_.capacity) {
    return MakeError("exit ring: producer wrote a bad head {} (tail {}, capacity {})", head, tail_,
                     view_.capacity);
  }
  return head != tail_;
}

Result<std::optional<ExitRequest>> ExitRingConsumer::Peek() {
  auto work = HasWork();
  if (!work) return tl::unexpected(work.error());
  if (!*work) return std::nullopt;
  peeked_ = true;
  // The seq_cst (so acquire) load of head in HasWork() orders these after the producer's
  // slot stores. Each field is loaded exactly once and then validated.
  const layout::Slot& slot = view_.slots[tail_ & (view_.capacity - 1)];
  const uint64_t meta = slot.meta.load(std::memory_order_relaxed);
  const uint64_t addr = slot.addr.load(std::memory_order_relaxed);
  const uint64_t data = slot.data.load(std::memory_order_relaxed);
  const auto space = static_cast<uint8_t>(meta >> layout::kMetaSpaceShift);
  const auto size = static_cast<uint8_t>(meta >> layout::kMetaSizeShift);
  const bool size_ok = size == 1 || size == 2 || size == 4 || size == 8;
  if ((meta & ~layout::kMetaKnownBits) != 0 || space > 1 || !size_ok) {
    return MakeError("exit ring: malformed request {:#x} at seq {}", meta, tail_);
  }
  const uint64_t mask = size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
  const bool is_write = (meta & layout::kMetaWriteBit) != 0;
  return ExitRequest{.space = static_cast<AccessSpace>(space),
                     .size = size,
                     .is_write = is_write,
                     .addr = addr,
                     .data = is_write ? data & mask : 0,
                     .seq = tail_};
}

Status ExitRingConsumer::Complete(uint64_t reply) {
  if (!peeked_) return MakeError("exit ring: Complete() without a peeked request");
  peeked_ = false;
  view_.slots[tail_ & (view_.capacity - 1)].reply.store(reply, std::memory_order_relaxed);
  ++tail_;
  // Release (at least): the reply is visible before the new tail. This store
  // is the commit point of the request (see crash safety in exit_ring.h).
  // It is seq_cst because of the wake-up protocol (see exit_ring.h).
  view_.control->consumer.tail.store(tail_, std::memory_order_seq_cst);
  if (view_.control->producer.producer_sleeping.load(std::memory_order_seq_cst) != 0) {
    return fds_.done.Signal();
  }
  return {};
}

Result<WakeReason> ExitRingConsumer::WaitForWork(const WaitOptions& options) {
  return exit_ring_internal::WaitUntil(
      [this] { return HasWork(); }, view_.control->consumer.consumer_sleeping, fds_.kick, options);
}

Result<bool> ExitRingConsumer::ArmSleep() {
  view_.control->consumer.consumer_sleeping.store(1, std::memory_order_seq_cst);
  auto work = HasWork();
  if (!work || *work) view_.control->consumer.consumer_sleeping.store(0, std::memory_order_relaxed);
  return work;
}

void ExitRingConsumer::DisarmSleep() {
  view_.control->consumer.consumer_sleeping.store(0, std::memory_order_relaxed);
  // Drop the kick we may have been woken by; the caller checks the ring next,
  // so a kick that arrives later only causes one spurious wake-up.
  (void)fds_.kick.TryConsume();
}

}  // namespace bulkhead
