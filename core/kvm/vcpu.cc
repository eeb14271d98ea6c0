#include "core/kvm/vcpu.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>

#include "core/kvm/cpuid.h"
#include "core/kvm/kvm_abi.h"

namespace bulkhead::kvm {
namespace {

// MSRs Linux expects a firmware to have set up (Firecracker's set, minus
// what KVM already defaults sensibly).
constexpr uint32_t kMsrIa32SysenterCs = 0x174;
constexpr uint32_t kMsrIa32SysenterEsp = 0x175;
constexpr uint32_t kMsrIa32SysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xC0000081;
constexpr uint32_t kMsrLstar = 0xC0000082;
constexpr uint32_t kMsrCstar = 0xC0000083;
constexpr uint32_t kMsrSyscallMask = 0xC0000084;
constexpr uint32_t kMsrKernelGsBase = 0xC0000102;
constexpr uint32_t kMsrIa32Tsc = 0x10;
constexpr uint32_t kMsrIa32MiscEnable = 0x1A0;
constexpr uint64_t kMiscEnableFastString = 1;
constexpr uint32_t kMsrMtrrDefType = 0x2FF;
// MTRRs enabled, default type write-back: without it the guest runs uncached.
constexpr uint64_t kMtrrDefTypeWbEnabled = (1u << 11) | 6;

// LAPIC register offsets and LVT delivery modes (Intel SDM vol. 3, 10.5.1).
constexpr size_t kApicLvtLint0 = 0x350;
constexpr size_t kApicLvtLint1 = 0x360;
constexpr uint32_t kApicModeExtInt = 0x7;
constexpr uint32_t kApicModeNmi = 0x4;

kvm_segment ToKvm(const boot::Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.s;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.unusable;
  return k;
}

uint32_t LapicGet(const kvm_lapic_state& l, size_t off) {
  uint32_t v;
  std::memcpy(&v, l.regs + off, sizeof(v));
  return v;
}
void LapicSet(kvm_lapic_state& l, size_t off, uint32_t v) { std::memcpy(l.regs + off, &v, sizeof(v)); }
uint32_t WithDeliveryMode(uint32_t lvt, uint32_t mode) { return (lvt & ~0x700u) | (mode << 8); }

}  // namespace

void Vcpu::RunUnmap::operator()(kvm_run* p) const {
  if (p) ::munmap(p, size);
}

Result<Vcpu> Vcpu::Create(const KvmSystem& kvm, const Vm& vm, uint32_t index, uint32_t num_vcpus) {
  Vcpu v;
  v.index_ = index;
  v.fd_.reset(::ioctl(vm.fd(), KVM_CREATE_VCPU, index));
  if (!v.fd_) return ErrnoError("KVM_CREATE_VCPU {}", index);
  ::fcntl(v.fd_.get(), F_SETFD, FD_CLOEXEC);
  void* p = ::mmap(nullptr, kvm.vcpu_mmap_size(), PROT_READ | PROT_WRITE, MAP_SHARED, v.fd_.get(), 0);
  if (p == MAP_FAILED) return ErrnoError("mmap of vCPU {}'s kvm_run area", index);
  // SAFETY: KVM maps at least sizeof(kvm_run) bytes (KVM ABI); the mapping
  // lives as long as run_, which this Vcpu owns.
  v.run_ = std::unique_ptr<kvm_run, RunUnmap>(static_cast<kvm_run*>(p), RunUnmap{kvm.vcpu_mmap_size()});
  if (auto s = v.SetCpuid(kvm, num_vcpus); !s) return tl::unexpected(s.error());
  if (auto s = v.SetBootMsrs(); !s) return tl::unexpected(s.error());
  if (auto s = v.SetLapicLints(); !s) return tl::unexpected(s.error());
  return v;
}

Status Vcpu::SetCpuid(const KvmSystem& kvm, uint32_t num_vcpus) {
  auto entries = GuestCpuid(kvm.supported_cpuid(), index_, num_vcpus);
  if (bh_kvm_set_cpuid2(fd_.get(), entries.data(), static_cast<int>(entries.size())) < 0) {
    return ErrnoError("KVM_SET_CPUID2 on vCPU {}", index_);
  }
  return {};
}

Status Vcpu::SetBootMsrs() {
  const std::pair<uint32_t, uint64_t> msrs[] = {
      {kMsrIa32SysenterCs, 0}, {kMsrIa32SysenterEsp, 0}, {kMsrIa32SysenterEip, 0},
      {kMsrStar, 0},           {kMsrLstar, 0},           {kMsrCstar, 0},
      {kMsrSyscallMask, 0},    {kMsrKernelGsBase, 0},    {kMsrIa32Tsc, 0},
      {kMsrIa32MiscEnable, kMiscEnableFastString},       {kMsrMtrrDefType, kMtrrDefTypeWbEnabled},
  };
  std::vector<kvm_msr_entry> e;
  for (auto [index, value] : msrs) {
    kvm_msr_entry m{};
    m.index = index;
    m.data = value;
    e.push_back(m);
  }
  const int n = bh_kvm_set_msrs(fd_.get(), e.data(), static_cast<int>(e.size()));
  if (n < 0) return ErrnoError("KVM_SET_MSRS on vCPU {}", index_);
  if (n != static_cast<int>(e.size())) {
    return MakeError("KVM_SET_MSRS on vCPU {}: MSR {:#x} refused", index_, e[static_cast<size_t>(n)].index);
  }
  return {};
}

Status Vcpu::SetLapicLints() {
  // LINT0 delivers the PIC's ExtINT, LINT1 the NMI, as a PC BIOS leaves them.
  kvm_lapic_state l{};
  if (::ioctl(fd_.get(), KVM_GET_LAPIC, &l) < 0) return ErrnoError("KVM_GET_LAPIC");
  LapicSet(l, kApicLvtLint0, WithDeliveryMode(LapicGet(l, kApicLvtLint0), kApicModeExtInt));
  LapicSet(l, kApicLvtLint1, WithDeliveryMode(LapicGet(l, kApicLvtLint1), kApicModeNmi));
  if (::ioctl(fd_.get(), KVM_SET_LAPIC, &l) < 0) return ErrnoError("KVM_SET_LAPIC");
  return {};
}

Status Vcpu::SetBootState(const boot::BootCpuState& s) {
  kvm_sregs sregs{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return ErrnoError("KVM_GET_SREGS");
  sregs.cs = ToKvm(s.cs);
  sregs.ds = ToKvm(s.ds);
  sregs.es = ToKvm(s.es);
  sregs.fs = ToKvm(s.fs);
  sregs.gs = ToKvm(s.gs);
  sregs.ss = ToKvm(s.ss);
  sregs.tr = ToKvm(s.tr);
  sregs.ldt = ToKvm(s.ldt);
  sregs.gdt.base = s.gdt.base;
  sregs.gdt.limit = s.gdt.limit;
  sregs.idt.base = s.idt.base;
  sregs.idt.limit = s.idt.limit;
  sregs.cr0 = s.cr0;
  sregs.cr3 = s.cr3;
  sregs.cr4 = s.cr4;
  sregs.efer = s.efer;
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return ErrnoError("KVM_SET_SREGS");

  kvm_regs regs{};
  regs.rip = s.rip;
  regs.rsp = s.rsp;
  regs.rbp = s.rbp;
  regs.rsi = s.rsi;
  regs.rbx = s.rbx;
  regs.rflags = s.rflags;
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return ErrnoError("KVM_SET_REGS");

  kvm_fpu fpu{};
  fpu.fcw = 0x37F;     // x87 default control word
  fpu.mxcsr = 0x1F80;  // SSE default: all exceptions masked
  if (::ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return ErrnoError("KVM_SET_FPU");
  return {};
}

Result<bool> Vcpu::Run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    if (errno == EINTR || errno == EAGAIN) return false;
    return ErrnoError("KVM_RUN on vCPU {}", index_);
  }
  return true;
}

void Vcpu::Kick(pthread_t thread, int signo) const {
  // SAFETY: immediate_exit is a plain byte KVM reads on entry; a racing
  // write is what the ABI intends (the signal covers a KVM_RUN in progress).
  reinterpret_cast<std::atomic<uint8_t>*>(&run_->immediate_exit)->store(1, std::memory_order_release);
  ::pthread_kill(thread, signo);
}

}  // namespace bulkhead::kvm
