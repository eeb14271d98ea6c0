// SerialWorker: the thread of the bulkhead-serial process that serves the
// UART. It owns everything the core attached (state region, one exit ring per
// vCPU, the IRQ 4 irqfd, the console backend socket) and runs one poll loop
// over the rings' kick fds, the backend and a stop eventfd. No busy polling:
// each ring's consumer arms its sleeping flag before the loop blocks.
//
// Every access goes through the two-slot protocol of serial_state_region.h
// (Begin → Uart16550 → Commit → Complete), so a SIGKILL at any instruction
// loses nothing and applies nothing twice. Host-side changes (console input,
// draining TX, reset, the resume edge) use the same Begin/Commit, keeping the
// committed request id so a pending replay still finds it.
//
// Request ids: the region records one "applied" id, but there is one ring
// per vCPU and each ring numbers its requests from 0. The worker therefore
// records (ring index + 1) << 48 | (seq + 1) and treats a request as a replay
// only when its id EQUALS the committed one. That is exact because the worker
// is single-threaded: at most one request (the last one committed) can have
// been applied and not completed when the previous process died. (The
// library's AlreadyApplied() compares with <=, which is wrong across rings,
// and treats 0 as "none", which the first request of a ring would hit.)
//
// Threading: Create() runs before the jail (in the jail no thread can be
// created). The thread first drops its own capabilities (capset is per
// thread, EnterJail only drops the caller's), then waits for Start(), which
// the main thread calls after EnterJail. Health() and Reset() are called from
// the main (control) thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "devproc/common/device_process.h"
#include "devproc/serial/serial_state_region.h"
#include "ipc/control.h"
#include "ipc/event_fd.h"
#include "ipc/exit_ring.h"
#include "ipc/result.h"
#include "ipc/shared_memory.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

// The id the worker records in the region for request `seq` of ring `ring`
// (the ring's position in the attachment), as explained above. Part of the
// state region's format: a successor must compute the same id.
[[nodiscard]] constexpr uint64_t SerialRequestId(size_t ring, uint64_t seq) {
  return (static_cast<uint64_t>(ring + 1) << 48) | ((seq + 1) & ((uint64_t{1} << 48) - 1));
}

struct SerialWorkerStats {
  uint64_t served = 0;     // requests applied
  uint64_t replayed = 0;   // requests a dead predecessor had applied (answered from the region)
  uint64_t malformed = 0;  // rejected by the ring, wrong space/size/address
};

class SerialWorker final : public DeviceWorker {
 public:
  // Validates and maps everything in `attachment` (kind "serial", a state
  // region of at least sizeof(SerialStateRegion) sealed against resizing,
  // >= 1 ring, exactly one irq, exactly one backend that is a socket) and
  // starts the (still waiting) thread.
  [[nodiscard]] static Result<std::unique_ptr<SerialWorker>> Create(DeviceAttachment attachment);
  ~SerialWorker() override;  // stops and joins the thread
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // Every fd the worker holds (for the jail's keep-list).
  [[nodiscard]] std::vector<int> fds() const override;

  // Lets the thread serve. Call once, after EnterJail.
  void Start() override;
  // Ends the loop and joins the thread (idempotent).
  void Stop() override;

  [[nodiscard]] SerialWorkerStats stats() const;
  [[nodiscard]] DeviceHealth Health() const override {
    const SerialWorkerStats s = stats();
    return {s.served, s.replayed, s.malformed, {}};
  }
  // Puts the UART in its power-on state (done by the worker thread; waits
  // up to a second for it).
  [[nodiscard]] Status Reset() override;

 private:
  SerialWorker() = default;
  void Run();
  // One pass over ring `i`: serves what is queued (at most a batch, for
  // fairness between vCPUs). Returns false if the ring is broken.
  bool ServeRing(size_t i);
  // The request at hand: applies it (or answers a replay) and completes it.
  void Serve(size_t ring, const ExitRequest& request);
  // A host-side change (input, TX drain, reset, resume) under Begin/Commit,
  // keeping the committed request id and reply.
  // F: void(Uart16550&, SerialState&) over the scratch copy.
  template <class F>
  void HostChange(F&& change);
  // Moves console input into the RX FIFO, as much as it has room for.
  void ReadInput();

  // Resources, owned here, used by the thread.
  std::vector<int> fds_;  // every fd above, including those the consumers hold
  MemFd state_fd_;
  Mapping state_map_;
  SerialStateRegion* region_ = nullptr;
  std::vector<ExitRingConsumer> rings_;
  EventFd irq_;
  UniqueFd backend_;
  EventFd stop_;
  EventFd reset_;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;      // guarded by mu_
  bool abort_start_ = false;  // guarded by mu_: destroyed before Start()
  int caps_dropped_ = 0;      // guarded by mu_: 0 pending, 1 done, -1 failed
  uint64_t resets_done_ = 0;  // guarded by mu_

  // Used by the thread only.
  std::vector<bool> ring_broken_;
  bool backend_closed_ = false;
  bool backend_error_logged_ = false;
  bool irq_error_logged_ = false;
  uint64_t output_errors_ = 0;
  uint64_t irq_errors_ = 0;

  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> replayed_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> resets_requested_{0};
};

}  // namespace bulkhead
