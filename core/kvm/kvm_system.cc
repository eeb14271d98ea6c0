#include "core/kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <utility>

#include "core/kvm/kvm_abi.h"

namespace bulkhead::kvm {
namespace {

struct RequiredCap {
  int cap;
  const char* name;
};

// Everything the core uses. Checked once, at start-up.
constexpr RequiredCap kRequired[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
};

}  // namespace

int KvmSystem::CheckExtension(int cap) const { return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

Result<KvmSystem> KvmSystem::Open(const std::string& path) {
  KvmSystem k;
  k.fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!k.fd_) return ErrnoError("cannot open {}", path);
  const int version = ::ioctl(k.fd(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return MakeError("{}: KVM API version {} (expected {})", path, version, KVM_API_VERSION);
  }
  for (const auto& c : kRequired) {
    if (k.CheckExtension(c.cap) <= 0) return MakeError("{}: KVM lacks {}", path, c.name);
  }
  const int mmap_size = ::ioctl(k.fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size <= 0) return ErrnoError("{}: KVM_GET_VCPU_MMAP_SIZE", path);
  k.vcpu_mmap_size_ = static_cast<size_t>(mmap_size);
  k.max_vcpus_ = k.CheckExtension(KVM_CAP_MAX_VCPUS);
  if (k.max_vcpus_ <= 0) k.max_vcpus_ = k.CheckExtension(KVM_CAP_NR_VCPUS);

  // KVM_GET_SUPPORTED_CPUID fails with E2BIG until the buffer is big enough.
  for (int max = 64; max <= 4096; max *= 2) {
    std::vector<kvm_cpuid_entry2> entries(static_cast<size_t>(max));
    int nent = 0;
    if (bh_kvm_get_supported_cpuid(k.fd(), entries.data(), max, &nent) == 0) {
      entries.resize(static_cast<size_t>(nent));
      k.cpuid_ = std::move(entries);
      return k;
    }
    if (errno != E2BIG) return ErrnoError("{}: KVM_GET_SUPPORTED_CPUID", path);
  }
  return MakeError("{}: KVM_GET_SUPPORTED_CPUID wants more than 4096 entries", path);
}

}  // namespace bulkhead::kvm
