#include "core/machine.h"

#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/api/api_server.h"
#include "core/backends/tap.h"
#include "core/boot/linux_loader.h"
#include "core/devices/cmos_rtc.h"
#include "core/exit_handler.h"
#include "core/pci/host_bridge.h"
#include "core/remote_device.h"

namespace bulkhead {
namespace {

// Kicks a vCPU thread out of KVM_RUN. The handler does nothing: the point is
// that KVM_RUN returns EINTR.
constexpr int kKickSignal = SIGUSR1;

void InstallKickHandler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return
  ::sigaction(kKickSignal, &sa, nullptr);
}

// Reads a user-named file whole. Only regular files up to 2 GiB: a
// directory, a device or a FIFO is a user error, not something to read from.
Result<std::vector<uint8_t>> ReadFile(const std::string& path, const char* what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("cannot read {} '{}'", what, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return ErrnoError("cannot stat {} '{}'", what, path);
  if (!S_ISREG(st.st_mode)) return MakeError("{} '{}' is not a regular file", what, path);
  constexpr off_t kMaxSize = off_t{2} << 30;
  if (st.st_size > kMaxSize) return MakeError("{} '{}' is larger than 2 GiB", what, path);
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("error reading {} '{}'", what, path);
    if (n == 0) return MakeError("{} '{}' shrank while being read", what, path);
    done += static_cast<size_t>(n);
  }
  return data;
}

}  // namespace

std::string DeviceBinary(const std::string& device_dir, const std::string& kind) {
  const std::string flat = device_dir + "/bulkhead-" + kind;
  const std::string nested = device_dir + "/" + kind + "/bulkhead-" + kind;
  return ::access(flat.c_str(), F_OK) != 0 && ::access(nested.c_str(), F_OK) == 0 ? nested : flat;
}

Result<std::unique_ptr<Machine>> Machine::Create(const MachineConfig& config) {
  std::unique_ptr<Machine> m(new Machine());
  m->config_ = config;
  // User input first, so a typo fails before anything is created.
  auto layout = boot::MemoryLayout::ForRamSize(config.memory);
  if (!layout) return tl::unexpected(layout.error());
  auto kernel = ReadFile(config.kernel_path, "kernel");
  if (!kernel) return tl::unexpected(kernel.error());
  std::vector<uint8_t> initrd;
  if (!config.initrd_path.empty()) {
    auto data = ReadFile(config.initrd_path, "initrd");
    if (!data) return tl::unexpected(data.error());
    initrd = std::move(*data);
  }
  std::vector<const char*> kinds = {"serial"};
  if (config.net) kinds.push_back("net");
  if (config.disk || config.cdrom) kinds.push_back("ahci");
  for (const char* kind : kinds) {
    const std::string bin = DeviceBinary(config.device_dir, kind);
    if (::access(bin.c_str(), X_OK) != 0) return ErrnoError("device binary {}", bin);
  }
  // Backends the user named: opened now, so a bad path fails before the VM exists.
  std::optional<DiskImage> disk, cdrom;
  if (config.disk) {
    auto d = OpenDiskImage(*config.disk, false);
    if (!d) return tl::unexpected(d.error());
    disk = std::move(*d);
  }
  if (config.cdrom) {
    auto d = OpenDiskImage(*config.cdrom, true);
    if (!d) return tl::unexpected(d.error());
    cdrom = std::move(*d);
  }
  UniqueFd tap;
  if (config.net) {
    auto t = OpenTap(config.net->tap);
    if (!t) return tl::unexpected(t.error());
    tap = std::move(*t);
  }

  // Guest RAM and the boot image before KVM: a corrupt kernel is a user
  // error that must be reported the same way on any host.
  auto ram = GuestRam::Create(*layout);
  if (!ram) return tl::unexpected(ram.error());
  m->ram_ = std::make_unique<GuestRam>(std::move(*ram));
  auto boot_state = boot::LoadLinux(m->ram_->low(), *layout, *kernel, initrd, config.cmdline,
                                    static_cast<int>(config.cpus));
  if (!boot_state) return tl::unexpected(boot_state.error());

  auto kvm = kvm::KvmSystem::Open(config.kvm_path);
  if (!kvm) return tl::unexpected(kvm.error());
  m->kvm_ = std::make_unique<kvm::KvmSystem>(std::move(*kvm));
  const auto max_cpus = static_cast<uint32_t>(std::min(m->kvm_->max_vcpus(), boot::kMaxVcpus));
  if (config.cpus < 1 || config.cpus > max_cpus) {
    return MakeError("--cpus {}: this host supports 1 to {}", config.cpus, max_cpus);
  }
  auto vm = kvm::Vm::Create(*m->kvm_);
  if (!vm) return tl::unexpected(vm.error());
  m->vm_ = std::make_unique<kvm::Vm>(std::move(*vm));
  if (auto s = m->ram_->Register(*m->vm_); !s) return tl::unexpected(s.error());
  m->msi_routes_ = std::make_unique<kvm::MsiRoutes>(*m->vm_);
  m->pci_platform_ = std::make_unique<KvmPciPlatform>(*m->vm_, *m->msi_routes_, m->pio_, m->mmio_);
  m->pci_host_ = std::make_shared<PciHost>();

  // Platform devices that live in the core.
  Machine* self = m.get();
  auto power = std::make_shared<AcpiPowerDevice>([self](VmEvent e) {
    self->End(e == VmEvent::kPowerOff ? MachineEnd::kPowerOff : MachineEnd::kReboot,
              e == VmEvent::kPowerOff ? "guest powered off" : "guest rebooted");
  });
  auto i8042 = std::make_shared<I8042ResetDevice>([self](VmEvent) {
    self->End(MachineEnd::kReboot, "guest rebooted (i8042 reset)");
  });
  struct PioDevice {
    uint16_t base;
    uint16_t length;
    std::shared_ptr<BusDevice> device;
    const char* name;
  };
  const PioDevice platform[] = {
      {boot::kAcpiSleepControlPort, 3, power, "acpi-power"},
      // 0x60-0x64; port 0x61 (speaker/PIT gate) never exits: the in-kernel PIT has it.
      {0x60, 5, i8042, "i8042-reset"},
      {0x70, 2, std::make_shared<CmosRtc>(), "cmos-rtc"},
      {0x80, 1, std::make_shared<SinkDevice>(), "post-port"},
      {boot::kPciConfigAddressPort, 8, m->pci_host_, "pci-host"},
  };
  for (const auto& d : platform) {
    if (auto s = m->pio_.Insert(d.base, d.length, d.device, d.name); !s) return tl::unexpected(s.error());
  }

  for (uint32_t i = 0; i < config.cpus; ++i) {
    auto v = kvm::Vcpu::Create(*m->kvm_, *m->vm_, i, config.cpus);
    if (!v) return tl::unexpected(v.error());
    m->vcpus_.push_back(std::make_unique<kvm::Vcpu>(std::move(*v)));
  }
  if (auto s = m->vcpus_[0]->SetBootState(*boot_state); !s) return tl::unexpected(s.error());

  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  m->stop_ = std::move(*stop);

  // The serial port: a device process behind the console.
  UniqueFd serial_backend;
  auto console = Console::Open(config.serial, &serial_backend);
  if (!console) return tl::unexpected(console.error());
  m->console_ = std::move(*console);
  DeviceSpec serial;
  serial.kind = "serial";
  serial.binary = DeviceBinary(config.device_dir, "serial");
  serial.ranges = {{AccessSpace::kPio, boot::kSerialPort, 8, 0}};
  serial.edge_irqs = {boot::kSerialIrq};
  serial.backend.push_back(std::move(serial_backend));
  m->device_env_ = {m->vm_.get(), &m->pio_, &m->mmio_, config.cpus, &m->stop_, config.restart};
  if (auto h = m->StartDevice(std::move(serial)); !h) return tl::unexpected(h.error());

  // PCI devices, each a function on bus 0 served by its own process.
  BarAllocator bars(boot::kPciMmio32Start, boot::kPciMmio32End);
  if (config.net) {
    if (auto s = m->StartNet(std::move(tap), bars); !s) return tl::unexpected(s.error());
  }
  if (disk || cdrom) {
    if (auto s = m->StartAhci(std::move(disk), std::move(cdrom), bars); !s) {
      return tl::unexpected(s.error());
    }
  }

  // Last: the management API can see everything from its first call on.
  if (!config.api_socket.empty()) {
    auto api = ApiServer::Start(config.api_socket, *m);
    if (!api) return tl::unexpected(api.error());
    m->api_ = std::move(*api);
  }
  return m;
}

