// DeviceHost: the core's side of one device, across all the processes that
// serve it. It creates everything the device works on — the state region,
// one exit ring per vCPU, the irqfds — and keeps it; a supervisor thread
// spawns the sandboxed process (sandbox/spawn.h), hands it those fds over its
// control socket (ipc/control.h), relays its log lines, and watches its
// pidfd. When the process dies for any reason, the supervisor logs why
// (signal, blocked syscall) and starts a new process with the same fds: the
// new one resumes from the state region and serves the requests that waited
// on the rings (DESIGN.md). vCPUs that touch the device meanwhile just wait.
// A restart budget (RestartPolicy) bounds crash loops; past it the device is
// failed and the owner decides what the guest sees.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
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

// How many crashes a device may have before it is declared failed: more
// than `max_restarts` within `window` fails it.
struct RestartPolicy {
  uint32_t max_restarts = 10;
  std::chrono::seconds window{60};
};

struct DeviceExit {
  std::string kind;
  ExitReason reason;
  std::string blocked_syscall;  // "openat (257)" when seccomp killed it, else empty
  [[nodiscard]] std::string ToString() const;
};

// What the owner (and the management API) can see of a device.
struct DeviceSnapshot {
  std::string kind;
  pid_t pid = -1;
  enum class State { kStarting, kRunning, kRestarting, kFailed, kStopped } state = State::kStarting;
  uint32_t restarts = 0;
  std::optional<DeviceExit> last_exit;
  double last_recovery_ms = 0;  // death noticed -> new process attached
};
[[nodiscard]] const char* ToString(DeviceSnapshot::State state);

// What every device of one VM shares. All outlive the DeviceHosts.
struct DeviceEnvironment {
  kvm::Vm* vm = nullptr;
  Bus* pio = nullptr;
  Bus* mmio = nullptr;
  uint32_t num_vcpus = 1;
  // The VM's stop event: vCPUs waiting on a device give up when it fires.
  const EventFd* stop = nullptr;
  RestartPolicy restart;
};

class DeviceHost {
 public:
  // Starts the first process and waits until it is attached. `on_failed`
  // runs on the supervisor thread when the restart budget is spent.
  [[nodiscard]] static Result<std::unique_ptr<DeviceHost>> Start(
      DeviceSpec spec, const DeviceEnvironment& env, std::function<void(const DeviceExit&)> on_failed);
  ~DeviceHost();

  // The bus device that forwards accesses to the device's `region` (for a
  // PCI function: the BAR index). Every region shares the device's rings.
  [[nodiscard]] std::shared_ptr<BusDevice> Region(AccessSpace space, uint8_t region);

  [[nodiscard]] DeviceSnapshot Snapshot() const;
  // Asks the live process for its counters (on the supervisor thread).
  [[nodiscard]] Result<DeviceHealth> Health();
  // Kills the process; the supervisor starts the next one. Not counted
  // against the restart budget (an operator asked for it).
  [[nodiscard]] Status Restart();
  // After failure: accesses stop waiting and see a floating bus (all-ones
  // reads, dropped writes), so the rest of the VM goes on.
  void Detach();

  // Asks the device to exit and reaps it (SIGKILL after a grace period);
  // no restart follows.
  void Shutdown();
  [[nodiscard]] pid_t pid() const;

 private:
  DeviceHost() = default;
  struct Process;  // one incarnation: pid, pidfd, log pipe, control client

  void Supervise(std::promise<Status>& started);
  // Runs what is queued and refuses further tasks (the supervisor is leaving).
  void CloseTasks();
  // Spawns and attaches a new process; on success it becomes process_.
  [[nodiscard]] Status Launch();
  // The process ended: reap it, report, and restart or fail.
  void OnDeath();
  void RunTasks();
  // Runs `task` on the supervisor thread and waits for it.
  template <class F>
  auto Call(F&& task) -> decltype(task());
  [[nodiscard]] bool BudgetAllowsRestart();

  std::string kind_;
  std::string binary_;
  DeviceAttachment attachment_;  // kept: every restart re-sends the same fds
  MemFd state_;
  std::vector<ExitRingFds> rings_;
  std::vector<EventFd> irqfds_;
  std::shared_ptr<ExitRingProducers> producers_;
  std::shared_ptr<std::atomic<bool>> detached_ = std::make_shared<std::atomic<bool>>(false);
  const EventFd* stop_ = nullptr;
  RestartPolicy policy_;
  std::function<void(const DeviceExit&)> on_failed_;

  std::unique_ptr<Process> process_;  // supervisor thread only
  std::deque<std::chrono::steady_clock::time_point> crashes_;  // supervisor thread only
  bool operator_restart_ = false;                              // supervisor thread only

  std::thread supervisor_;
  EventFd wake_;  // tasks queued, or stop
  std::mutex tasks_mu_;
  std::deque<std::function<void()>> tasks_;
  bool tasks_closed_ = false;  // guarded by tasks_mu_
  std::atomic<bool> stopping_{false};

  mutable std::mutex snapshot_mu_;
  DeviceSnapshot snapshot_;
};

}  // namespace bulkhead
