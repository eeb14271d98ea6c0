// The seccomp programs compiled from sandbox/policy/*.policy at build time.
//
// The policy compiler (sandbox/policy_compiler.cc) writes a generated .cc
// that defines kSeccompPrograms; a device looks its program up by kind and
// hands it to EnterJail (sandbox/jail.h). Nothing here is built at run time,
// so a device cannot start with a filter nobody reviewed.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "ipc/result.h"

namespace bulkhead {

struct NamedSeccompProgram {
  const char* name;  // policy file name without ".policy", e.g. "serial"
  const sock_filter* filter;
  size_t length;  // instructions
};

// Defined by the generated file.
extern const NamedSeccompProgram kSeccompPrograms[];
extern const size_t kSeccompProgramCount;

// The program compiled from policy/<kind>.policy.
[[nodiscard]] Result<std::span<const sock_filter>> FindSeccompProgram(std::string_view kind);

// Names of every compiled policy, for tests and diagnostics.
[[nodiscard]] std::vector<std::string_view> SeccompProgramNames();

}  // namespace bulkhead
