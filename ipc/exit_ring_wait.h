// The one waiting algorithm both ends of an exit ring use (internal to ipc/).
// See the "Wake-ups" paragraph of exit_ring.h for why it is correct.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>

#include "ipc/exit_ring.h"

namespace bulkhead::exit_ring_internal {

using Clock = std::chrono::steady_clock;

// Blocks on `wake` (and options.interrupt) until one is readable or the
// deadline passes. Consumes `wake`, never the interrupt.
[[nodiscard]] Result<WakeReason> SleepOnce(const EventFd& wake, const EventFd* interrupt,
                                           std::optional<Clock::time_point> deadline);

// Waits until ready() returns true. `sleeping` is this side's flag in shared
// memory; the peer signals `wake` only while it is set.
template <class Ready>
[[nodiscard]] Result<WakeReason> WaitUntil(Ready&& ready, std::atomic<uint32_t>& sleeping,
                                           const EventFd& wake, const WaitOptions& options) {
  const auto now = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (options.timeout.count() >= 0) deadline = now + options.timeout;

  Result<bool> r = ready();
  if (!r || *r) return r.map([](bool) { return WakeReason::kReady; });
  if (options.spin.count() > 0) {
    const auto spin_end = now + options.spin;
    while (Clock::now() < spin_end) {
      r = ready();
      if (!r || *r) return r.map([](bool) { return WakeReason::kReady; });
      __builtin_ia32_pause();
    }
  }
  for (;;) {
    sleeping.store(1, std::memory_order_relaxed);
    // Dekker: our flag store must be visible before we re-read the peer's
    // index, and the peer does (index store; fence; flag load).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    r = ready();
    if (!r || *r) {
      sleeping.store(0, std::memory_order_relaxed);
      return r.map([](bool) { return WakeReason::kReady; });
    }
    auto slept = SleepOnce(wake, options.interrupt, deadline);
    sleeping.store(0, std::memory_order_relaxed);
    if (!slept) return slept;
    r = ready();
    if (!r || *r) return r.map([](bool) { return WakeReason::kReady; });
    if (*slept != WakeReason::kReady) return slept;
    // A stale or spurious kick: go back to sleep.
  }
}

}  // namespace bulkhead::exit_ring_internal
