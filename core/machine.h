// Machine: one boot of one VM. Creates KVM objects, RAM, the platform
// devices in the core, the device processes, and the vCPU threads; Run()
// returns when the guest powers off or reboots, the user quits, or
// something fatal happens. A reboot with --on-reboot=restart is a new
// Machine (main.cc), so no state leaks from one boot into the next.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/boot/layout.h"
#include "core/bus.h"
#include "core/console.h"
#include "core/device_host.h"
#include "core/devices/power.h"
#include "core/guest_ram.h"
#include "core/kvm/kvm_system.h"
#include "core/kvm/vcpu.h"
#include "core/kvm/vm.h"
#include "ipc/event_fd.h"

namespace bulkhead {

struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory = 512 * boot::MiB;
  uint32_t cpus = 1;
  ConsoleSpec serial;
  std::string device_dir;  // where bulkhead-<kind> binaries are
  std::string kvm_path = "/dev/kvm";
};

enum class MachineEnd { kPowerOff, kReboot, kUserQuit, kFatal };

class Machine {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Machine>> Create(const MachineConfig& config);
  ~Machine();

  // Boots and runs the guest until it ends. `error` gets the reason for kFatal.
  [[nodiscard]] MachineEnd Run(std::string* error);

 private:
  Machine() = default;
  void VcpuThread(size_t index);
  void End(MachineEnd end, std::string why);
  void StopVcpus();

  MachineConfig config_;
  std::unique_ptr<kvm::KvmSystem> kvm_;
  std::unique_ptr<kvm::Vm> vm_;
  std::unique_ptr<GuestRam> ram_;
  Bus pio_{"pio"};
  Bus mmio_{"mmio"};
  std::vector<std::unique_ptr<kvm::Vcpu>> vcpus_;
  std::vector<std::thread> threads_;
  EventFd stop_;
  std::unique_ptr<Console> console_;
  std::vector<std::unique_ptr<DeviceHost>> devices_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
  MachineEnd end_ = MachineEnd::kFatal;
  std::string why_;
  std::atomic<bool> stopping_{false};
};

}  // namespace bulkhead
