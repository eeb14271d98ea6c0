#include "core/kvm/vm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "core/boot/layout.h"
#include "core/kvm/kvm_abi.h"

namespace bulkhead::kvm {
namespace {

// One page for the EPT identity map and three for the VMX TSS (Intel needs
// both for real-mode emulation; AMD ignores them): reserved in e820, between
// the end of the 32-bit PCI window and the IOAPIC (core/boot/layout.h).
constexpr uint64_t kIdentityMapAddr = boot::kKvmIdentityMapAddr;
constexpr uint64_t kTssAddr = boot::kKvmTssAddr;
static_assert(kIdentityMapAddr >= boot::kPciMmio32End);

}  // namespace

Result<Vm> Vm::Create(const KvmSystem& kvm) {
  Vm vm;
  vm.fd_.reset(::ioctl(kvm.fd(), KVM_CREATE_VM, 0));
  if (!vm.fd_) return ErrnoError("KVM_CREATE_VM");
  // The fd from KVM_CREATE_VM is not CLOEXEC by default on old kernels.
  ::fcntl(vm.fd(), F_SETFD, FD_CLOEXEC);
  uint64_t identity = kIdentityMapAddr;
  if (::ioctl(vm.fd(), KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
    return ErrnoError("KVM_SET_IDENTITY_MAP_ADDR");
  }
  if (::ioctl(vm.fd(), KVM_SET_TSS_ADDR, kTssAddr) < 0) return ErrnoError("KVM_SET_TSS_ADDR");
  if (::ioctl(vm.fd(), KVM_CREATE_IRQCHIP, 0) < 0) return ErrnoError("KVM_CREATE_IRQCHIP");
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;  // port 0x61 handled in the kernel too
  if (::ioctl(vm.fd(), KVM_CREATE_PIT2, &pit) < 0) return ErrnoError("KVM_CREATE_PIT2");
  return vm;
}

Status Vm::SetMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    return ErrnoError("KVM_SET_USER_MEMORY_REGION slot {} at {:#x}+{:#x}", slot, gpa, size);
  }
  return {};
}

Status Vm::AddIrqfd(int eventfd, uint32_t gsi, int resample_fd) {
  kvm_irqfd f{};
  f.fd = static_cast<uint32_t>(eventfd);
  f.gsi = gsi;
  if (resample_fd >= 0) {
    f.flags = KVM_IRQFD_FLAG_RESAMPLE;
    f.resamplefd = static_cast<uint32_t>(resample_fd);
  }
  if (::ioctl(fd(), KVM_IRQFD, &f) < 0) return ErrnoError("KVM_IRQFD gsi {}", gsi);
  return {};
}

Status Vm::RemoveIrqfd(int eventfd, uint32_t gsi) {
  kvm_irqfd f{};
  f.fd = static_cast<uint32_t>(eventfd);
  f.gsi = gsi;
  f.flags = KVM_IRQFD_FLAG_DEASSIGN;
  if (::ioctl(fd(), KVM_IRQFD, &f) < 0) return ErrnoError("KVM_IRQFD deassign gsi {}", gsi);
  return {};
}

static Status Ioeventfd(int vm_fd, int eventfd, uint64_t addr, uint32_t len, bool pio,
                        bool deassign) {
  kvm_ioeventfd e{};
  e.addr = addr;
  e.len = len;
  e.fd = eventfd;
  e.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0);
  if (::ioctl(vm_fd, KVM_IOEVENTFD, &e) < 0) {
    return ErrnoError("KVM_IOEVENTFD {} {} {:#x}/{}", deassign ? "remove" : "add",
                      pio ? "pio" : "mmio", addr, len);
  }
  return {};
}

Status Vm::AddIoeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio) {
  return Ioeventfd(fd(), eventfd, addr, len, pio, false);
}

Status Vm::RemoveIoeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio) {
  return Ioeventfd(fd(), eventfd, addr, len, pio, true);
}

Status Vm::SetMsiRoutes(const std::vector<MsiRoute>& routes) {
  std::lock_guard lock(*routing_mu_);
  std::vector<kvm_irq_routing_entry> table;
  // The default routes KVM_CREATE_IRQCHIP installed: ISA IRQs 0-15 to both
  // PICs (pin n, IRQ2 being the cascade) and every IOAPIC pin to GSI n.
  for (uint32_t gsi = 0; gsi < 16; ++gsi) {
    if (gsi == 2) continue;
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_IRQCHIP;
    e.u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
    e.u.irqchip.pin = gsi % 8;
    table.push_back(e);
  }
  for (uint32_t gsi = 0; gsi < boot::kIoApicPins; ++gsi) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_IRQCHIP;
    e.u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
    e.u.irqchip.pin = gsi;
    table.push_back(e);
  }
  for (const auto& r : routes) {
    kvm_irq_routing_entry e{};
    e.gsi = r.gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = static_cast<uint32_t>(r.address);
    e.u.msi.address_hi = static_cast<uint32_t>(r.address >> 32);
    e.u.msi.data = r.data;
    table.push_back(e);
  }
  if (bh_kvm_set_gsi_routing(fd(), table.data(), static_cast<int>(table.size())) < 0) {
    return ErrnoError("KVM_SET_GSI_ROUTING with {} entries", table.size());
  }
  return {};
}

Status Vm::SetIrqLine(uint32_t irq, bool level) {
  kvm_irq_level l{};
  l.irq = irq;
  l.level = level ? 1 : 0;
  if (::ioctl(fd(), KVM_IRQ_LINE, &l) < 0) return ErrnoError("KVM_IRQ_LINE {}", irq);
  return {};
}

}  // namespace bulkhead::kvm
