#include "sandbox/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>

namespace bulkhead {
namespace {

constexpr uint64_t kNamespaces =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

// What the child reports on the error pipe when it cannot reach exec.
enum class ChildStep : int { kSync = 1, kSignals, kDeathSignal, kFds, kCloseRange, kRlimit, kExec };

const char* StepName(ChildStep s) {
  switch (s) {
    case ChildStep::kSync:
      return "waiting for the uid/gid maps";
    case ChildStep::kSignals:
      return "resetting signal dispositions";
    case ChildStep::kDeathSignal:
      return "PR_SET_PDEATHSIG";
    case ChildStep::kFds:
      return "placing the passed fds";
    case ChildStep::kCloseRange:
      return "close_range";
    case ChildStep::kRlimit:
      return "setrlimit";
    case ChildStep::kExec:
      return "execveat";
  }
  return "unknown step";
}

struct ChildError {
  ChildStep step;
  int err;
};

// Everything the child needs, prepared by the parent so that the child
// neither allocates nor takes a lock.
struct ChildPlan {
  int sync_read, error_write, binary, devnull, log_write;
  std::vector<FdMapping> fds;  // sorted by target
  std::vector<ResourceLimit> rlimits;
  std::vector<char*> argv, envp;  // null-terminated
  sigset_t original_mask;
};

[[noreturn]] void ChildFail(const ChildPlan& p, ChildStep step) {
  const ChildError e{step, errno};
  [[maybe_unused]] ssize_t w = write(p.error_write, &e, sizeof e);
  _exit(127);
}

// Runs in the child between clone3 and exec: raw syscalls only.
[[noreturn]] void RunChild(ChildPlan& p) {
  // Die with the core rather than linger as an orphan device.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(p, ChildStep::kDeathSignal);

  // The core's handlers must never run in this copy of its memory; the
  // device starts with default dispositions and an empty mask.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, _NSIG / 8);  // EINVAL for 32/33: fine
  }
  sigset_t empty;
  sigemptyset(&empty);
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, _NSIG / 8) != 0) {
    ChildFail(p, ChildStep::kSignals);
  }

  // Wait until the parent wrote our uid/gid maps: before that we are
  // "nobody" in our namespace and exec would leave us without capabilities.
  char go = 0;
  ssize_t n;
  do {
    n = read(p.sync_read, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) _exit(126);  // parent gave up; it reports the reason

  // Lift every fd we still need above all targets, so that placing one
  // target cannot clobber another source. F_DUPFD_CLOEXEC picks the lowest
  // free number >= floor, so nothing existing is overwritten either.
  int floor = 3;
  for (const FdMapping& m : p.fds) floor = std::max(floor, m.target + 1);
  auto lift = [&](int& fd) {
    const int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) ChildFail(p, ChildStep::kFds);
    fd = high;
  };
  lift(p.error_write);
  lift(p.binary);
  lift(p.devnull);
  lift(p.log_write);
  for (FdMapping& m : p.fds) lift(m.source);

  // dup3 without O_CLOEXEC: exactly these survive exec.
  if (dup3(p.devnull, 0, 0) < 0 || dup3(p.log_write, 1, 0) < 0 || dup3(p.log_write, 2, 0) < 0) {
    ChildFail(p, ChildStep::kFds);
  }
  for (const FdMapping& m : p.fds) {
    if (dup3(m.source, m.target, 0) < 0) ChildFail(p, ChildStep::kFds);
  }
  // Everything else the core had open (fds without O_CLOEXEC included) is
  // marked close-on-exec; the error pipe stays usable until exec succeeds.
  unsigned next = 3;
  for (const FdMapping& m : p.fds) {
    const auto t = static_cast<unsigned>(m.target);
    if (t > next && syscall(SYS_close_range, next, t - 1, CLOSE_RANGE_CLOEXEC) != 0) {
      ChildFail(p, ChildStep::kCloseRange);
    }
    next = t + 1;
  }
  if (syscall(SYS_close_range, next, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    ChildFail(p, ChildStep::kCloseRange);
  }

  for (const ResourceLimit& l : p.rlimits) {
    const rlimit r{l.soft, l.hard};
    if (setrlimit(static_cast<__rlimit_resource_t>(l.resource), &r) != 0) {
      ChildFail(p, ChildStep::kRlimit);
    }
  }

  syscall(SYS_execveat, p.binary, "", p.argv.data(), p.envp.data(), AT_EMPTY_PATH);
  ChildFail(p, ChildStep::kExec);
}

Status WriteProcFile(pid_t pid, const char* file, const std::string& text) {
  const std::string path = fmt::format("/proc/{}/{}", pid, file);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("open {}", path);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoError("write {} '{}'", path, text);
  }
  return {};
}

