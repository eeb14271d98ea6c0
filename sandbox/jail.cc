#include "sandbox/jail.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "sandbox/sigsys_reporter.h"

namespace bulkhead {
namespace {

// Where the empty tmpfs is first mounted before it becomes the root. Any
// existing directory will do; the mount is private to our namespace.
constexpr const char* kMountPoints[] = {"/tmp", "/mnt", "/dev", "/proc"};

Status StepError(const char* step, const Status& st) {
  return MakeError("jail: {}: {}", step, st.error().message);
}

}  // namespace

Status EnterEmptyRoot() {
  // Our mounts are copies of the core's; never let a change propagate back.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoError("making / private");
  }
  const char* where = nullptr;
  for (const char* dir : kMountPoints) {
    struct stat st {};
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
      where = dir;
      break;
    }
  }
  if (where == nullptr) return MakeError("no directory to mount the new root on");
  // Read-only and tiny from the start: nothing is ever created in it.
  if (mount("bulkhead-empty", where, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=2,mode=0555") != 0) {
    return ErrnoError("mounting the empty tmpfs on {}", where);
  }
  if (chdir(where) != 0) return ErrnoError("chdir {}", where);
  // pivot_root(".", ".") stacks the old root on top of the new one; the
  // detach below then leaves only the empty tmpfs. No put_old directory is
  // needed, which is what lets the tmpfs be read-only.
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    if (umount2(".", MNT_DETACH) != 0) return ErrnoError("detaching the old root");
  } else if (errno == EINVAL) {
    // The root is an initramfs (rootfs cannot be pivoted, e.g. in the
    // testbed's L1). Move the tmpfs over / and chroot into it; with every
    // capability dropped next, a chroot cannot be escaped.
    if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return ErrnoError("MS_MOVE onto /");
    if (chroot(".") != 0) return ErrnoError("chroot into the empty root");
  } else {
    return ErrnoError("pivot_root");
  }
  if (chdir("/") != 0) return ErrnoError("chdir /");
  return {};
}

Status DropAllCapabilities() {
  for (unsigned long cap = 0; cap < 64; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return ErrnoError("PR_CAPBSET_DROP {}", cap);
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return ErrnoError("PR_CAP_AMBIENT_CLEAR_ALL");
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return ErrnoError("capset to empty");
  return {};
}

Status SetJailLimits(const JailSpec& spec) {
  const std::pair<int, rlim_t> limits[] = {
      {RLIMIT_NOFILE, spec.max_open_files},
      {RLIMIT_NPROC, spec.max_processes},
      {RLIMIT_FSIZE, spec.max_file_size},
      {RLIMIT_CORE, 0},
  };
  for (const auto& [resource, value] : limits) {
    const rlimit r{value, value};
    if (setrlimit(static_cast<__rlimit_resource_t>(resource), &r) != 0) {
      return ErrnoError("setrlimit {} = {}", resource, value);
    }
  }
  return {};
}

Status CloseFdsExcept(std::vector<int> keep) {
  keep.insert(keep.end(), {0, 1, 2});
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  unsigned next = 0;
  for (int fd : keep) {
    if (fd < 0) return MakeError("negative fd {} in the keep-list", fd);
    const auto u = static_cast<unsigned>(fd);
    if (u > next && syscall(SYS_close_range, next, u - 1, 0) != 0) {
      return ErrnoError("close_range {}..{}", next, u - 1);
    }
    next = u + 1;
  }
  if (syscall(SYS_close_range, next, ~0U, 0) != 0) return ErrnoError("close_range {}..", next);
  return {};
}

Status LoadSeccompProgram(std::span<const sock_filter> program) {
  if (program.empty()) return MakeError("empty seccomp program");
  sock_fprog prog{static_cast<unsigned short>(program.size()),
                  const_cast<sock_filter*>(program.data())};
  // TSYNC: every thread of the device gets the filter, or none does.
  const long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (rc < 0) return ErrnoError("seccomp(SECCOMP_SET_MODE_FILTER)");
  if (rc > 0) return MakeError("seccomp TSYNC failed: thread {} cannot take the filter", rc);
  return {};
}

Status EnterJail(const JailSpec& spec) {
  if (spec.seccomp.empty()) return MakeError("jail: no seccomp program given");
  // glibc opens /etc/localtime the first time it formats a local time (any
  // spdlog line does). Load it now: after step 1 there is no such file and
  // after step 6 the open would kill the device.
  tzset();
  if (auto st = EnterEmptyRoot(); !st) return StepError("empty root", st);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return StepError("no_new_privs", ErrnoError("PR_SET_NO_NEW_PRIVS"));
  }
  if (auto st = DropAllCapabilities(); !st) return StepError("capabilities", st);
  if (auto st = SetJailLimits(spec); !st) return StepError("rlimits", st);
  if (auto st = CloseFdsExcept(spec.keep_fds); !st) return StepError("closing fds", st);
  if (auto st = InstallSigsysReporter(STDERR_FILENO, spec.death_note); !st) {
    return StepError("SIGSYS reporter", st);
  }
  if (auto st = LoadSeccompProgram(spec.seccomp); !st) return StepError("seccomp", st);
  return {};
}

}  // namespace bulkhead
