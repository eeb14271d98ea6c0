// NetWorker: the thread of the bulkhead-net process. It owns everything the
// core attached (ipc/device_abi/virtio_net.h: state region, guest RAM, exit
// rings, one doorbell per queue, the MSI-X vector fds and the INTx fd with
// its resample fd, the tap) and runs one poll loop over the rings' kick fds,
// the doorbells, the tap (POLLIN while RX can take frames, POLLOUT while TX
// waits for room), the resample fd and its own stop/reset eventfds. No busy
// polling: ring consumers arm their sleeping flags before the loop blocks,
// and RX stops polling the tap while the guest has no buffers.
//
// Register accesses are applied by the virtio transport; the last applied
// request's id and reply are recorded in the region, so a request a killed
// predecessor applied is answered, not applied again. The id is
// (ring index + 1) << 48 | (seq + 1), exact for the reasons given in
// devproc/serial/serial_worker.h (single-threaded, compared for equality).
// A death between applying and recording re-applies that one access: every
// virtio register write is idempotent except an ISR read (its bits read as
// 0 the second time; the next interrupt sets them again).
//
// Threading as SerialWorker: created before the jail, the thread drops its
// own capabilities, waits for Start(); Reset() and Health() come from the
// control thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "devproc/common/device_process.h"
#include "devproc/common/guest_memory.h"
#include "devproc/net/net_backend.h"
#include "devproc/net/net_state.h"
#include "devproc/net/virtio_net.h"
#include "ipc/control.h"
#include "ipc/event_fd.h"
#include "ipc/exit_ring.h"
#include "ipc/shared_memory.h"

namespace bulkhead::net {

[[nodiscard]] constexpr uint64_t NetRequestId(size_t ring, uint64_t seq) {
  return (static_cast<uint64_t>(ring + 1) << 48) | ((seq + 1) & ((uint64_t{1} << 48) - 1));
}

class NetWorker final : public DeviceWorker, private virtio::InterruptSink {
 public:
  // Validates and maps everything in `attachment` and starts the (still
  // waiting) thread.
  [[nodiscard]] static Result<std::unique_ptr<NetWorker>> Create(DeviceAttachment attachment);
  ~NetWorker() override;
  NetWorker(const NetWorker&) = delete;
  NetWorker& operator=(const NetWorker&) = delete;

  [[nodiscard]] std::vector<int> fds() const override;
  void Start() override;
  void Stop() override;
  [[nodiscard]] DeviceHealth Health() const override;
  [[nodiscard]] Status Reset() override;

 private:
  NetWorker() = default;
  void Run();
  // Serves what ring `i` holds (at most a batch). False if it is empty or broken.
  bool ServeRing(size_t i);
  void Serve(size_t ring, const ExitRequest& request);
  // virtio::InterruptSink
  void SignalVector(uint16_t vector) override;
  void SignalIntx() override;
  void Raise(const EventFd& fd);

  std::vector<int> fds_;
  MemFd state_fd_;
  Mapping state_map_;
  NetStateRegion* region_ = nullptr;
  MemFd ram_fd_;
  GuestMemory memory_;
  std::vector<ExitRingConsumer> rings_;
  std::vector<EventFd> doorbells_;  // by queue
  std::vector<EventFd> vectors_;    // MSI-X vector fds
  EventFd intx_;
  EventFd resample_;
  std::optional<FdNetBackend> backend_;
  uint8_t mac_[6] = {};
  std::unique_ptr<VirtioNet> net_;
  EventFd stop_;
  EventFd reset_;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;      // guarded by mu_
  bool abort_start_ = false;  // guarded by mu_
  int caps_dropped_ = 0;      // guarded by mu_: 0 pending, 1 done, -1 failed
  uint64_t resets_done_ = 0;  // guarded by mu_

  std::vector<bool> ring_broken_;
  bool irq_error_logged_ = false;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> replayed_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> resets_requested_{0};
};

}  // namespace bulkhead::net
