#include "core/remote_device.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace bulkhead {
namespace {
thread_local uint32_t current_vcpu = 0;
// Failures are logged up to this many times per device, then only counted.
constexpr uint64_t kLoggedFailures = 8;
}  // namespace

void SetCurrentVcpu(uint32_t index) { current_vcpu = index; }
uint32_t CurrentVcpu() { return current_vcpu; }

RemoteDevice::RemoteDevice(std::string name, std::shared_ptr<ExitRingProducers> rings, AccessSpace space,
                           uint8_t region, const EventFd* stop,
                           std::shared_ptr<const std::atomic<bool>> detached)
    : name_(std::move(name)),
      rings_(std::move(rings)),
      detached_(std::move(detached)),
      space_(space),
      region_bits_(static_cast<uint64_t>(region) << kRegionShift) {
  wait_.interrupt = stop;
  // A bounded wait, retried: a device that is slow (or a wake-up that got
  // lost) costs a re-kick and a log line, never a vCPU stuck forever.
  wait_.timeout = kRekickAfter;
}

bool RemoteDevice::Retry(const Error& e, const char* what, uint64_t offset) {
  if (e.errnum != ETIMEDOUT || detached()) return false;
  if (slow_.fetch_add(1, std::memory_order_relaxed) < kLoggedFailures) {
    spdlog::warn("{}: no answer to a {} at {:#x} after {} ms; re-kicking the device", name_, what,
                 offset, kRekickAfter.count());
  }
  return true;
}

void RemoteDevice::Read(uint64_t offset, std::span<uint8_t> data) {
  const uint32_t vcpu = CurrentVcpu();
  if (vcpu >= rings_->size() || detached()) {
    std::memset(data.data(), 0xFF, data.size());
    return;
  }
  auto& ring = (*rings_)[vcpu];
  auto reply = ring.Read(space_, region_bits_ | offset, static_cast<uint8_t>(data.size()), wait_);
  while (!reply && ring.read_pending() && Retry(reply.error(), "read", offset)) {
    reply = ring.WaitReply(wait_);
  }
  if (!reply) {
    // The VM is stopping, or the ring is corrupt: the read sees all-ones,
    // and the ring forgets it so the next access is not refused.
    ring.AbandonRead();
    std::memset(data.data(), 0xFF, data.size());
    if (failed_.fetch_add(1, std::memory_order_relaxed) < kLoggedFailures) {
      spdlog::warn("{}: read at {:#x} failed: {}", name_, offset, reply.error().message);
    }
    return;
  }
  const uint64_t v = *reply;
  std::memcpy(data.data(), &v, std::min(data.size(), sizeof(v)));
}

void RemoteDevice::Write(uint64_t offset, std::span<const uint8_t> data) {
  const uint32_t vcpu = CurrentVcpu();
  if (vcpu >= rings_->size() || detached()) return;
  auto& ring = (*rings_)[vcpu];
  ExitRequest req;
  req.space = space_;
  req.size = static_cast<uint8_t>(data.size());
  req.is_write = true;
  req.addr = region_bits_ | offset;
  std::memcpy(&req.data, data.data(), std::min(data.size(), sizeof(req.data)));
  auto posted = ring.Post(req, wait_);
  while (!posted && Retry(posted.error(), "write", offset)) posted = ring.Post(req, wait_);
  if (auto s = posted; !s) {
    if (failed_.fetch_add(1, std::memory_order_relaxed) < kLoggedFailures) {
      spdlog::warn("{}: write at {:#x} failed: {}", name_, offset, s.error().message);
    }
  }
}

}  // namespace bulkhead
