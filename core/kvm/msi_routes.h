// MsiRoutes: the VM's MSI part of the GSI routing table, shared by every PCI
// function. KVM_SET_GSI_ROUTING replaces the whole table, so one owner holds
// all MSI routes and resubmits them (with the legacy routes, kvm/vm.h) on
// every change. GSIs above the IOAPIC pins are handed out here.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "core/kvm/vm.h"
#include "ipc/result.h"

namespace bulkhead::kvm {

class MsiRoutes {
 public:
  explicit MsiRoutes(Vm& vm) : vm_(vm) {}

  // A fresh GSI for one MSI / MSI-X vector (no route until Set).
  [[nodiscard]] Result<uint32_t> Allocate();
  // Points `gsi` at the message (address, data). Unchanged routes cost no ioctl.
  [[nodiscard]] Status Set(uint32_t gsi, uint64_t address, uint32_t data);

 private:
  // KVM_MAX_IRQ_ROUTES is 4096; GSIs 0-23 are the IOAPIC's.
  static constexpr uint32_t kFirstGsi = 24;
  static constexpr uint32_t kLastGsi = 4095;

  Vm& vm_;
  std::mutex mu_;
  uint32_t next_ = kFirstGsi;
  std::map<uint32_t, MsiRoute> routes_;
};

}  // namespace bulkhead::kvm
