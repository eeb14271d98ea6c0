// The CPUID a vCPU shows its guest: KVM_GET_SUPPORTED_CPUID, filtered. What
// is removed is what Bulkhead does not emulate or does not want a hostile
// guest to use (nested virtualization, MONITOR/MWAIT, a PMU, thermal
// control); what is set is the topology the guest must see (APIC IDs,
// logical-processor counts) and the hypervisor bit.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace bulkhead::kvm {

// Bits the filter touches; named so the tests read like the SDM.
inline constexpr uint32_t kCpuid1EcxMonitor = 1u << 3;
inline constexpr uint32_t kCpuid1EcxVmx = 1u << 5;
inline constexpr uint32_t kCpuid1EcxHypervisor = 1u << 31;
inline constexpr uint32_t kCpuid1EdxHtt = 1u << 28;
inline constexpr uint32_t kCpuidExt1EcxSvm = 1u << 2;

[[nodiscard]] std::vector<kvm_cpuid_entry2> GuestCpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                                       uint32_t vcpu_index, uint32_t num_vcpus);

}  // namespace bulkhead::kvm
