// Vcpu: one KVM vCPU fd and its shared kvm_run area. Setup (registers,
// CPUID, MSRs, LAPIC) happens on the creating thread; Run() is called only
// by that vCPU's own thread. Kick() may be called from any thread to make a
// running or about-to-run KVM_RUN return.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/boot/cpu_state.h"
#include "core/kvm/kvm_system.h"
#include "core/kvm/vm.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead::kvm {

class Vcpu {
 public:
  [[nodiscard]] static Result<Vcpu> Create(const KvmSystem& kvm, const Vm& vm, uint32_t index,
                                           uint32_t num_vcpus);

  [[nodiscard]] uint32_t index() const { return index_; }
  [[nodiscard]] kvm_run& run() const { return *run_; }

  // The boot processor's entry state from the Linux loader.
  [[nodiscard]] Status SetBootState(const boot::BootCpuState& s);

  // KVM_RUN once. Returns false when the run was interrupted (EINTR, or
  // immediate_exit set by Kick) rather than ending in an exit to handle.
  [[nodiscard]] Result<bool> Run();

  // Asks the vCPU thread to leave KVM_RUN: sets immediate_exit (so a KVM_RUN
  // about to start returns at once) and signals the thread.
  void Kick(pthread_t thread, int signo) const;
  void ClearKick() const { run_->immediate_exit = 0; }

 private:
  [[nodiscard]] Status SetCpuid(const KvmSystem& kvm, uint32_t num_vcpus);
  [[nodiscard]] Status SetBootMsrs();
  [[nodiscard]] Status SetLapicLints();

  // The kvm_run area is an mmap of the vCPU fd, which has no file size, so
  // Mapping (which checks the size) does not apply.
  struct RunUnmap {
    size_t size;
    void operator()(kvm_run* p) const;
  };

  uint32_t index_ = 0;
  UniqueFd fd_;
  std::unique_ptr<kvm_run, RunUnmap> run_{nullptr, RunUnmap{0}};
};

}  // namespace bulkhead::kvm
