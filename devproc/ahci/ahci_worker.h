// AhciWorker: the threads of the bulkhead-ahci process.
//
//  * ring thread: one poll loop over every exit ring's kick fd, the
//    interrupt's resample fd and a stop eventfd (no busy polling: each ring
//    arms its sleeping flag before the loop blocks). It serves register
//    accesses on the ABAR (region 5) through AhciController; a PxCI write
//    only queues work, so a vCPU never waits for the disk.
//  * I/O thread: takes issued commands from the controller's queue and runs
//    them (preadv/pwritev into guest buffers, fdatasync, fallocate), then
//    completes them and raises the interrupt.
//
// Both threads exist before the jail (it allows no new threads) and drop
// their own capabilities (capset is per thread); they wait for Start(),
// which the main thread calls after EnterJail. On Start the controller
// first Recover()s: commands a SIGKILLed predecessor left in the journal run
// again, and a pending interrupt is raised again.
//
// Register writes are applied at most once per (ring, seq) through the ring
// records of the state region (ahci_state.h), so a request the predecessor
// applied but did not complete is only completed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "devproc/ahci/backend.h"
#include "devproc/ahci/hba.h"
#include "devproc/common/device_process.h"
#include "devproc/common/guest_memory.h"
#include "ipc/control.h"
#include "ipc/event_fd.h"
#include "ipc/exit_ring.h"
#include "ipc/shared_memory.h"

namespace bulkhead::ahci {

class AhciWorker final : public DeviceWorker {
 public:
  // Validates the attachment (kind "ahci", a sealed state region of at least
  // sizeof(AhciStateRegion), 1 to 256 rings, exactly one irq, guest RAM with
  // its regions, an AhciConfigBlob, one backend fd per device the flags
  // name), opens the backends, attaches to the state and starts the
  // (waiting) threads.
  [[nodiscard]] static Result<std::unique_ptr<AhciWorker>> Create(DeviceAttachment attachment);
  ~AhciWorker() override;
  AhciWorker(const AhciWorker&) = delete;
  AhciWorker& operator=(const AhciWorker&) = delete;

  [[nodiscard]] std::vector<int> fds() const override;
  void Start() override;
  void Stop() override;
  [[nodiscard]] DeviceHealth Health() const override;
  [[nodiscard]] Status Reset() override;
  // The images' sizes: writes inside them only (the jail's RLIMIT_FSIZE).
  [[nodiscard]] uint64_t max_file_size() const override;

 private:
  class Irq final : public InterruptSink {
   public:
    explicit Irq(const EventFd& fd) : fd_(fd) {}
    void Raise() override;

   private:
    const EventFd& fd_;
    bool logged_ = false;
  };

  AhciWorker() = default;
  // Drops this thread's capabilities, reports, waits for Start. False: quit.
  bool EnterThread();
  void RunRings();
  void RunIo();
  bool ServeRing(size_t i);
  void Serve(size_t ring, const ExitRequest& request);

  std::vector<int> fds_;
  MemFd state_fd_;
  Mapping state_map_;
  AhciStateRegion* region_ = nullptr;
  std::optional<MemFd> ram_fd_;
  GuestMemory mem_;
  BlockBackend disk_, cdrom_;
  std::vector<ExitRingConsumer> rings_;
  std::vector<bool> ring_broken_;
  EventFd irq_fd_;
  std::optional<EventFd> resample_;
  EventFd stop_;
  std::unique_ptr<Irq> irq_;
  std::unique_ptr<AhciController> hba_;

  std::thread ring_thread_, io_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;       // guarded by mu_
  bool abort_start_ = false;   // guarded by mu_
  int threads_ready_ = 0;      // guarded by mu_
  int threads_failed_ = 0;     // guarded by mu_

  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> malformed_{0};
};

}  // namespace bulkhead::ahci
