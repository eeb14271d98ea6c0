// Ring creation, layout validation and the shared sleep primitive.
#include <poll.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>

#include "ipc/exit_ring.h"
#include "ipc/exit_ring_layout.h"
#include "ipc/exit_ring_wait.h"

namespace bulkhead {
namespace exit_ring_layout {

uint64_t RingBytes(uint32_t capacity) {
  const uint64_t raw = sizeof(Control) + uint64_t{capacity} * sizeof(Slot);
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return (raw + page - 1) / page * page;
}

namespace {

bool ValidCapacity(uint32_t capacity) {
  return capacity != 0 && capacity <= kMaxCapacity && std::has_single_bit(capacity);
}

Result<View> MakeView(const Mapping& mapping, uint32_t capacity) {
  if (mapping.size() < RingBytes(capacity)) {
    return MakeError("exit ring: mapping of {} bytes too small for {} slots", mapping.size(),
                     capacity);
  }
  auto control = mapping.as<Control>(0);
  if (!control) return tl::unexpected(control.error());
  auto first_slot = mapping.as<Slot>(sizeof(Control));
  if (!first_slot) return tl::unexpected(first_slot.error());
  // SAFETY: RingBytes(capacity) <= mapping.size() was checked above, so all
  // `capacity` slots after the control block lie inside the mapping.
  return View{*control, *first_slot, capacity};
}

}  // namespace

Result<View> Initialize(const Mapping& mapping, uint32_t capacity) {
  if (!ValidCapacity(capacity)) return MakeError("exit ring: bad capacity {}", capacity);
  auto view = MakeView(mapping, capacity);
  if (!view) return view;
  Header& h = view->control->header;
  h.version.store(kVersion, std::memory_order_relaxed);
  h.capacity.store(capacity, std::memory_order_relaxed);
  h.slot_size.store(sizeof(Slot), std::memory_order_relaxed);
  h.magic.store(kMagic, std::memory_order_release);  // last: marks the header complete
  return view;
}

Result<View> Validate(const Mapping& mapping) {
  auto control = mapping.as<Control>(0);
  if (!control) return tl::unexpected(control.error());
  const Header& h = (*control)->header;
  // Each field is loaded once; from here on only the local copies count.
  const uint32_t magic = h.magic.load(std::memory_order_acquire);
  const uint32_t version = h.version.load(std::memory_order_relaxed);
  const uint32_t capacity = h.capacity.load(std::memory_order_relaxed);
  const uint32_t slot_size = h.slot_size.load(std::memory_order_relaxed);
  if (magic != kMagic) return MakeError("exit ring: bad magic {:#x}", magic);
  if (version != kVersion)
    return MakeError("exit ring: version {}, expected {}", version, kVersion);
  if (!ValidCapacity(capacity)) return MakeError("exit ring: bad capacity {}", capacity);
  if (slot_size != sizeof(Slot)) {
    return MakeError("exit ring: slot size {}, expected {}", slot_size, sizeof(Slot));
  }
  return MakeView(mapping, capacity);
}

}  // namespace exit_ring_layout

Result<ExitRingFds> ExitRingFds::Dup() const {
  auto memory_copy = memory.Dup();
  if (!memory_copy) return tl::unexpected(memory_copy.error());
  auto kick_copy = kick.Dup();
  if (!kick_copy) return tl::unexpected(kick_copy.error());
  auto done_copy = done.Dup();
  if (!done_copy) return tl::unexpected(done_copy.error());
  return ExitRingFds{std::move(*memory_copy), std::move(*kick_copy), std::move(*done_copy)};
}

Result<ExitRingFds> CreateExitRing(uint32_t capacity) {
  if (capacity == 0 || capacity > exit_ring_layout::kMaxCapacity ||
      !std::has_single_bit(capacity)) {
    return MakeError("exit ring: capacity {} is not a power of two in [1, {}]", capacity,
                     exit_ring_layout::kMaxCapacity);
  }
  auto memory = MemFd::Create("bulkhead-exit-ring", exit_ring_layout::RingBytes(capacity));
  if (!memory) return tl::unexpected(memory.error());
  {
    auto mapping = Mapping::Map(*memory);
    if (!mapping) return tl::unexpected(mapping.error());
    auto view = exit_ring_layout::Initialize(*mapping, capacity);
    if (!view) return tl::unexpected(view.error());
  }
  if (auto sealed = memory->Seal(); !sealed) return tl::unexpected(sealed.error());
  auto kick = EventFd::Create();
  if (!kick) return tl::unexpected(kick.error());
  auto done = EventFd::Create();
  if (!done) return tl::unexpected(done.error());
  return ExitRingFds{std::move(*memory), std::move(*kick), std::move(*done)};
}

namespace exit_ring_internal {

Result<WakeReason> SleepOnce(const EventFd& wake, const EventFd* interrupt,
                             std::optional<Clock::time_point> deadline) {
  pollfd fds[2] = {{.fd = wake.fd(), .events = POLLIN, .revents = 0},
                   {.fd = interrupt ? interrupt->fd() : -1, .events = POLLIN, .revents = 0}};
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) return WakeReason::kTimedOut;
      timeout_ms = left.count() > INT_MAX ? INT_MAX : static_cast<int>(left.count());
    }
    const int r = ::poll(fds, interrupt ? 2 : 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("exit ring: poll");
    if (r == 0) continue;  // re-evaluates the deadline
    if (fds[0].revents & (POLLERR | POLLNVAL)) return MakeError("exit ring: wake fd unusable");
    if (fds[0].revents & POLLIN) {
      auto consumed = wake.TryConsume();
      if (!consumed) return tl::unexpected(consumed.error());
      return WakeReason::kReady;
    }
    if (fds[1].revents & (POLLIN | POLLERR | POLLNVAL)) return WakeReason::kInterrupted;
  }
}

}  // namespace exit_ring_internal
}  // namespace bulkhead
