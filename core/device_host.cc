#include "core/device_host.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <spdlog/spdlog.h>

#include "sandbox/device_log.h"
#include "sandbox/spawn.h"

namespace bulkhead {
namespace {

constexpr uint32_t kRingCapacity = 64;
constexpr int kControlFd = 3;  // where the device finds its control socket
constexpr std::chrono::seconds kAttachTimeout{5};

void Kill(const UniqueFd& pidfd) { ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0); }

}  // namespace

std::string DeviceExit::ToString() const {
  std::string s = fmt::format("{} device {}", kind, reason.ToString());
  if (!blocked_syscall.empty()) s += fmt::format(" (seccomp blocked {})", blocked_syscall);
  return s;
}

const char* ToString(DeviceSnapshot::State state) {
  switch (state) {
    case DeviceSnapshot::State::kStarting: return "starting";
    case DeviceSnapshot::State::kRunning: return "running";
    case DeviceSnapshot::State::kRestarting: return "restarting";
    case DeviceSnapshot::State::kFailed: return "failed";
    case DeviceSnapshot::State::kStopped: return "stopped";
  }
  return "?";
}

// One incarnation of the device: its process, its log, its control client.
// Each has its own KJ event loop: they live on the supervisor thread.
struct DeviceHost::Process {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd log_pipe;
  std::unique_ptr<DeviceLog> log;
  bool log_open = true;
  std::unique_ptr<ControlLoop> loop;
  std::unique_ptr<DeviceControlClient> control;

