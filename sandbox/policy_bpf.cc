#include "sandbox/policy_bpf.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>

#include "ipc/unique_fd.h"

namespace bulkhead {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using ScmpCtx = std::unique_ptr<void, CtxDeleter>;

Status AddRule(scmp_filter_ctx ctx, const SyscallRule& rule) {
  if (rule.alternatives.empty()) {
    const int rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, rule.nr, 0);
    if (rc < 0)
      return MakeError("{}: libseccomp rejected '{}': {}", rule.origin, rule.name,
                       std::strerror(-rc));
    return {};
  }
  for (const Alternative& alt : rule.alternatives) {
    std::vector<scmp_arg_cmp> cmps;
    for (const ArgCompare& c : alt) {
      cmps.push_back(scmp_arg_cmp{c.arg, SCMP_CMP_MASKED_EQ, c.mask, c.value});
    }
    const int rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, rule.nr,
                                                static_cast<unsigned>(cmps.size()), cmps.data());
    if (rc < 0)
      return MakeError("{}: libseccomp rejected a condition of '{}': {}", rule.origin, rule.name,
                       std::strerror(-rc));
  }
  return {};
}

}  // namespace

Result<std::vector<sock_filter>> CompilePolicyToBpf(const Policy& policy) {
  ScmpCtx ctx(seccomp_init(SCMP_ACT_TRAP));
  if (!ctx) return MakeError("seccomp_init failed");
  // seccomp_init adds the native arch; make sure it is x86_64 and the only one.
  if (seccomp_arch_exist(ctx.get(), SCMP_ARCH_X86_64) != 0) {
    return MakeError("the policy compiler must run on x86_64");
  }
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc < 0) {
    return MakeError("setting the bad-arch action: {}", std::strerror(-rc));
  }
  // A binary tree over syscall numbers instead of a linear list: the
  // device's hot syscalls (read/write/futex/ppoll on every forwarded exit)
  // then cost a handful of instructions, not a scan of the whole list.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0) {
    return MakeError("selecting the binary-tree layout: {}", std::strerror(-rc));
  }
  for (const SyscallRule& rule : policy.rules) {
    if (auto st = AddRule(ctx.get(), rule); !st) return tl::unexpected(st.error());
  }
  // libseccomp 2.5 exports only to an fd; a memfd keeps this off the disk.
  UniqueFd mem(memfd_create("bulkhead-bpf", MFD_CLOEXEC));
  if (!mem) return ErrnoError("memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc < 0) {
    return MakeError("seccomp_export_bpf: {}", std::strerror(-rc));
  }
  const off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return MakeError("exported BPF has a bad size {}", size);
  }
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), prog.data(), static_cast<size_t>(size), 0) != size) {
    return ErrnoError("reading the exported BPF");
  }
  if (prog.size() > BPF_MAXINSNS) return MakeError("BPF program too long: {}", prog.size());
  return prog;
}

}  // namespace bulkhead
