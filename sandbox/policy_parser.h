// Parser for Bulkhead's seccomp policy files (sandbox/policy/*.policy).
//
// A policy is a reviewed, line-oriented allowlist, one syscall per line:
//
//   # comment
//   @include common                  # the rules of common.policy, same dir
//   read                             # allowed with any arguments
//   fcntl: arg1 == F_GETFL || arg1 == F_SETFL
//   mmap: arg2 & PROT_EXEC == 0      # masked comparison
//   ioctl: arg1 == FIONBIO && arg0 == 3
//
// `argN == V` compares the low 32 bits only: every argument we filter on
// (fds, flags, commands) is an int in the kernel's prototype, so the kernel
// itself ignores the upper half and so must we, or a caller could set garbage
// there to dodge a rule. `argN & MASK == V` compares all 64 bits under MASK.
// `||` joins alternatives (one libseccomp rule each), `&&` joins comparisons
// within one alternative. Values are integers (decimal or 0x hex) or names
// from a fixed table (kPolicyConstants in policy_parser.cc).
//
// Syscalls that would let a device reach the file system, the network or a
// new program (open, openat, socket, execve, ...) are refused by the parser
// itself, so no policy file can ever allow them.
//
// This code runs only at build time (inside the policy compiler) and in
// tests, so it reports errors as Result values with file:line context.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"

namespace bulkhead {

// One comparison against a syscall argument: (arg & mask) == value.
struct ArgCompare {
  unsigned arg = 0;  // 0..5
  uint64_t mask = 0;
  uint64_t value = 0;
  bool operator==(const ArgCompare&) const = default;
};

// One way a syscall is allowed: all comparisons must hold (empty = always).
using Alternative = std::vector<ArgCompare>;

struct SyscallRule {
  std::string name;
  int nr = -1;                            // x86_64 number
  std::vector<Alternative> alternatives;  // empty = allowed unconditionally
  std::string origin;                     // "file:line" for messages
};

struct Policy {
  std::vector<SyscallRule> rules;  // at most one rule per syscall
  [[nodiscard]] const SyscallRule* Find(std::string_view name) const;
};

// Reads the text of an included policy by its name ("common").
using PolicyLoader = std::function<Result<std::string>(std::string_view name)>;

// Parses `text` (named `source` in messages). Includes are resolved through
// `loader`; include cycles and duplicate rules for one syscall are errors.
[[nodiscard]] Result<Policy> ParsePolicy(std::string_view source, std::string_view text,
                                         const PolicyLoader& loader);

// Parses the policy file at `path`, resolving includes in its directory.
[[nodiscard]] Result<Policy> ParsePolicyFile(const std::string& path);

// Syscalls no policy may contain (see the header comment).
[[nodiscard]] bool IsForbiddenSyscall(std::string_view name);

// Value of a named constant usable in a policy, if known.
[[nodiscard]] std::optional<uint64_t> LookupPolicyConstant(std::string_view name);

}  // namespace bulkhead
