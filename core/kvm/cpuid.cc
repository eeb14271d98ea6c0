#include "core/kvm/cpuid.h"

#include <bit>

namespace bulkhead::kvm {
namespace {

// Bits of an x2APIC ID needed to number `n` things (ceil(log2(n))).
uint32_t IdBits(uint32_t n) { return n <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(n - 1)); }

}  // namespace

std::vector<kvm_cpuid_entry2> GuestCpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                         uint32_t vcpu_index, uint32_t num_vcpus) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size());
  for (kvm_cpuid_entry2 e : supported) {
    switch (e.function) {
      case 0x1:
        // Initial APIC ID and the logical processor count of the package.
        e.ebx = (e.ebx & 0x0000'FFFF) | (vcpu_index << 24) | ((num_vcpus & 0xFF) << 16);
        e.ecx &= ~(kCpuid1EcxMonitor | kCpuid1EcxVmx);
        e.ecx |= kCpuid1EcxHypervisor;
        if (num_vcpus > 1) e.edx |= kCpuid1EdxHtt;
        break;
      case 0x6:    // thermal and power management: nothing emulated
      case 0xA:    // architectural PMU: not exposed (a guest PMU is host attack surface)
        e.eax = e.ebx = e.ecx = e.edx = 0;
        break;
      case 0xB:
        // Extended topology: one thread per core, num_vcpus cores per package.
        e.edx = vcpu_index;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = (1u << 8) | 0;  // level type SMT
        } else if (e.index == 1) {
          e.eax = IdBits(num_vcpus);
          e.ebx = num_vcpus;
          e.ecx = (2u << 8) | 1;  // level type core
        } else {
          e.eax = e.ebx = 0;
          e.ecx = e.index;  // level type invalid ends the enumeration
        }
        break;
      case 0x1F:
        continue;  // V2 topology: dropped, 0xB says it all
      case 0x80000001:
        e.ecx &= ~kCpuidExt1EcxSvm;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace bulkhead::kvm
