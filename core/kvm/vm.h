// Vm: one KVM virtual machine — its memory slots, the in-kernel irqchip
// (PIC + IOAPIC + per-vCPU LAPIC) and PIT, interrupt routes, irqfds and
// ioeventfds. Only the core holds it; device processes get eventfds that KVM
// signals or listens to, never the VM fd.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/kvm/kvm_system.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead::kvm {

// An MSI route: a GSI above the IOAPIC pins that delivers a message.
struct MsiRoute {
  uint32_t gsi = 0;
  uint64_t address = 0;
  uint32_t data = 0;
};

class Vm {
 public:
  // Creates the VM with the in-kernel irqchip and PIT. The TSS and identity
  // map pages go just below the IOAPIC, inside the 32-bit MMIO hole, where
  // no RAM or BAR lives.
  [[nodiscard]] static Result<Vm> Create(const KvmSystem& kvm);

  [[nodiscard]] int fd() const { return fd_.get(); }

  // Maps host memory [host, host+size) at guest-physical gpa.
  [[nodiscard]] Status SetMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host);

  // KVM_IRQFD: a write to `eventfd` raises `gsi` (edge) — or asserts a level
  // line that stays up until the guest EOIs it, when `resample_fd` is given.
  [[nodiscard]] Status AddIrqfd(int eventfd, uint32_t gsi, int resample_fd = -1);
  [[nodiscard]] Status RemoveIrqfd(int eventfd, uint32_t gsi);

  // KVM_IOEVENTFD: a guest write of `len` bytes at `addr` (any value)
  // signals `eventfd` without leaving the kernel.
  [[nodiscard]] Status AddIoeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio);
  [[nodiscard]] Status RemoveIoeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio);

  // Replaces the MSI part of the GSI routing table. KVM_SET_GSI_ROUTING
  // replaces the WHOLE table, so the legacy PIC/IOAPIC routes are always
  // resubmitted with it.
  [[nodiscard]] Status SetMsiRoutes(const std::vector<MsiRoute>& routes);

  // Raises/lowers an IOAPIC/PIC line from the core itself.
  [[nodiscard]] Status SetIrqLine(uint32_t irq, bool level);

 private:
  UniqueFd fd_;
  // Held while the table is rebuilt and submitted (boxed: Vm is movable).
  std::unique_ptr<std::mutex> routing_mu_ = std::make_unique<std::mutex>();
};

}  // namespace bulkhead::kvm
