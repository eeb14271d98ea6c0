// PciPlatform: what a PCI function in the core needs from the VM — interrupt
// routes and irqfds, doorbell ioeventfds, and places on the buses for its
// BARs. The KVM implementation is KvmPciPlatform; unit tests use a fake, so
// the MSI-X masking and BAR-moving logic is tested without /dev/kvm.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/bus.h"
#include "core/kvm/msi_routes.h"
#include "core/kvm/vm.h"
#include "ipc/event_fd.h"
#include "ipc/result.h"

namespace bulkhead {

class PciPlatform {
 public:
  virtual ~PciPlatform() = default;

  [[nodiscard]] virtual Result<uint32_t> AllocateMsiGsi() = 0;
  [[nodiscard]] virtual Status SetMsiRoute(uint32_t gsi, uint64_t address, uint32_t data) = 0;
  // A write to `trigger` raises `gsi`: edge, or a level line with `resample`.
  [[nodiscard]] virtual Status AssignIrqfd(const EventFd& trigger, uint32_t gsi,
                                           const EventFd* resample) = 0;
  [[nodiscard]] virtual Status DeassignIrqfd(const EventFd& trigger, uint32_t gsi) = 0;
  // A guest write of `len` bytes at MMIO `address` signals `doorbell`.
  [[nodiscard]] virtual Status AddDoorbell(const EventFd& doorbell, uint64_t address, uint32_t len) = 0;
  [[nodiscard]] virtual Status RemoveDoorbell(const EventFd& doorbell, uint64_t address,
                                              uint32_t len) = 0;
  [[nodiscard]] virtual Status MapBar(bool io, uint64_t base, uint64_t size,
                                      std::shared_ptr<BusDevice> device, std::string name) = 0;
  [[nodiscard]] virtual Status UnmapBar(bool io, uint64_t base) = 0;
};

class KvmPciPlatform final : public PciPlatform {
 public:
  KvmPciPlatform(kvm::Vm& vm, kvm::MsiRoutes& routes, Bus& pio, Bus& mmio)
      : vm_(vm), routes_(routes), pio_(pio), mmio_(mmio) {}

  Result<uint32_t> AllocateMsiGsi() override { return routes_.Allocate(); }
  Status SetMsiRoute(uint32_t gsi, uint64_t address, uint32_t data) override {
    return routes_.Set(gsi, address, data);
  }
  Status AssignIrqfd(const EventFd& trigger, uint32_t gsi, const EventFd* resample) override {
    return vm_.AddIrqfd(trigger.fd(), gsi, resample ? resample->fd() : -1);
  }
  Status DeassignIrqfd(const EventFd& trigger, uint32_t gsi) override {
    return vm_.RemoveIrqfd(trigger.fd(), gsi);
  }
  Status AddDoorbell(const EventFd& doorbell, uint64_t address, uint32_t len) override {
    return vm_.AddIoeventfd(doorbell.fd(), address, len, false);
  }
  Status RemoveDoorbell(const EventFd& doorbell, uint64_t address, uint32_t len) override {
    return vm_.RemoveIoeventfd(doorbell.fd(), address, len, false);
  }
  Status MapBar(bool io, uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device,
                std::string name) override {
    return (io ? pio_ : mmio_).Insert(base, size, std::move(device), std::move(name));
  }
  Status UnmapBar(bool io, uint64_t base) override { return (io ? pio_ : mmio_).Remove(base); }

 private:
  kvm::Vm& vm_;
  kvm::MsiRoutes& routes_;
  Bus& pio_;
  Bus& mmio_;
};

}  // namespace bulkhead
