#include "core/device_host.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/remote_device.h"
#include "sandbox/device_log.h"
#include "sandbox/spawn.h"

namespace bulkhead {
namespace {

constexpr uint32_t kRingCapacity = 64;
constexpr int kControlFd = 3;  // where the device finds its control socket

}  // namespace

std::string DeviceExit::ToString() const {
  std::string s = fmt::format("{} device {}", kind, reason.ToString());
  if (!blocked_syscall.empty()) s += fmt::format(" (seccomp blocked {})", blocked_syscall);
  return s;
}

Result<std::unique_ptr<DeviceHost>> DeviceHost::Start(DeviceSpec spec, const DeviceEnvironment& env,
                                                      std::function<void(const DeviceExit&)> on_exit) {
  kvm::Vm& vm = *env.vm;
  const uint32_t num_vcpus = env.num_vcpus;
  std::unique_ptr<DeviceHost> h(new DeviceHost());
  h->on_exit_ = std::move(on_exit);
  h->stop_ = env.stop;
  const std::string kind = spec.kind;
  h->kind_ = kind;  // before the watcher thread starts: it names the device

  // 1. Everything the device works on, created and kept by the core.
  auto state = MemFd::Create("bulkhead-" + kind + "-state", spec.state_size);
  if (!state) return tl::unexpected(state.error());
  if (auto s = state->Seal(); !s) return tl::unexpected(s.error());
  h->state_ = std::move(*state);
  for (uint32_t v = 0; v < num_vcpus; ++v) {
    auto ring = CreateExitRing(kRingCapacity);
    if (!ring) return tl::unexpected(ring.error());
    h->rings_.push_back(std::move(*ring));
  }
  for (uint32_t gsi : spec.edge_irqs) {
    auto efd = EventFd::Create(0, EFD_NONBLOCK);
    if (!efd) return tl::unexpected(efd.error());
    if (auto s = vm.AddIrqfd(efd->fd(), gsi); !s) return tl::unexpected(s.error());
    h->irqfds_.push_back(std::move(*efd));
  }

  // 2. The process, in its namespaces, with only its control socket.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    return ErrnoError("{} device: socketpair", kind);
  }
  UniqueFd core_end(sv[0]), device_end(sv[1]);
  SpawnSpec ss;
  ss.name = kind;
  ss.binary = spec.binary;
  ss.argv = {spec.binary};
  ss.fds = {{device_end.get(), kControlFd}};
  auto child = Spawn(ss);
  if (!child) return MakeError("{} device failed to start: {}", kind, child.error().message);
  device_end.reset();
  h->pid_ = child->pid;
  h->pidfd_ = std::move(child->pidfd);
  h->log_pipe_ = std::move(child->stderr_pipe);
  ::fcntl(h->log_pipe_.get(), F_SETFL, O_NONBLOCK);
  auto wstop = EventFd::Create(0, EFD_NONBLOCK);
  if (!wstop) return tl::unexpected(wstop.error());
  h->watcher_stop_ = std::move(*wstop);
  h->watcher_ = std::thread([p = h.get()] { p->Watch(); });

  // 3. Hand over the fds.
  auto client = DeviceControlClient::Connect(*env.control_loop, std::move(core_end));
  if (!client) return tl::unexpected(client.error());
  h->control_ = std::move(*client);
  DeviceAttachment att;
  att.kind = kind;
  auto state_dup = h->state_.Dup();
  if (!state_dup) return tl::unexpected(state_dup.error());
  att.state_region = std::move(*state_dup);
  for (uint32_t v = 0; v < num_vcpus; ++v) {
    auto d = h->rings_[v].Dup();
    if (!d) return tl::unexpected(d.error());
    att.rings.push_back({v, std::move(*d)});
  }
  for (size_t i = 0; i < h->irqfds_.size(); ++i) {
    auto d = h->irqfds_[i].Dup();
    if (!d) return tl::unexpected(d.error());
    att.irqs.push_back({spec.edge_irqs[i], std::move(*d), std::nullopt});
  }
  for (auto& irq : spec.irqs) att.irqs.push_back(std::move(irq));
  att.doorbells = std::move(spec.doorbells);
  att.backend = std::move(spec.backend);
  att.guest_ram = std::move(spec.guest_ram);
  att.ram_regions = std::move(spec.ram_regions);
  att.config = std::move(spec.config);
  if (auto s = h->control_->Attach(att); !s) {
    if (auto dead = h->WaitForDeath(std::chrono::seconds(2))) {
      return MakeError("{} device died while attaching: {}", kind, dead->ToString());
    }
    return MakeError("{} device did not attach: {}", kind, s.error().message);
  }

  // 4. The guest can reach it now: one producer per vCPU, shared by all
  // of the device's ranges.
  h->producers_ = std::make_shared<ExitRingProducers>();
  for (const auto& ring : h->rings_) {
    auto d = ring.Dup();
    if (!d) return tl::unexpected(d.error());
    auto p = ExitRingProducer::Attach(std::move(*d));
    if (!p) return tl::unexpected(p.error());
    h->producers_->push_back(std::move(*p));
  }
  for (const auto& r : spec.ranges) {
    Bus& bus = r.space == AccessSpace::kPio ? *env.pio : *env.mmio;
    if (auto s = bus.Insert(r.base, r.length, h->Region(r.space, r.region), kind); !s) {
      return tl::unexpected(s.error());
    }
  }
  spdlog::info("{} device running as pid {}", kind, h->pid_);
  return h;
}

std::shared_ptr<BusDevice> DeviceHost::Region(AccessSpace space, uint8_t region) {
  return std::make_shared<RemoteDevice>(kind_, producers_, space, region, stop_);
}

void DeviceHost::Watch() {
  DeviceLog log(kind_);
  bool log_open = true;
  for (;;) {
    pollfd fds[3] = {{pidfd_.get(), POLLIN, 0}, {watcher_stop_.fd(), POLLIN, 0},
                     {log_open ? log_pipe_.get() : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("device watcher: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[2].revents) {
      auto more = log.ReadFrom(log_pipe_);
      if (!more || !*more) log_open = false;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & POLLIN) {
      // Drain what the device said last (its death note among it).
      while (log_open) {
        auto more = log.ReadFrom(log_pipe_);
        if (!more || !*more) break;
      }
      auto reason = WaitForExit(pidfd_);
      if (!reason) {
        spdlog::error("{} device: {}", kind_, reason.error().message);
        return;
      }
      DeviceExit exit{kind_, *reason, ""};
      if (log.blocked_syscall()) exit.blocked_syscall = log.blocked_syscall()->ToString();
      {
        std::lock_guard lock(exit_mu_);
        exit_ = exit;
      }
      exit_cv_.notify_all();
      if (!shutting_down_.load()) on_exit_(exit);
      return;
    }
  }
}

std::optional<DeviceExit> DeviceHost::WaitForDeath(std::chrono::milliseconds timeout) {
  std::unique_lock lock(exit_mu_);
  exit_cv_.wait_for(lock, timeout, [this] { return exit_.has_value(); });
  return exit_;
}

void DeviceHost::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  if (control_) (void)control_->Shutdown(std::chrono::milliseconds(500));
  if (pidfd_) {
    pollfd p{pidfd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      // Did not leave in time: it gets no more chances.
      ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    }
  }
  (void)watcher_stop_.Signal();
  if (watcher_.joinable()) watcher_.join();
  if (pidfd_) (void)WaitForExit(pidfd_);
  pidfd_.reset();
}

DeviceHost::~DeviceHost() {
  Shutdown();
  control_.reset();
}

}  // namespace bulkhead
