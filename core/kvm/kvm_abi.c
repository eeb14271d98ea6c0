/* See kvm_abi.h: compiled as C so that flexible-array struct sizes, and thus
 * the ioctl numbers, are the kernel's. */
#include "core/kvm/kvm_abi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

int bh_kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2* entries, int max, int* nent) {
  struct kvm_cpuid2* c = calloc(1, sizeof(*c) + (size_t)max * sizeof(*entries));
  if (!c) { errno = ENOMEM; return -1; }
  c->nent = (__u32)max;
  int r = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
  if (r == 0) {
    memcpy(entries, c->entries, c->nent * sizeof(*entries));
    *nent = (int)c->nent;
  }
  int saved = errno;
  free(c);
  errno = saved;
  return r;
}

int bh_kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid_entry2* entries, int n) {
  struct kvm_cpuid2* c = calloc(1, sizeof(*c) + (size_t)n * sizeof(*entries));
  if (!c) { errno = ENOMEM; return -1; }
  c->nent = (__u32)n;
  memcpy(c->entries, entries, (size_t)n * sizeof(*entries));
  int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
  int saved = errno;
  free(c);
  errno = saved;
  return r;
}

static int msrs_ioctl(int vcpu_fd, unsigned long req, struct kvm_msr_entry* entries, int n) {
  struct kvm_msrs* m = calloc(1, sizeof(*m) + (size_t)n * sizeof(*entries));
  if (!m) { errno = ENOMEM; return -1; }
  m->nmsrs = (__u32)n;
  memcpy(m->entries, entries, (size_t)n * sizeof(*entries));
  int r = ioctl(vcpu_fd, req, m);
  if (r > 0) memcpy(entries, m->entries, (size_t)n * sizeof(*entries));
  int saved = errno;
  free(m);
  errno = saved;
  return r;
}

int bh_kvm_set_msrs(int vcpu_fd, const struct kvm_msr_entry* entries, int n) {
  return msrs_ioctl(vcpu_fd, KVM_SET_MSRS, (struct kvm_msr_entry*)entries, n);
}

int bh_kvm_get_msrs(int vcpu_fd, struct kvm_msr_entry* entries, int n) {
  return msrs_ioctl(vcpu_fd, KVM_GET_MSRS, entries, n);
}

int bh_kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing_entry* entries, int n) {
  struct kvm_irq_routing* r = calloc(1, sizeof(*r) + (size_t)n * sizeof(*entries));
  if (!r) { errno = ENOMEM; return -1; }
  r->nr = (__u32)n;
  memcpy(r->entries, entries, (size_t)n * sizeof(*entries));
  int ret = ioctl(vm_fd, KVM_SET_GSI_ROUTING, r);
  int saved = errno;
  free(r);
  errno = saved;
  return ret;
}