// Maps the core's uid/gid to root inside the child's user namespace.
// setgroups must be denied first or an unprivileged core may not write
// gid_map (and the device must not be able to drop supplementary groups
// that deny it access to something).
Status WriteIdMaps(pid_t pid) {
  if (auto st = WriteProcFile(pid, "setgroups", "deny"); !st) return st;
  if (auto st = WriteProcFile(pid, "uid_map", fmt::format("0 {} 1\n", geteuid())); !st) return st;
  return WriteProcFile(pid, "gid_map", fmt::format("0 {} 1\n", getegid()));
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> MakePipe(const char* what) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2 for {}", what);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status ValidateSpec(const SpawnSpec& spec) {
  std::set<int> targets;
  for (const FdMapping& m : spec.fds) {
    if (m.target < 3) return MakeError("fd target {} is reserved for stdio", m.target);
    if (!targets.insert(m.target).second) return MakeError("fd target {} given twice", m.target);
    if (fcntl(m.source, F_GETFD) < 0) return ErrnoError("fd {} to pass as {}", m.source, m.target);
  }
  return {};
}

Result<pid_t> Clone3(uint64_t flags, int* pidfd) {
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(pidfd);
  args.exit_signal = SIGCHLD;
  const long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return ErrnoError("clone3");
  return static_cast<pid_t>(pid);
}

}  // namespace

Result<Child> Spawn(const SpawnSpec& spec) {
  if (auto st = ValidateSpec(spec); !st)
    return MakeError("spawn {}: {}", spec.name, st.error().message);
  UniqueFd binary(open(spec.binary.c_str(), O_PATH | O_CLOEXEC));
  if (!binary) return ErrnoError("spawn {}: open {}", spec.name, spec.binary);
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return ErrnoError("spawn {}: open /dev/null", spec.name);
  auto sync = MakePipe("sync");
  auto errors = MakePipe("errors");
  auto log = MakePipe("log");
  if (!sync || !errors || !log) {
    return MakeError("spawn {}: {}", spec.name,
                     (!sync     ? sync
                      : !errors ? errors
                                : log)
                         .error()
                         .message);
  }

  std::vector<std::string> argv_storage = spec.argv.empty() ? std::vector{spec.binary} : spec.argv;
  std::vector<std::string> env_storage = spec.env;
  ChildPlan plan{sync->read.get(),
                 errors->write.get(),
                 binary.get(),
                 devnull.get(),
                 log->write.get(),
                 spec.fds,
                 spec.rlimits,
                 {},
                 {},
                 {}};
  std::sort(plan.fds.begin(), plan.fds.end(),
            [](const FdMapping& a, const FdMapping& b) { return a.target < b.target; });
  for (std::string& s : argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (std::string& s : env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);

  // Block every signal across clone3 so no core handler runs in the child
  // before it resets the dispositions.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &plan.original_mask);
  int raw_pidfd = -1;
  auto pid = Clone3(kNamespaces | CLONE_NEWCGROUP, &raw_pidfd);
  if (!pid && pid.error().errnum == EINVAL) pid = Clone3(kNamespaces, &raw_pidfd);
  if (pid && *pid == 0) RunChild(plan);
  pthread_sigmask(SIG_SETMASK, &plan.original_mask, nullptr);
  if (!pid) return MakeError("spawn {}: {}", spec.name, pid.error().message);

  Child child{*pid, UniqueFd(raw_pidfd), std::move(log->read)};
  sync->read.reset();
  errors->write.reset();
  log->write.reset();

  auto kill_and_reap = [&] {
    syscall(SYS_pidfd_send_signal, child.pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info{};
    waitid(static_cast<idtype_t>(3 /* P_PIDFD */), static_cast<id_t>(child.pidfd.get()), &info,
           WEXITED);
  };
  if (auto st = WriteIdMaps(child.pid); !st) {
    kill_and_reap();
    return MakeError("spawn {}: {}", spec.name, st.error().message);
  }
  const char go = 1;
  if (write(sync->write.get(), &go, 1) != 1) {
    const auto e = ErrnoError("spawn {}: releasing the child", spec.name);
    kill_and_reap();
    return e;
  }
  sync->write.reset();

  // EOF means exec succeeded (the error pipe was close-on-exec).
  ChildError err{};
  ssize_t n;
  do {
    n = read(errors->read.get(), &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return child;
  kill_and_reap();
  if (n != static_cast<ssize_t>(sizeof err)) {
    return MakeError("spawn {}: child died before exec (error pipe read {} bytes)", spec.name, n);
  }
  return tl::unexpected(Error{fmt::format("spawn {}: {} {} failed in the child: {}", spec.name,
                                          StepName(err.step), spec.binary, std::strerror(err.err)),
                              err.err});
}

Status SignalChild(const Child& child, int signo) {
  if (syscall(SYS_pidfd_send_signal, child.pidfd.get(), signo, nullptr, 0) != 0) {
    return ErrnoError("pidfd_send_signal({}) to pid {}", signo, child.pid);
  }
  return {};
}

}  // namespace bulkhead
