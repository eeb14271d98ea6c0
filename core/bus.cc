#include "core/bus.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace bulkhead {
namespace {
// Bounds the set of logged addresses: a guest sweeping the address space must
// not grow the core's memory without limit.
constexpr size_t kMaxLoggedAddresses = 4096;
}  // namespace

Status Bus::Insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device, std::string name) {
  if (len == 0) return MakeError("{} bus: {} has an empty range at {:#x}", name_, name, base);
  if (base + len < base) return MakeError("{} bus: {} range {:#x}+{:#x} overflows", name_, name, base, len);
  if (!device) return MakeError("{} bus: {} has no device", name_, name);
  std::unique_lock lock(mu_);
  // The first range starting after base, and the one before it.
  auto next = ranges_.upper_bound(base);
  if (next != ranges_.end() && next->first < base + len) {
    return MakeError("{} bus: {} [{:#x}, {:#x}) overlaps {} at {:#x}", name_, name, base, base + len,
                     next->second.name, next->first);
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.len > base) {
      return MakeError("{} bus: {} [{:#x}, {:#x}) overlaps {} at {:#x}", name_, name, base,
                       base + len, prev->second.name, prev->first);
    }
  }
  ranges_.emplace(base, Range{len, std::move(device), std::move(name)});
  return {};
}

Status Bus::Remove(uint64_t base) {
  std::unique_lock lock(mu_);
  if (ranges_.erase(base) == 0) return MakeError("{} bus: no range at {:#x}", name_, base);
  return {};
}

std::pair<std::shared_ptr<BusDevice>, uint64_t> Bus::Find(uint64_t addr, uint64_t len) const {
  std::shared_lock lock(mu_);
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return {};
  --it;
  const uint64_t offset = addr - it->first;
  // The whole access must be inside the range (no straddling into a neighbour).
  if (offset >= it->second.len || len > it->second.len - offset) return {};
  return {it->second.device, offset};
}

void Bus::Unhandled(uint64_t addr, size_t len, bool write) {
  unhandled_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(logged_mu_);
  if (logged_.size() >= kMaxLoggedAddresses || !logged_.insert(addr).second) return;
  spdlog::warn("{} bus: guest {} of {} byte(s) at {:#x} hits no device (logged once per address)",
               name_, write ? "write" : "read", len, addr);
}

bool Bus::Read(uint64_t addr, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  auto [device, offset] = Find(addr, data.size());
  if (!device) {
    std::memset(data.data(), 0xFF, data.size());
    Unhandled(addr, data.size(), false);
    return false;
  }
  device->Read(offset, data);
  return true;
}

bool Bus::Write(uint64_t addr, std::span<const uint8_t> data) {
  auto [device, offset] = Find(addr, data.size());
  if (!device) {
    Unhandled(addr, data.size(), true);
    return false;
  }
  device->Write(offset, data);
  return true;
}

}  // namespace bulkhead
