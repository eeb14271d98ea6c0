// A small classic-BPF interpreter for seccomp programs, so tests can run the
// filters we ship over chosen syscalls in-process (the idea of Chromium's
// bpf_dsl golden tests): no kernel, no process has to die.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <span>

#include "ipc/result.h"

namespace bulkhead {

// Returns the SECCOMP_RET_* value the program yields for `data`.
// Supports the instructions seccomp allows (loads from seccomp_data, ALU,
// jumps, scratch memory, returns); anything else is an error.
[[nodiscard]] Result<uint32_t> RunSeccompBpf(std::span<const sock_filter> program,
                                             const seccomp_data& data);

}  // namespace bulkhead
