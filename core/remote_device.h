// RemoteDevice: the bus device that stands for a device process. A vCPU's
// access becomes a request on that vCPU's exit ring: writes are posted,
// reads wait for the reply. The address sent is the offset within the range
// plus the region number in bits 48-55, so one device can own several ranges
// (a PCI function's BARs) without knowing where the guest put them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/bus.h"
#include "ipc/event_fd.h"
#include "ipc/exit_ring.h"

namespace bulkhead {

// Which vCPU the calling thread runs (set once by each vCPU thread), so a
// bus access picks that vCPU's ring: one producer per ring, no locks.
void SetCurrentVcpu(uint32_t index);
[[nodiscard]] uint32_t CurrentVcpu();

inline constexpr int kRegionShift = 48;

// One device's exit rings as the core holds them: producer i belongs to
// vCPU i. Shared by every RemoteDevice of that device (a PCI function has
// one per BAR), so all of a vCPU's accesses to the device go down one ring
// in program order.
using ExitRingProducers = std::vector<ExitRingProducer>;

class RemoteDevice : public BusDevice {
 public:
  // `(*rings)[i]` is vCPU i's ring to this device. `stop` (the VM's stop
  // event) ends a wait for a device that will not answer.
  // `detached` (optional) is set when the device has failed for good: then
  // accesses stop waiting and see a floating bus.
  RemoteDevice(std::string name, std::shared_ptr<ExitRingProducers> rings, AccessSpace space,
               uint8_t region, const EventFd* stop,
               std::shared_ptr<const std::atomic<bool>> detached = nullptr);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  [[nodiscard]] uint64_t failed_accesses() const { return failed_.load(std::memory_order_relaxed); }
  // Waits that needed a re-kick (a slow device or a lost wake-up).
  [[nodiscard]] uint64_t slow_accesses() const { return slow_.load(std::memory_order_relaxed); }

 private:
  std::string name_;
  std::shared_ptr<ExitRingProducers> rings_;
  std::shared_ptr<const std::atomic<bool>> detached_;
  [[nodiscard]] bool detached() const { return detached_ && detached_->load(std::memory_order_relaxed); }
  AccessSpace space_;
  uint64_t region_bits_;
  static constexpr std::chrono::milliseconds kRekickAfter{200};
  // True (after logging) when `e` is a timed-out wait that should be retried.
  bool Retry(const Error& e, const char* what, uint64_t offset);

  WaitOptions wait_;
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> slow_{0};
};

}  // namespace bulkhead
