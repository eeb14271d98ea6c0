// DeviceHost: the core's side of one device process. It creates everything
// the device will work on — the state region, one exit ring per vCPU, the
// irqfds — spawns the sandboxed process (sandbox/spawn.h), hands it those
// fds over its control socket (ipc/control.h), puts a RemoteDevice on the
// bus for each of its ranges, and watches it: the device's log lines are
// relayed with its name, and its death is decoded (signal, blocked syscall)
// and reported through `on_exit`.
#pragma once

#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/bus.h"
#include "core/kvm/vm.h"
#include "core/remote_device.h"
#include "ipc/control.h"
#include "ipc/event_fd.h"
#include "ipc/shared_memory.h"
#include "ipc/unique_fd.h"
#include "sandbox/exit_reason.h"

namespace bulkhead {

struct DeviceRange {
  AccessSpace space = AccessSpace::kPio;
  uint64_t base = 0;
  uint64_t length = 0;
  uint8_t region = 0;  // what the device sees in bits 48-55 of the address
};

struct DeviceSpec {
  std::string kind;    // "serial": the binary is bulkhead-<kind>, the policy <kind>.policy
  std::string binary;  // full path of the device executable
  uint64_t state_size = 4096;
  // Fixed ranges put on the bus once the device is attached. A PCI function
  // instead places Region()s where the guest programs its BARs.
  std::vector<DeviceRange> ranges;
  // Edge GSIs whose irqfds DeviceHost creates and registers itself (fixed
  // ISA lines such as the serial port's IRQ 4)...
  std::vector<uint32_t> edge_irqs;
  // ...and interrupt / doorbell eventfds whose KVM registration the caller
  // manages (a PCI function routes MSI-X vectors and registers notify
  // addresses as the guest programs them). These are copies; the caller
  // keeps the originals. Sent after the edge_irqs' entries.
  std::vector<IrqAttachment> irqs;
  std::vector<DoorbellAttachment> doorbells;
  std::vector<UniqueFd> backend;    // fds only this device gets (console socket, tap, image)
  // Guest RAM, for devices that do DMA (a copy of the RAM memfd).
  std::optional<MemFd> guest_ram;
  std::vector<RamRegionAttachment> ram_regions;
  std::vector<uint8_t> config;      // kind-specific (ipc/device_abi/)
};

struct DeviceExit {
  std::string kind;
  ExitReason reason;
  std::string blocked_syscall;  // "openat (257)" when seccomp killed it, else empty
  [[nodiscard]] std::string ToString() const;
};

// What every device of one VM shares. All outlive the DeviceHosts.
struct DeviceEnvironment {
  kvm::Vm* vm = nullptr;
  Bus* pio = nullptr;
  Bus* mmio = nullptr;
  uint32_t num_vcpus = 1;
  // The VM's stop event: vCPUs waiting on a device give up when it fires.
  const EventFd* stop = nullptr;
  // The KJ event loop of the thread that starts and stops devices (KJ allows
  // one per thread, so every device's control client shares it).
  ControlLoop* control_loop = nullptr;
};

class DeviceHost {
 public:
  // `on_exit` runs on the watcher thread when the process ends.
  [[nodiscard]] static Result<std::unique_ptr<DeviceHost>> Start(
      DeviceSpec spec, const DeviceEnvironment& env, std::function<void(const DeviceExit&)> on_exit);
  ~DeviceHost();

  // The bus device that forwards accesses to the device's `region` (for a
  // PCI function: the BAR index). Every region shares the device's rings.
  [[nodiscard]] std::shared_ptr<BusDevice> Region(AccessSpace space, uint8_t region);

  // Asks the device to exit and reaps it (SIGKILL after a grace period).
  void Shutdown();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  DeviceHost() = default;
  void Watch();
  // Why the device is gone, if it ended within `timeout`.
  [[nodiscard]] std::optional<DeviceExit> WaitForDeath(std::chrono::milliseconds timeout);

  std::string kind_;
  MemFd state_;
  std::vector<ExitRingFds> rings_;
  std::shared_ptr<ExitRingProducers> producers_;
  const EventFd* stop_ = nullptr;
  std::vector<EventFd> irqfds_;
  std::unique_ptr<DeviceControlClient> control_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd log_pipe_;
  EventFd watcher_stop_;
  std::thread watcher_;
  std::function<void(const DeviceExit&)> on_exit_;
  std::atomic<bool> shutting_down_{false};
  // Set by the watcher when the process has ended (before on_exit_ runs), so
  // a failed start can say why the device died.
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  std::optional<DeviceExit> exit_;
};

}  // namespace bulkhead
