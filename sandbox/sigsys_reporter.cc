#include "sandbox/sigsys_reporter.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>

namespace bulkhead {
namespace {

// si_code of a seccomp SIGSYS (SYS_SECCOMP in the uapi siginfo.h, which
// glibc does not always expose).
constexpr int kSysSeccomp = 1;

// Written once before the filter is loaded, read only by the handler.
int g_log_fd = 2;
DeathNote* g_note = nullptr;

// Async-signal-safe unsigned to text.
size_t AppendNumber(char* out, uint64_t v, unsigned base) noexcept {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v != 0);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

void OnSigsys(int /*signo*/, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (info->si_code != kSysSeccomp) {
    // Someone sent SIGSYS by hand; SA_RESETHAND made the disposition SIG_DFL.
    errno = saved_errno;
    return;
  }
  const int nr = info->si_syscall;
  const auto arch = static_cast<uint32_t>(info->si_arch);
  if (g_note != nullptr) {
    g_note->syscall_nr.store(nr, std::memory_order_relaxed);
    g_note->arch.store(arch, std::memory_order_relaxed);
    g_note->instruction_pointer.store(reinterpret_cast<uintptr_t>(info->si_call_addr),
                                      std::memory_order_relaxed);
    g_note->magic.store(DeathNote::kMagic, std::memory_order_release);
  }
  char line[96];
  const size_t len = FormatDeathNoteLine(line, nr, arch);
  [[maybe_unused]] const ssize_t w = write(g_log_fd, line, len);

  // Re-issue the blocked syscall with its original arguments. The filter
  // traps it again; the handler is SIG_DFL by now (SA_RESETHAND) and the
  // kernel unblocks a forced SIGSYS, so the process dies by SIGSYS and the
  // core's waitid() says so.
  const auto* uc = static_cast<const ucontext_t*>(context);
  const greg_t* r = uc->uc_mcontext.gregs;
  syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
  // Unreachable unless the filter changed its mind; die anyway.
  syscall(SYS_exit_group, 128 + SIGSYS);
}

}  // namespace

size_t FormatDeathNoteLine(char (&buf)[96], int nr, uint32_t arch) noexcept {
  size_t n = kDeathNotePrefix.size();
  std::memcpy(buf, kDeathNotePrefix.data(), n);
  if (nr < 0) {
    buf[n++] = '-';
    n += AppendNumber(buf + n, static_cast<uint64_t>(-static_cast<int64_t>(nr)), 10);
  } else {
    n += AppendNumber(buf + n, static_cast<uint64_t>(nr), 10);
  }
  std::memcpy(buf + n, " arch 0x", 8);
  n += 8;
  n += AppendNumber(buf + n, arch, 16);
  buf[n++] = '\n';
  return n;
}

Status InstallSigsysReporter(int log_fd, DeathNote* note) {
  g_log_fd = log_fd;
  g_note = note;
  struct sigaction sa {};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return ErrnoError("sigaction(SIGSYS)");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  if (pthread_sigmask(SIG_UNBLOCK, &set, nullptr) != 0) return MakeError("unblocking SIGSYS");
  return {};
}

}  // namespace bulkhead
