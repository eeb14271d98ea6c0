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

// Waits until ready() returns true. ready() must load the peer's index with
// memory_order_seq_cst. `sleeping` is this side's flag in shared memory; the
// peer signals `wake` only while it is set.
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
    // Dekker: seq_cst flag store, then ready() re-reads the peer's index with a
    // seq_cst load; the peer does (seq_cst index store; seq_cst flag load).
    sleeping.store(1, std::memory_order_seq_cst);
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
