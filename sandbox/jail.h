// The jail a device process enters after it has received its fds from the
// core and before it touches anything the guest controls.
//
// EnterJail is one linear sequence (Firecracker's jailer is the model):
//   1. empty root: make mounts private, mount an empty tmpfs, pivot_root
//      into it, detach the old root, chdir /, remount the root read-only
//   2. PR_SET_NO_NEW_PRIVS
//   3. drop every capability: bounding set, ambient set, then
//      effective/permitted/inheritable with capset
//   4. rlimits
//   5. close every fd not in the keep-list
//   6. install the SIGSYS reporter and load the seccomp filter (all threads)
// Each step fails with an error that names it. The process must have been
// started by Spawn (sandbox/spawn.h): step 1 needs the capabilities it has
// only inside its own user and mount namespaces.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>

#include <span>
#include <vector>

#include "ipc/result.h"
#include "sandbox/death_note.h"

namespace bulkhead {

struct JailSpec {
  // fd numbers that stay open (the fds the device received). 0, 1, 2 are
  // always kept: stdin is /dev/null, stdout/stderr the core's log pipe.
  std::vector<int> keep_fds;
  // The compiled policy of this device kind (FindSeccompProgram).
  std::span<const sock_filter> seccomp;
  // Optional shared page for the death note; must stay mapped.
  DeathNote* death_note = nullptr;

  // Limits. NOFILE caps how many fds a device can hold (it receives all it
  // needs before jailing); FSIZE 0 forbids growing any file; no core dumps.
  // NPROC 0 documents that a device creates no process or thread after the
  // jail (create worker threads before EnterJail); the kernel does not
  // enforce it when the core runs as host root (root's uid is exempt), so
  // the real guard is that no policy allows clone/clone3/fork. The address
  // space is left alone: devices map guest RAM.
  rlim_t max_open_files = 64;
  rlim_t max_processes = 0;
  rlim_t max_file_size = 0;
};

// Enters the jail. On error the process is half-jailed and must exit.
[[nodiscard]] Status EnterJail(const JailSpec& spec);

// The individual steps, exposed for tests and for devices that need to
// order them differently (documented where they do).
[[nodiscard]] Status EnterEmptyRoot();
[[nodiscard]] Status DropAllCapabilities();
[[nodiscard]] Status SetJailLimits(const JailSpec& spec);
[[nodiscard]] Status CloseFdsExcept(std::vector<int> keep);
[[nodiscard]] Status LoadSeccompProgram(std::span<const sock_filter> program);

}  // namespace bulkhead
