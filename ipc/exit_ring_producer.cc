// Producer end of the exit ring: the core's vCPU thread.
#include <cerrno>

#include "ipc/exit_ring.h"
#include "ipc/exit_ring_wait.h"

namespace bulkhead {

namespace layout = exit_ring_layout;

namespace {

bool ValidSize(uint8_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

uint64_t Truncate(uint64_t value, uint8_t size) {
  return size == 8 ? value : value & ((uint64_t{1} << (8 * size)) - 1);
}

Error WaitError(WakeReason reason, const char* what) {
  if (reason == WakeReason::kTimedOut)
    return Error{fmt::format("exit ring: {} timed out", what), ETIMEDOUT};
  return Error{fmt::format("exit ring: {} interrupted", what), EINTR};
}

}  // namespace

ExitRingProducer::ExitRingProducer(ExitRingFds fds, Mapping mapping, layout::View view,
                                   uint64_t head, uint64_t tail)
    : fds_(std::move(fds)),
      mapping_(std::move(mapping)),
      view_(view),
      head_(head),
      last_tail_(tail) {}

Result<ExitRingProducer> ExitRingProducer::Attach(ExitRingFds fds) {
  if (auto sealed = fds.memory.RequireSeals(); !sealed) return tl::unexpected(sealed.error());
  auto mapping = Mapping::Map(fds.memory);
  if (!mapping) return tl::unexpected(mapping.error());
  auto view = layout::Validate(*mapping);
  if (!view) return tl::unexpected(view.error());
  // The producer is the only writer of head, so the stored head is ours; the
  // tail is the consumer's and is checked against it.
  const uint64_t head = view->control->producer.head.load(std::memory_order_relaxed);
  const uint64_t tail = view->control->consumer.tail.load(std::memory_order_acquire);
  if (head - tail > view->capacity) {
    return MakeError("exit ring: corrupted indices head {} tail {}", head, tail);
  }
  return ExitRingProducer(std::move(fds), std::move(*mapping), *view, head, tail);
}

Result<uint64_t> ExitRingProducer::LoadTail() {
  // seq_cst (not just acquire): this is the load after the sleeping-flag store.
  const uint64_t tail = view_.control->consumer.tail.load(std::memory_order_seq_cst);
  // Unsigned: tail > head makes head - tail huge and fails the first check.
  if (head_ - tail > view_.capacity || tail < last_tail_) {
    return MakeError("exit ring: consumer wrote a bad tail {} (head {}, previous tail {})", tail,
                     head_, last_tail_);
  }
  last_tail_ = tail;
  return tail;
}

Status ExitRingProducer::WaitForTail(uint64_t min_tail, const WaitOptions& options) {
  if (rekick_on_wait_) {
    // The previous wait ended early, maybe because the consumer died. Its
    // successor checks the ring when it starts, but a kick costs nothing here
    // and also covers a consumer that went to sleep without seeing our work.
    rekick_on_wait_ = false;
    if (auto kicked = Rekick(); !kicked) return kicked;
  }
  auto reason = exit_ring_internal::WaitUntil(
      [&]() -> Result<bool> {
        auto tail = LoadTail();
        if (!tail) return tl::unexpected(tail.error());
        return *tail >= min_tail;
      },
      view_.control->producer.producer_sleeping, fds_.done, options);
  if (!reason) return tl::unexpected(reason.error());
  if (*reason != WakeReason::kReady) {
    rekick_on_wait_ = true;
    return tl::unexpected(WaitError(*reason, "wait for consumer"));
  }
  return {};
}

Status ExitRingProducer::Publish(const ExitRequest& request, const WaitOptions& options) {
  if (pending_read_) return MakeError("exit ring: a read is outstanding");
  if (!ValidSize(request.size)) return MakeError("exit ring: bad access size {}", request.size);
  if (request.space != AccessSpace::kPio && request.space != AccessSpace::kMmio) {
    return MakeError("exit ring: bad address space {}", static_cast<int>(request.space));
  }
  // Wait for a free slot: head - tail < capacity, i.e. tail >= head + 1 - capacity.
  const uint64_t min_tail = head_ + 1 > view_.capacity ? head_ + 1 - view_.capacity : 0;
  if (auto space = WaitForTail(min_tail, options); !space) return space;

  layout::Slot& slot = view_.slots[head_ & (view_.capacity - 1)];
  const uint64_t meta = (uint64_t{static_cast<uint8_t>(request.space)} << layout::kMetaSpaceShift) |
                        (uint64_t{request.size} << layout::kMetaSizeShift) |
                        (request.is_write ? layout::kMetaWriteBit : 0);
  slot.meta.store(meta, std::memory_order_relaxed);
  slot.addr.store(request.addr, std::memory_order_relaxed);
  slot.data.store(request.is_write ? Truncate(request.data, request.size) : 0,
                  std::memory_order_relaxed);
  slot.reply.store(0, std::memory_order_relaxed);
  ++head_;
  // Release (at least): the slot contents are visible before the new head;
  // seq_cst for the wake-up protocol (see exit_ring.h).
  view_.control->producer.head.store(head_, std::memory_order_seq_cst);
  if (view_.control->consumer.consumer_sleeping.load(std::memory_order_seq_cst) != 0) {
    return fds_.kick.Signal();
  }
  return {};
}

Status ExitRingProducer::Post(const ExitRequest& request, const WaitOptions& options) {
  if (!request.is_write) return MakeError("exit ring: Post() takes writes; use Read()");
  return Publish(request, options);
}

Status ExitRingProducer::Submit(AccessSpace space, uint64_t addr, uint8_t size,
                                const WaitOptions& options) {
  ExitRequest request{.space = space, .size = size, .is_write = false, .addr = addr};
  if (auto published = Publish(request, options); !published) return published;
  pending_read_ = head_ - 1;
  pending_size_ = size;
  return {};
}

Result<uint64_t> ExitRingProducer::WaitReply(const WaitOptions& options) {
  if (!pending_read_) return MakeError("exit ring: no read outstanding");
  const uint64_t index = *pending_read_;
  if (auto done = WaitForTail(index + 1, options); !done) return tl::unexpected(done.error());
  // The (seq_cst, so acquire) load of tail in LoadTail() orders this after the consumer's
  // reply store. The value is the device's: only its low `size` bytes count.
  const uint64_t reply =
      view_.slots[index & (view_.capacity - 1)].reply.load(std::memory_order_relaxed);
  pending_read_.reset();
  return Truncate(reply, pending_size_);
}

Result<uint64_t> ExitRingProducer::Read(AccessSpace space, uint64_t addr, uint8_t size,
                                        const WaitOptions& options) {
  if (auto submitted = Submit(space, addr, size, options); !submitted) {
    return tl::unexpected(submitted.error());
  }
  return WaitReply(options);
}

}  // namespace bulkhead
