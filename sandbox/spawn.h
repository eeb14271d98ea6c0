// Starting a device process: clone3 into fresh namespaces, then exec the
// device's own binary. Used by the core.
//
// Why this shape:
//  * clone3 + exec, never fork-without-exec: a device never runs in a copy
//    of the core's address space (which holds /dev/kvm state and every
//    other device's fds).
//  * Namespaces are created by clone3 itself: the core is multithreaded and
//    a threaded process cannot unshare(CLONE_NEWUSER).
//  * The child is uid 0 with full capabilities inside its own user
//    namespace (and nowhere else), which the device needs for pivot_root in
//    EnterJail (sandbox/jail.h) before it drops them all.
//  * Between clone3 and exec the child runs only async-signal-safe
//    syscalls on data prepared by the parent: the core's other threads may
//    hold malloc or logging locks that the child's copy would never release.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

// Hands the core's fd `source` (borrowed: the caller keeps ownership) to the
// child as fd number `target` (>= 3: 0 is /dev/null, 1 and 2 the log pipe).
struct FdMapping {
  int source = -1;
  int target = -1;
};

struct ResourceLimit {
  int resource = 0;  // RLIMIT_*
  rlim_t soft = 0;
  rlim_t hard = 0;
};

struct SpawnSpec {
  std::string name;                    // device name, for messages
  std::string binary;                  // the device executable
  std::vector<std::string> argv;       // argv[0] included; empty = {binary}
  std::vector<std::string> env;        // "KEY=value"; the device gets nothing else
  std::vector<FdMapping> fds;          // exactly these fds survive exec
  std::vector<ResourceLimit> rlimits;  // applied before exec
};

struct Child {
  pid_t pid = -1;        // in the core's pid namespace
  UniqueFd pidfd;        // poll for exit; WaitForExit (sandbox/exit_reason.h)
  UniqueFd stderr_pipe;  // read end of the device's stdout+stderr
};

// Starts the device. On success the device has exec'd (an exec failure is
// reported here, naming the step that failed, and the child is reaped).
// The device gets SIGKILL when the *thread* that called Spawn exits
// (PR_SET_PDEATHSIG follows the creating thread): call it from a thread that
// lives as long as the device should, e.g. the core's supervisor thread.
[[nodiscard]] Result<Child> Spawn(const SpawnSpec& spec);

// Sends `signo` to the child through its pidfd (never a recycled pid).
[[nodiscard]] Status SignalChild(const Child& child, int signo);

}  // namespace bulkhead
