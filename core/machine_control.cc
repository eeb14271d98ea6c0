// Machine as VmControl: what the management API sees and steers. Pausing
// parks the vCPU threads between exits (a kick makes KVM_RUN return); a vCPU
// that is waiting on a device (one being restarted, say) parks once that
// access is answered.
#include <spdlog/spdlog.h>

#include "core/machine.h"

namespace bulkhead {
namespace {
constexpr int kKickSignal = SIGUSR1;  // as in machine.cc
constexpr std::chrono::seconds kPauseTimeout{2};
}  // namespace

void Machine::ParkIfPaused() {
  if (!pause_requested_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(pause_mu_);
  ++parked_;
  pause_cv_.notify_all();
  pause_cv_.wait(lock, [this] { return !paused_ || stopping_.load(); });
  --parked_;
}

VmStatus Machine::GetStatus() {
  VmStatus s;
  {
    std::lock_guard lock(pause_mu_);
    s.paused = paused_;
  }
  s.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  s.vcpus = config_.cpus;
  s.memory_bytes = config_.memory;
  return s;
}

std::vector<DeviceInfo> Machine::Devices() {
  std::vector<DeviceInfo> out;
  for (const auto& d : devices_) {
    const DeviceSnapshot snap = d->Snapshot();
    DeviceInfo info;
    info.name = snap.kind;
    info.kind = snap.kind;
    info.pid = snap.pid;
    info.state = ToString(snap.state);
    info.restarts = snap.restarts;
    if (snap.last_exit) {
      info.last_exit = snap.last_exit->reason.ToString();
      info.blocked_syscall = snap.last_exit->blocked_syscall;
    }
    info.last_recovery_ms = snap.last_recovery_ms;
    if (snap.state == DeviceSnapshot::State::kRunning) {
      if (auto h = d->Health()) {
        info.requests_served = h->requests_served;
        info.requests_replayed = h->requests_replayed;
        info.malformed_requests = h->malformed_requests;
        info.counters = std::move(h->counters);
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

Status Machine::RestartDevice(const std::string& name) {
  for (const auto& d : devices_) {
    if (d->Snapshot().kind == name) return d->Restart();
  }
  return MakeError("no device named '{}'", name);
}

Status Machine::Pause() {
  std::unique_lock lock(pause_mu_);
  if (paused_) return {};
  paused_ = true;
  pause_requested_.store(true, std::memory_order_release);
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (threads_[i].joinable()) vcpus_[i]->Kick(threads_[i].native_handle(), kKickSignal);
  }
  const bool all = pause_cv_.wait_for(lock, kPauseTimeout, [this] { return parked_ == threads_.size(); });
  if (!all) {
    spdlog::warn("pause: {} of {} vCPUs parked so far; the rest park after their current access",
                 parked_, threads_.size());
  }
  spdlog::info("VM paused");
  return {};
}

Status Machine::Resume() {
  {
    std::lock_guard lock(pause_mu_);
    if (!paused_) return {};
    paused_ = false;
    pause_requested_.store(false, std::memory_order_release);
  }
  pause_cv_.notify_all();
  spdlog::info("VM resumed");
  return {};
}

Status Machine::PowerOff() {
  End(MachineEnd::kPowerOff, "powered off through the management API");
  return {};
}

}  // namespace bulkhead
