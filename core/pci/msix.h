// MsixVectors: the MSI-X table and pending-bit array of one PCI function,
// held in the core (DESIGN.md), and the routing that follows from them.
//
// Each vector has an eventfd the device process writes to raise it and a GSI
// whose MSI route mirrors the table entry. The vector's eventfd is a KVM irqfd
// on that GSI exactly while MSI-X is enabled, the function is not masked and
// the entry is not masked. Masking deassigns the irqfd, so the device's later
// writes stay counted in the eventfd: that count IS the pending bit (the PBA
// reads it without consuming it). Unmasking reassigns the irqfd, and KVM
// delivers at once when the eventfd already holds a count. No thread, no
// polling, and the device never needs to know about masking.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "core/bus.h"
#include "core/pci/pci_platform.h"
#include "ipc/control.h"
#include "ipc/event_fd.h"

namespace bulkhead {

class MsixVectors {
 public:
  static constexpr uint32_t kEntrySize = 16;
  static constexpr uint16_t kMaxVectors = 2048;

  [[nodiscard]] static Result<std::unique_ptr<MsixVectors>> Create(PciPlatform& platform,
                                                                   std::string name,
                                                                   uint16_t count);

  [[nodiscard]] uint16_t count() const { return static_cast<uint16_t>(vectors_.size()); }
  // Copies of the vectors' eventfds for the device (ipc/device_abi/pci_device.h).
  [[nodiscard]] Result<std::vector<IrqAttachment>> DeviceIrqs() const;

  // The capability's Message Control bits changed.
  void SetControl(bool enabled, bool function_masked);
  [[nodiscard]] bool enabled() const;

  // Table and PBA accesses; offsets relative to the start of each structure.
  // 4- and 8-byte aligned accesses; others read all-ones / are dropped and
  // counted.
  void ReadTable(uint64_t offset, std::span<uint8_t> data);
  void WriteTable(uint64_t offset, std::span<const uint8_t> data);
  void ReadPba(uint64_t offset, std::span<uint8_t> data);

  [[nodiscard]] uint64_t bad_accesses() const { return bad_accesses_; }
  [[nodiscard]] bool assigned(uint16_t vector) const;  // for tests

 private:
  struct Vector {
    uint32_t address_lo = 0;
    uint32_t address_hi = 0;
    uint32_t data = 0;
    uint32_t control = 1;  // bit 0: masked (the reset value)
    uint32_t gsi = 0;
    EventFd trigger;
    bool assigned = false;
  };
  MsixVectors(PciPlatform& platform, std::string name) : platform_(platform), name_(std::move(name)) {}
  // Brings vector i's route and irqfd in line with the table. Called with mu_ held.
  void Sync(size_t i);
  [[nodiscard]] bool Pending(const Vector& v) const;

  PciPlatform& platform_;
  std::string name_;
  mutable std::mutex mu_;
  std::vector<Vector> vectors_;
  bool enabled_ = false;
  bool function_masked_ = false;
  uint64_t bad_accesses_ = 0;
  uint64_t sync_errors_ = 0;
};

}  // namespace bulkhead
