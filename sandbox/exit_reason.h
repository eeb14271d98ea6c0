// Why a device process ended, decoded from waitid(P_PIDFD, ...).
#pragma once

#include <signal.h>

#include <optional>
#include <string>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

struct ExitReason {
  enum class Kind { kExited, kSignaled };
  Kind kind = Kind::kExited;
  int code = 0;  // exit status for kExited, signal number for kSignaled
  bool core_dumped = false;

  static ExitReason Exited(int status) { return {Kind::kExited, status, false}; }
  static ExitReason Signaled(int signo, bool core = false) {
    return {Kind::kSignaled, signo, core};
  }

  [[nodiscard]] bool exited() const { return kind == Kind::kExited; }
  [[nodiscard]] bool signaled() const { return kind == Kind::kSignaled; }
  // "exited with status 0", "killed by SIGSYS (Bad system call), core dumped".
  [[nodiscard]] std::string ToString() const;
  bool operator==(const ExitReason&) const = default;
};

// Decodes the siginfo_t that waitid() filled for a terminated child.
[[nodiscard]] Result<ExitReason> DecodeWaitSiginfo(const siginfo_t& info);

// Blocks until the process behind `pidfd` has terminated and reaps it.
[[nodiscard]] Result<ExitReason> WaitForExit(const UniqueFd& pidfd);

// Reaps the process if it has terminated; nullopt while it runs. For a
// pidfd that an event loop reported readable.
[[nodiscard]] Result<std::optional<ExitReason>> PollExit(const UniqueFd& pidfd);

}  // namespace bulkhead
