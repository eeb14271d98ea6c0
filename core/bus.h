// Bus: maps guest PIO or MMIO address ranges to the device that answers them,
// in the core (PCI host bridge, ACPI power registers, RTC) or in a device
// process (through a RemoteDevice that forwards over the exit ring).
//
// Ranges are validated when inserted (non-empty, no overflow, no overlap), so
// a lookup never has to choose. An access that hits nothing, or that crosses
// the end of a range, is counted and logged once per address; a read of it
// returns all-ones like a floating bus. Never fatal: the guest is hostile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <mutex>
#include <atomic>

#include "ipc/result.h"

namespace bulkhead {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `offset` is relative to the base the device was inserted at;
  // data.size() is the access width (1, 2, 4 or 8). `data` is zero-filled
  // before Read, so a device that leaves bytes alone never leaks stale data.
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}

  [[nodiscard]] Status Insert(uint64_t base, uint64_t len, std::shared_ptr<BusDevice> device,
                              std::string name);
  // Removes the range starting exactly at `base` (a PCI BAR being moved).
  [[nodiscard]] Status Remove(uint64_t base);

  // True when a device handled the access.
  bool Read(uint64_t addr, std::span<uint8_t> data);
  bool Write(uint64_t addr, std::span<const uint8_t> data);

  [[nodiscard]] uint64_t unhandled_accesses() const { return unhandled_.load(std::memory_order_relaxed); }

 private:
  struct Range {
    uint64_t len;
    std::shared_ptr<BusDevice> device;
    std::string name;
  };
  // The device whose range holds all of [addr, addr+len), or null.
  [[nodiscard]] std::pair<std::shared_ptr<BusDevice>, uint64_t> Find(uint64_t addr, uint64_t len) const;
  void Unhandled(uint64_t addr, size_t len, bool write);

  std::string name_;
  mutable std::shared_mutex mu_;
  std::map<uint64_t, Range> ranges_;  // by base
  std::atomic<uint64_t> unhandled_{0};
  std::mutex logged_mu_;
  std::set<uint64_t> logged_;  // addresses already reported
};

}  // namespace bulkhead
