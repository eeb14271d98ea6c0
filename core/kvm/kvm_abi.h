/* The KVM ioctls whose argument structs end in a flexible array. Debian 12's
 * uapi headers declare those arrays with __DECLARE_FLEX_ARRAY, which under
 * C++ changes the struct sizes (struct kvm_irq_routing becomes 16 bytes, not
 * 8), so the ioctl numbers computed from sizeof() are wrong and the kernel
 * answers ENOTTY. These wrappers are compiled as C (kvm_abi.c), where the
 * sizes are the kernel's. Each returns the ioctl's result (-1 with errno). */
#pragma once

#include <linux/kvm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* KVM_GET_SUPPORTED_CPUID into entries[max]; *nent gets the count. */
int bh_kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2* entries, int max, int* nent);
/* KVM_SET_CPUID2 with n entries. */
int bh_kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid_entry2* entries, int n);
/* KVM_SET_MSRS with n entries; returns the number of MSRs set. */
int bh_kvm_set_msrs(int vcpu_fd, const struct kvm_msr_entry* entries, int n);
/* KVM_GET_MSRS with n entries (indices filled in); returns the number read. */
int bh_kvm_get_msrs(int vcpu_fd, struct kvm_msr_entry* entries, int n);
/* KVM_SET_GSI_ROUTING: replaces the whole routing table with n entries. */
int bh_kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing_entry* entries, int n);

#ifdef __cplusplus
}
#endif
