#include "sandbox/exit_reason.h"

#include <sys/wait.h>

#include <cstring>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace bulkhead {
namespace {

Result<std::optional<ExitReason>> Wait(const UniqueFd& pidfd, int extra_flags) {
  siginfo_t info{};
  for (;;) {
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info,
               WEXITED | extra_flags) == 0) {
      break;
    }
    if (errno != EINTR) return ErrnoError("waitid(P_PIDFD {})", pidfd.get());
  }
  // With WNOHANG and nothing to report, the kernel leaves si_pid zero.
  if (info.si_pid == 0) return std::nullopt;
  auto reason = DecodeWaitSiginfo(info);
  if (!reason) return tl::unexpected(reason.error());
  return *reason;
}

}  // namespace

std::string ExitReason::ToString() const {
  if (exited()) return fmt::format("exited with status {}", code);
  const char* abbrev = sigabbrev_np(code);
  const char* desc = sigdescr_np(code);
  return fmt::format("killed by SIG{} ({}){}", abbrev ? abbrev : std::to_string(code).c_str(),
                     desc ? desc : "unknown signal", core_dumped ? ", core dumped" : "");
}

Result<ExitReason> DecodeWaitSiginfo(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return ExitReason::Exited(info.si_status);
    case CLD_KILLED:
      return ExitReason::Signaled(info.si_status, false);
    case CLD_DUMPED:
      return ExitReason::Signaled(info.si_status, true);
    default:
      return MakeError("waitid reported si_code {} for a terminated process", info.si_code);
  }
}

Result<ExitReason> WaitForExit(const UniqueFd& pidfd) {
  auto r = Wait(pidfd, 0);
  if (!r) return tl::unexpected(r.error());
  if (!*r) return MakeError("waitid returned without a terminated process");
  return **r;
}

Result<std::optional<ExitReason>> PollExit(const UniqueFd& pidfd) { return Wait(pidfd, WNOHANG); }

}  // namespace bulkhead
