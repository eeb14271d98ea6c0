// KvmSystem: the /dev/kvm fd and what it tells about the host. Opening it
// checks the API version and every capability Bulkhead relies on, so a host
// that lacks one fails at start-up with a line that names it, not later in a
// vCPU thread.
#pragma once

#include <linux/kvm.h>

#include <string>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead::kvm {

class KvmSystem {
 public:
  [[nodiscard]] static Result<KvmSystem> Open(const std::string& path = "/dev/kvm");

  [[nodiscard]] int fd() const { return fd_.get(); }
  // Size of the kvm_run area to mmap on each vCPU fd.
  [[nodiscard]] size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_GET_SUPPORTED_CPUID: what this host's KVM can expose to a guest.
  [[nodiscard]] const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }
  [[nodiscard]] int max_vcpus() const { return max_vcpus_; }
  [[nodiscard]] int CheckExtension(int cap) const;

 private:
  UniqueFd fd_;
  size_t vcpu_mmap_size_ = 0;
  int max_vcpus_ = 0;
  std::vector<kvm_cpuid_entry2> cpuid_;
};

}  // namespace bulkhead::kvm
