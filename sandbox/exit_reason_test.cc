// Exit decoding, death notes and the device log reader.
#include "sandbox/exit_reason.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/death_note.h"
#include "sandbox/device_log.h"
#include "sandbox/sigsys_reporter.h"

namespace bulkhead {

// Readable gtest failure messages (found by ADL, so not in the anonymous ns).
void PrintTo(const ExitReason& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using ::testing::ElementsAre;

// fork() is fine here: the test process is single-threaded.
UniqueFd ForkWith(void (*body)()) {
  const pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(99);
  }
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

TEST(ExitReason, ToStringIsReadable) {
  EXPECT_EQ(ExitReason::Exited(0).ToString(), "exited with status 0");
  EXPECT_EQ(ExitReason::Signaled(SIGSYS).ToString(), "killed by SIGSYS (Bad system call)");
  EXPECT_EQ(ExitReason::Signaled(SIGSEGV, true).ToString(),
            "killed by SIGSEGV (Segmentation fault), core dumped");
}

TEST(ExitReason, DecodesSiginfo) {
  siginfo_t info{};
  info.si_code = CLD_EXITED;
  info.si_status = 3;
  EXPECT_EQ(DecodeWaitSiginfo(info).value(), ExitReason::Exited(3));
  info.si_code = CLD_DUMPED;
  info.si_status = SIGABRT;
  EXPECT_EQ(DecodeWaitSiginfo(info).value(), ExitReason::Signaled(SIGABRT, true));
  info.si_code = CLD_STOPPED;
  EXPECT_FALSE(DecodeWaitSiginfo(info));
}

TEST(ExitReason, WaitsOnRealProcesses) {
  UniqueFd exits = ForkWith([] { _exit(7); });
  ASSERT_TRUE(exits.valid());
  EXPECT_EQ(WaitForExit(exits).value(), ExitReason::Exited(7));

  UniqueFd killed = ForkWith([] { pause(); });
  ASSERT_TRUE(killed.valid());
  EXPECT_EQ(PollExit(killed).value(), std::nullopt);  // still running
  ASSERT_EQ(syscall(SYS_pidfd_send_signal, killed.get(), SIGKILL, nullptr, 0), 0);
  EXPECT_EQ(WaitForExit(killed).value(), ExitReason::Signaled(SIGKILL));
  // Reaped: a second wait is an error, not a hang.
  EXPECT_FALSE(WaitForExit(killed));
}

TEST(DeathNote, LineRoundTrips) {
  char buf[96];
  const size_t n = FormatDeathNoteLine(buf, 257, AUDIT_ARCH_X86_64);
  const std::string_view line(buf, n);
  EXPECT_EQ(line, "bulkhead-sandbox: blocked syscall 257 arch 0xc000003e\n");
  auto note = ParseDeathNoteLine(line.substr(0, n - 1));
  ASSERT_TRUE(note);
  EXPECT_EQ(*note, (BlockedSyscall{257, AUDIT_ARCH_X86_64}));
  EXPECT_EQ(note->ToString(), "openat (257)");
  EXPECT_EQ(std::string_view(buf, FormatDeathNoteLine(buf, -1, 0)),
            "bulkhead-sandbox: blocked syscall -1 arch 0x0\n");
}

TEST(DeathNote, ParserRejectsLookalikes) {
  for (std::string_view bad : {"bulkhead-sandbox: blocked syscall", "hello",
                               "bulkhead-sandbox: blocked syscall x arch 0xc000003e",
                               "bulkhead-sandbox: blocked syscall 1 arch 0xzz",
                               "bulkhead-sandbox: blocked syscall 1 arch 0x1 trailing",
                               "bulkhead-sandbox: blocked syscall 99999999999 arch 0x1"}) {
    EXPECT_FALSE(ParseDeathNoteLine(bad)) << bad;
  }
}

TEST(DeathNote, SharedStructNeedsMagic) {
  DeathNote note{};
  note.syscall_nr = 41;
  EXPECT_FALSE(ReadDeathNote(note));
  note.arch = AUDIT_ARCH_X86_64;
  note.magic = DeathNote::kMagic;
  EXPECT_EQ(ReadDeathNote(note), (BlockedSyscall{41, AUDIT_ARCH_X86_64}));
  EXPECT_EQ(SyscallName(41, AUDIT_ARCH_X86_64), "socket");
  EXPECT_EQ(BlockedSyscall({5000, AUDIT_ARCH_X86_64}).ToString(),
            "unknown syscall 5000 (arch 0xc000003e)");
}

TEST(LineSplitter, SplitsAcrossChunksAndCapsLength) {
  std::vector<std::string> lines;
  auto sink = [&](std::string_view l) { lines.emplace_back(l); };
  LineSplitter s(8);
  s.Feed("ab", sink);
  s.Feed("c\nde", sink);
  s.Feed("f\n0123456789\n", sink);
  s.Feed("tail", sink);
  s.Flush(sink);
  EXPECT_THAT(lines, ElementsAre("abc", "def", "01234567", "89", "tail"));
}

TEST(DeviceLog, LogsSanitizedLinesAndRemembersDeathNote) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  const std::string text =
      "hello\x1b[31m\nbulkhead-sandbox: blocked syscall 257 arch 0xc000003e\nlast";
  ASSERT_EQ(write(w.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  w.reset();
  std::vector<std::string> seen;
  DeviceLog log("serial0", [&](std::string_view name, std::string_view line) {
    seen.push_back(std::string(name) + ": " + std::string(line));
  });
  EXPECT_EQ(log.ReadFrom(r).value(), false);  // EOF
  EXPECT_THAT(seen, ElementsAre("serial0: hello\\x1b[31m",
                                "serial0: bulkhead-sandbox: blocked syscall 257 arch 0xc000003e",
                                "serial0: last"));
  ASSERT_TRUE(log.blocked_syscall());
  EXPECT_EQ(log.blocked_syscall()->nr, 257);
}

}  // namespace
}  // namespace bulkhead