  ~Process() {
    control.reset();  // before the loop it runs on
    loop.reset();
  }
  // Relays what the device wrote; false once the pipe is closed.
  void DrainLog() {
    while (log_open) {
      auto more = log->ReadFrom(log_pipe);
      if (!more || !*more) log_open = false;
      if (!more || !*more || log_pipe.get() < 0) break;
      pollfd p{log_pipe.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
    }
  }
};

Result<std::unique_ptr<DeviceHost>> DeviceHost::Start(DeviceSpec spec, const DeviceEnvironment& env,
                                                      std::function<void(const DeviceExit&)> on_failed) {
  std::unique_ptr<DeviceHost> h(new DeviceHost());
  h->kind_ = spec.kind;
  h->binary_ = spec.binary;
  h->stop_ = env.stop;
  h->policy_ = env.restart;
  h->on_failed_ = std::move(on_failed);
  h->snapshot_.kind = spec.kind;
  const std::string& kind = h->kind_;

  // 1. Everything the device works on, created and kept by the core.
  auto state = MemFd::Create("bulkhead-" + kind + "-state", spec.state_size);
  if (!state) return tl::unexpected(state.error());
  if (auto s = state->Seal(); !s) return tl::unexpected(s.error());
  h->state_ = std::move(*state);
  for (uint32_t v = 0; v < env.num_vcpus; ++v) {
    auto ring = CreateExitRing(kRingCapacity);
    if (!ring) return tl::unexpected(ring.error());
    h->rings_.push_back(std::move(*ring));
  }
  for (uint32_t gsi : spec.edge_irqs) {
    auto efd = EventFd::Create(0, EFD_NONBLOCK);
    if (!efd) return tl::unexpected(efd.error());
    if (auto s = env.vm->AddIrqfd(efd->fd(), gsi); !s) return tl::unexpected(s.error());
    h->irqfds_.push_back(std::move(*efd));
  }

  // 2. The attachment every process of this device gets: copies of all of it.
  DeviceAttachment& att = h->attachment_;
  att.kind = kind;
  auto state_dup = h->state_.Dup();
  if (!state_dup) return tl::unexpected(state_dup.error());
  att.state_region = std::move(*state_dup);
  for (uint32_t v = 0; v < env.num_vcpus; ++v) {
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

  // 3. The first process, on the supervisor thread.
  auto wake = EventFd::Create(0, EFD_NONBLOCK);
  if (!wake) return tl::unexpected(wake.error());
  h->wake_ = std::move(*wake);
  auto started = std::make_shared<std::promise<Status>>();
  auto first = started->get_future();
  h->supervisor_ = std::thread([p = h.get(), started] { p->Supervise(*started); });
  if (auto s = first.get(); !s) return tl::unexpected(s.error());  // ~DeviceHost joins

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
  return h;
}

std::shared_ptr<BusDevice> DeviceHost::Region(AccessSpace space, uint8_t region) {
  return std::make_shared<RemoteDevice>(kind_, producers_, space, region, stop_, detached_);
}

Status DeviceHost::Launch() {
  auto p = std::make_unique<Process>();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    return ErrnoError("{} device: socketpair", kind_);
  }
  UniqueFd core_end(sv[0]), device_end(sv[1]);
  SpawnSpec ss;
  ss.name = kind_;
  ss.binary = binary_;
  ss.argv = {binary_};
  ss.fds = {{device_end.get(), kControlFd}};
  auto child = Spawn(ss);
  if (!child) return MakeError("{} device failed to start: {}", kind_, child.error().message);
  device_end.reset();
  p->pid = child->pid;
  p->pidfd = std::move(child->pidfd);
  p->log_pipe = std::move(child->stderr_pipe);
  ::fcntl(p->log_pipe.get(), F_SETFL, O_NONBLOCK);
  p->log = std::make_unique<DeviceLog>(kind_);

  auto fail = [&](const Error& e) -> Status {
    // Give a process that is dying a moment to say why (its death note).
    pollfd pf{p->pidfd.get(), POLLIN, 0};
    const bool died = ::poll(&pf, 1, 2000) > 0;
    p->DrainLog();
    if (!died) Kill(p->pidfd);
    auto reason = WaitForExit(p->pidfd);
    std::string why = e.message;
    if (died && reason) {
      DeviceExit exit{kind_, *reason, ""};
      if (p->log->blocked_syscall()) exit.blocked_syscall = p->log->blocked_syscall()->ToString();
      why = fmt::format("died while attaching: {}", exit.ToString());
    }
    return MakeError("{} device did not attach: {}", kind_, why);
  };
  auto loop = ControlLoop::Create();
  if (!loop) return fail(loop.error());
  p->loop = std::move(*loop);
  auto client = DeviceControlClient::Connect(*p->loop, std::move(core_end));
  if (!client) return fail(client.error());
  p->control = std::move(*client);
  if (auto s = p->control->Attach(attachment_, kAttachTimeout); !s) return fail(s.error());
  process_ = std::move(p);
  std::lock_guard lock(snapshot_mu_);
  snapshot_.pid = process_->pid;
  snapshot_.state = DeviceSnapshot::State::kRunning;
  return {};
}

void DeviceHost::Supervise(std::promise<Status>& started) {
  if (auto s = Launch(); !s) {
    started.set_value(tl::unexpected(s.error()));
    CloseTasks();
    return;
  }
  spdlog::info("{} device running as pid {}", kind_, process_->pid);
  started.set_value({});
  while (!stopping_.load()) {
    if (!process_) {  // failed: only tasks and the stop request remain
      pollfd w{wake_.fd(), POLLIN, 0};
      if (::poll(&w, 1, -1) > 0) {
        (void)wake_.TryConsume();
        RunTasks();
      }
      continue;
    }
    pollfd fds[3] = {{process_->pidfd.get(), POLLIN, 0}, {wake_.fd(), POLLIN, 0},
                     {process_->log_open ? process_->log_pipe.get() : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{} device supervisor: poll: {}", kind_, std::strerror(errno));
      return;
    }
    if (fds[2].revents) process_->DrainLog();
    if (fds[1].revents) {
      (void)wake_.TryConsume();
      RunTasks();
    }
    if (process_ && (fds[0].revents & POLLIN) && !stopping_.load()) OnDeath();
  }
  CloseTasks();
}

void DeviceHost::CloseTasks() {
  // Whatever was queued runs here, on the thread that owns the control
  // loops; later callers get an error instead of waiting forever.
  for (;;) {
    RunTasks();
    std::lock_guard lock(tasks_mu_);
    if (tasks_.empty()) {
      tasks_closed_ = true;
      return;
    }
  }
}

bool DeviceHost::BudgetAllowsRestart() {
  const auto now = std::chrono::steady_clock::now();
  crashes_.push_back(now);
  while (!crashes_.empty() && now - crashes_.front() > policy_.window) crashes_.pop_front();
  return crashes_.size() <= policy_.max_restarts;
}

void DeviceHost::OnDeath() {
  const auto died_at = std::chrono::steady_clock::now();
  process_->DrainLog();
  auto reason = WaitForExit(process_->pidfd);
  DeviceExit exit{kind_, reason ? *reason : ExitReason{}, ""};
  if (process_->log->blocked_syscall()) exit.blocked_syscall = process_->log->blocked_syscall()->ToString();
  const pid_t old_pid = process_->pid;
  process_.reset();
  const bool asked = std::exchange(operator_restart_, false);
  {
    std::lock_guard lock(snapshot_mu_);
    snapshot_.last_exit = exit;
    snapshot_.pid = -1;
    snapshot_.state = DeviceSnapshot::State::kRestarting;
  }
  if (!asked && !BudgetAllowsRestart()) {
    spdlog::error("{} (pid {}); more than {} restarts in {} s: the device has failed", exit.ToString(),
                  old_pid, policy_.max_restarts, policy_.window.count());
    {
      std::lock_guard lock(snapshot_mu_);
      snapshot_.state = DeviceSnapshot::State::kFailed;
    }
    on_failed_(exit);
    return;
  }
  spdlog::warn("{} (pid {}){}; restarting it", exit.ToString(), old_pid,
               asked ? " as asked" : "");
  // A new process until one attaches or the budget runs out.
  for (;;) {
    auto s = Launch();
    if (s) break;
    spdlog::error("{}", s.error().message);
    if (stopping_.load() || !BudgetAllowsRestart()) {
      {
        std::lock_guard lock(snapshot_mu_);
        snapshot_.state = DeviceSnapshot::State::kFailed;
      }
      on_failed_(exit);
      return;
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - died_at).count();
  std::lock_guard lock(snapshot_mu_);
  ++snapshot_.restarts;
  snapshot_.last_recovery_ms = ms;
  spdlog::info("{} device restarted as pid {} in {:.1f} ms (restart {})", kind_, snapshot_.pid, ms,
               snapshot_.restarts);
}

void DeviceHost::RunTasks() {
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard lock(tasks_mu_);
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

template <class F>
auto DeviceHost::Call(F&& task) -> decltype(task()) {
  using R = decltype(task());
  std::packaged_task<R()> job(std::forward<F>(task));
  auto result = job.get_future();
  {
    std::lock_guard lock(tasks_mu_);
    if (tasks_closed_) return MakeError("{} device is stopped", kind_);
    tasks_.emplace_back([&job] { job(); });
  }
  (void)wake_.Signal();
  return result.get();
}

DeviceSnapshot DeviceHost::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

pid_t DeviceHost::pid() const { return Snapshot().pid; }

Result<DeviceHealth> DeviceHost::Health() {
  return Call([this]() -> Result<DeviceHealth> {
    if (!process_) return MakeError("{} device has no process", kind_);
    return process_->control->Health(std::chrono::milliseconds(500));
  });
}

Status DeviceHost::Restart() {
  return Call([this]() -> Status {
    if (!process_) return MakeError("{} device has failed; it is not restarted any more", kind_);
    operator_restart_ = true;
    Kill(process_->pidfd);  // the pidfd wakes the loop: OnDeath restarts it
    return {};
  });
}

void DeviceHost::Detach() { detached_->store(true); }

void DeviceHost::Shutdown() {
  if (!supervisor_.joinable()) return;
  if (!stopping_.exchange(true)) {
    std::lock_guard lock(tasks_mu_);
    tasks_.emplace_back([this] {
      if (!process_) return;
      (void)process_->control->Shutdown(std::chrono::milliseconds(500));
      pollfd p{process_->pidfd.get(), POLLIN, 0};
      // Did not leave in time: it gets no more chances.
      if (::poll(&p, 1, 1000) <= 0) Kill(process_->pidfd);
      process_->DrainLog();
      (void)WaitForExit(process_->pidfd);
      process_.reset();
    });
  }
  (void)wake_.Signal();
  supervisor_.join();  // it runs the shutdown task on its way out at the latest
  std::lock_guard lock(snapshot_mu_);
  snapshot_.state = DeviceSnapshot::State::kStopped;
  snapshot_.pid = -1;
}

DeviceHost::~DeviceHost() {
  Shutdown();
  if (process_) {  // Start failed half-way
    Kill(process_->pidfd);
    (void)WaitForExit(process_->pidfd);
  }
}

}  // namespace bulkhead
