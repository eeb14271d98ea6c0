// Machine: one boot of one VM. Creates KVM objects, RAM, the platform
// devices in the core, the device processes, and the vCPU threads; Run()
// returns when the guest powers off or reboots, the user quits, or
// something fatal happens. A reboot with --on-reboot=restart is a new
// Machine (main.cc), so no state leaks from one boot into the next.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/backends/device_options.h"
#include "core/backends/disk_image.h"
#include "core/boot/layout.h"
#include "core/bus.h"
#include "core/console.h"
#include "core/device_host.h"
#include "core/devices/power.h"
#include "core/guest_ram.h"
#include "core/kvm/kvm_system.h"
#include "core/kvm/msi_routes.h"
#include "core/kvm/vcpu.h"
#include "core/kvm/vm.h"
#include "core/pci/device_function.h"
#include "core/pci/function_specs.h"
#include "core/pci/host_bridge.h"
#include "core/pci/pci_platform.h"
#include "core/vm_control.h"
#include "ipc/event_fd.h"

namespace bulkhead {

class ApiServer;

struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t memory = 512 * boot::MiB;
  uint32_t cpus = 1;
  ConsoleSpec serial;
  std::string device_dir;  // where bulkhead-<kind> binaries are
  std::string kvm_path = "/dev/kvm";
  std::optional<NetOptions> net;     // virtio-net on a tap
  std::optional<DiskOptions> disk;   // AHCI port 0
  std::optional<DiskOptions> cdrom;  // AHCI port 1 (ATAPI)
  RestartPolicy restart;             // per device: crashes tolerated before it is failed
  // A failed device: stop the VM (exit 1), or detach it (its registers read
  // all-ones, like a removed card) and keep the rest of the VM running.
  bool detach_failed_devices = false;
  std::string api_socket;            // management API socket (core/api/); empty: none
};

// The executable of device kind `kind` under `device_dir`: bulkhead-<kind>
// side by side (installed), or in <kind>/ below it (the build tree's
// devproc/net/bulkhead-net).
[[nodiscard]] std::string DeviceBinary(const std::string& device_dir, const std::string& kind);

enum class MachineEnd { kPowerOff, kReboot, kUserQuit, kFatal };

class Machine final : public VmControl {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Machine>> Create(const MachineConfig& config);
  ~Machine();

  // Boots and runs the guest until it ends. `error` gets the reason for kFatal.
  [[nodiscard]] MachineEnd Run(std::string* error);

  // VmControl (core/machine_control.cc), for the management API.
  VmStatus GetStatus() override;
  std::vector<DeviceInfo> Devices() override;
  Status RestartDevice(const std::string& name) override;
  Status Pause() override;
  Status Resume() override;
  Status PowerOff() override;

 private:
  Machine() = default;
  // Starts a device process under supervision and keeps it in devices_.
  [[nodiscard]] Result<DeviceHost*> StartDevice(DeviceSpec device);
  // Starts the device process behind a PCI function and plugs the function
  // into 00:slot.0 (machine_devices.cc).
  [[nodiscard]] Status StartPciDevice(uint8_t slot, DeviceFunctionSpec function, DeviceSpec device);
  [[nodiscard]] Status StartNet(UniqueFd tap, BarAllocator& bars);
  [[nodiscard]] Status StartAhci(std::optional<DiskImage> disk, std::optional<DiskImage> cdrom,
                                 BarAllocator& bars);
  // The device process `host` has failed for good (restart budget spent).
  void DeviceFailed(DeviceHost* host, const DeviceExit& exit);
  void VcpuThread(size_t index);
  void End(MachineEnd end, std::string why);
  void StopVcpus();

  MachineConfig config_;
  std::unique_ptr<kvm::KvmSystem> kvm_;
  std::unique_ptr<kvm::Vm> vm_;
  std::unique_ptr<GuestRam> ram_;
  std::unique_ptr<kvm::MsiRoutes> msi_routes_;
  Bus pio_{"pio"};
  Bus mmio_{"mmio"};
  std::unique_ptr<KvmPciPlatform> pci_platform_;
  std::shared_ptr<PciHost> pci_host_;
  std::vector<std::unique_ptr<kvm::Vcpu>> vcpus_;
  std::vector<std::thread> threads_;
  EventFd stop_;
  std::unique_ptr<Console> console_;
  DeviceEnvironment device_env_;
  std::vector<std::unique_ptr<DeviceHost>> devices_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
  MachineEnd end_ = MachineEnd::kFatal;
  std::string why_;
  std::atomic<bool> stopping_{false};

  // Pause: vCPU threads park between exits while paused_ is set.
  std::mutex pause_mu_;
  std::condition_variable pause_cv_;
  bool paused_ = false;    // guarded by pause_mu_
  size_t parked_ = 0;      // guarded by pause_mu_
  std::atomic<bool> pause_requested_{false};
  void ParkIfPaused();
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();

  // Declared last: destroyed first, while what it reports on still exists.
  std::unique_ptr<ApiServer> api_;
};

}  // namespace bulkhead