void Machine::DeviceFailed(DeviceHost* host, const DeviceExit& exit) {
  if (config_.detach_failed_devices && host) {
    spdlog::error("{}: detached; the VM goes on without it", exit.ToString());
    host->Detach();
    return;
  }
  End(MachineEnd::kFatal, fmt::format("{}, and its restart budget is spent", exit.ToString()));
}

void Machine::End(MachineEnd end, std::string why) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  end_ = end;
  why_ = std::move(why);
  cv_.notify_all();
}

void Machine::VcpuThread(size_t index) {
  SetCurrentVcpu(static_cast<uint32_t>(index));
  kvm::Vcpu& vcpu = *vcpus_[index];
  while (!stopping_.load(std::memory_order_acquire)) {
    ParkIfPaused();  // also a vCPU that starts while the VM is paused
    auto ran = vcpu.Run();
    if (!ran) {
      End(MachineEnd::kFatal, ran.error().message);
      return;
    }
    if (!*ran) {
      vcpu.ClearKick();
      continue;  // interrupted: look at stopping_ (and a pause) again
    }
    ExitResult r = HandleExit(vcpu.run(), kvm_->vcpu_mmap_size(), pio_, mmio_);
    switch (r.action) {
      case ExitAction::kContinue:
        break;
      case ExitAction::kPowerOff:
        End(MachineEnd::kPowerOff, r.detail);
        return;
      case ExitAction::kReboot:
        End(MachineEnd::kReboot, r.detail);
        return;
      case ExitAction::kFatal:
        End(MachineEnd::kFatal, fmt::format("vCPU {}: {}", index, r.detail));
        return;
    }
  }
}

void Machine::StopVcpus() {
  stopping_.store(true, std::memory_order_release);
  {
    std::lock_guard lock(pause_mu_);
    paused_ = false;  // parked vCPUs leave
    pause_requested_.store(false);
  }
  pause_cv_.notify_all();
  (void)stop_.Signal();  // vCPUs waiting on a device reply give up
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (threads_[i].joinable()) vcpus_[i]->Kick(threads_[i].native_handle(), kKickSignal);
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

MachineEnd Machine::Run(std::string* error) {
  InstallKickHandler();
  console_->Start([this] { End(MachineEnd::kUserQuit, "stopped from the console"); });
  for (size_t i = 0; i < vcpus_.size(); ++i) threads_.emplace_back([this, i] { VcpuThread(i); });
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return ended_; });
  }
  // The API first: its calls reach the vCPUs and devices stopped below.
  api_.reset();
  StopVcpus();
  for (auto& d : devices_) d->Shutdown();
  console_->Stop();
  if (error) *error = why_;
  return end_;
}

Machine::~Machine() {
  api_.reset();
  StopVcpus();
  devices_.clear();
  console_.reset();
}

}  // namespace bulkhead
