// Turns a parsed Policy into a classic-BPF seccomp program with libseccomp.
// Used by the build-time policy compiler and by tests.
//
// The program allows what the policy lists and answers everything else with
// SECCOMP_RET_TRAP, so the jail's SIGSYS handler can name the syscall before
// the process dies (see sandbox/sigsys_reporter.h). A syscall made with any
// architecture other than x86_64 (i386 via int 0x80, or the x32 ABI) kills
// the process outright: those ABIs have different syscall numbers and would
// otherwise bypass the allowlist.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "ipc/result.h"
#include "sandbox/policy_parser.h"

namespace bulkhead {

[[nodiscard]] Result<std::vector<sock_filter>> CompilePolicyToBpf(const Policy& policy);

}  // namespace bulkhead
