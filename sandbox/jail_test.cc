// End-to-end: spawn the test devices (sandbox/testing/) into the jail and
// check from outside, through /proc, that every promise of the jail holds;
// then check that a device breaking the policy dies by SIGSYS and the core
// learns which syscall it was.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/death_note.h"
#include "sandbox/device_log.h"
#include "sandbox/exit_reason.h"
#include "sandbox/spawn.h"

namespace bulkhead {

// Readable gtest failure messages (found by ADL, so not in the anonymous ns).
void PrintTo(const ExitReason& r, std::ostream* os) { *os << r.ToString(); }

namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// User namespaces can be disabled (sysctl, container policy); then the
// sandbox cannot work and these tests have nothing to test.
#define SPAWN_OR_SKIP(var, spec)                                            \
  auto var = Spawn(spec);                                                   \
  if (!var && var.error().message.find("clone3") != std::string::npos) {    \
    GTEST_SKIP() << "user namespaces unavailable: " << var.error().message; \
  }                                                                         \
  ASSERT_TRUE(var) << var.error().message

struct Pipe {
  UniqueFd r, w;
};
Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Reads one line from `fd`, giving up after 10 s.
std::string ReadLine(const UniqueFd& fd) {
  std::string line;
  char c;
  while (true) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return line + "<timeout>";
    if (read(fd.get(), &c, 1) != 1 || c == '\n') return line;
    line += c;
  }
}

std::string DrainLog(const UniqueFd& pipe, std::optional<BlockedSyscall>* note = nullptr) {
  std::string all;
  DeviceLog log("test",
                [&](std::string_view, std::string_view line) { all += std::string(line) + "\n"; });
  EXPECT_TRUE(log.ReadFrom(pipe));
  if (note) *note = log.blocked_syscall();
  return all;
}

class HarmlessDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    report_ = MakePipe();
    hold_ = MakePipe();
    // An fd the core opened without O_CLOEXEC must not leak into a device.
    leaky_.reset(dup(hold_.w.get()));
    ASSERT_EQ(write(hold_.w.get(), "fixture\n", 8), 8);
    SpawnSpec spec;
    spec.name = "harmless";
    spec.binary = HARMLESS_DEVICE;
    spec.fds = {{report_.w.get(), 3}, {hold_.r.get(), 4}};
    spec.rlimits = {{RLIMIT_MSGQUEUE, 0, 0}};
    SPAWN_OR_SKIP(child, spec);
    child_ = std::move(*child);
    report_.w.reset();
    hold_.r.reset();
    ASSERT_EQ(ReadLine(report_.r), "jailed fixture") << DrainLog(child_.stderr_pipe);
    proc_ = "/proc/" + std::to_string(child_.pid);
  }

  void TearDown() override {
    if (!child_.pidfd.valid()) return;
    hold_.w.reset();
    leaky_.reset();
    auto reason = WaitForExit(child_.pidfd);
    ASSERT_TRUE(reason) << reason.error().message;
    const std::string log = DrainLog(child_.stderr_pipe);
    EXPECT_EQ(*reason, ExitReason::Exited(0)) << log;
    EXPECT_THAT(log, HasSubstr("harmless: jailed and serving"));
  }

  Pipe report_, hold_;
  UniqueFd leaky_;
  Child child_;
  std::string proc_;
};

TEST_F(HarmlessDevice, StatusShowsSeccompNoNewPrivsAndNoCapabilities) {
  const std::string status = ReadFile(proc_ + "/status");
  EXPECT_THAT(status, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1\n"));
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_THAT(status, HasSubstr(std::string(cap) + ":\t0000000000000000\n"));
  }
}

TEST_F(HarmlessDevice, LivesInItsOwnNamespaces) {
  for (const char* ns : {"mnt", "pid", "net", "ipc", "uts", "user", "cgroup"}) {
    const auto mine = std::filesystem::read_symlink(std::string("/proc/self/ns/") + ns);
    const auto its = std::filesystem::read_symlink(proc_ + "/ns/" + ns);
    EXPECT_NE(mine, its) << ns;
  }
  // The core's uid/gid is root inside, and only that one id is mapped.
  auto map = [&](const char* file) {
    std::istringstream in(ReadFile(proc_ + "/" + file));
    std::vector<long> fields;
    for (long v; in >> v;) fields.push_back(v);
    return fields;
  };
  EXPECT_EQ(map("uid_map"), (std::vector<long>{0, static_cast<long>(geteuid()), 1}));
  EXPECT_EQ(map("gid_map"), (std::vector<long>{0, static_cast<long>(getegid()), 1}));
  EXPECT_THAT(ReadFile(proc_ + "/setgroups"), HasSubstr("deny"));
}

TEST_F(HarmlessDevice, RootIsEmptyAndReadOnly) {
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(proc_ + "/root")) {
    entries.push_back(e.path().filename().string());
  }
  EXPECT_TRUE(entries.empty()) << entries.size() << " entries, first: " << entries[0];
  // One mount in its namespace: the empty tmpfs, read-only.
  const std::string mounts = ReadFile(proc_ + "/mountinfo");
  EXPECT_EQ(std::count(mounts.begin(), mounts.end(), '\n'), 1) << mounts;
  EXPECT_THAT(mounts, HasSubstr(" / / ro,"));
  EXPECT_THAT(mounts, HasSubstr("tmpfs"));
}

TEST_F(HarmlessDevice, OnlyTheGivenFdsAreOpen) {
  std::set<int> fds;
  for (const auto& e : std::filesystem::directory_iterator(proc_ + "/fd")) {
    fds.insert(std::stoi(e.path().filename().string()));
  }
  EXPECT_EQ(fds, (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::filesystem::read_symlink(proc_ + "/fd/0"), "/dev/null");
  EXPECT_THAT(std::filesystem::read_symlink(proc_ + "/fd/2").string(), HasSubstr("pipe:"));
}

TEST_F(HarmlessDevice, CoreCanKillIt) {
  ASSERT_TRUE(SignalChild(child_, SIGKILL));
  EXPECT_EQ(WaitForExit(child_.pidfd).value(), ExitReason::Signaled(SIGKILL));
  child_.pidfd.reset();  // reaped: TearDown has nothing to wait for
}

TEST_F(HarmlessDevice, LimitsApplied) {
  const std::string limits = ReadFile(proc_ + "/limits");
  auto expect_limit = [&](const std::string& name, const std::string& value) {
    std::istringstream in(limits);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(name)) {
        std::istringstream fields(line.substr(name.size()));
        std::string soft, hard;
        fields >> soft >> hard;
        EXPECT_EQ(soft, value) << name;
        EXPECT_EQ(hard, value) << name;
        return;
      }
    }
    ADD_FAILURE() << name << " not in limits";
  };
  expect_limit("Max open files", "64");
  expect_limit("Max processes", "0");
  expect_limit("Max file size", "0");
  expect_limit("Max core file size", "0");
  expect_limit("Max msgqueue size", "0");  // from SpawnSpec::rlimits
}

struct Attack {
  const char* name;
  int expected_nr;  // -1: killed without a note (wrong ABI)
};

void PrintTo(const Attack& a, std::ostream* os) { *os << a.name; }

class MaliciousDevice : public ::testing::TestWithParam<Attack> {};

TEST_P(MaliciousDevice, DiesBySigsysAndTheCoreKnowsWhy) {
  UniqueFd memfd(memfd_create("death-note", MFD_CLOEXEC));
  ASSERT_TRUE(memfd.valid());
  ASSERT_EQ(ftruncate(memfd.get(), 4096), 0);
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  ASSERT_NE(page, MAP_FAILED);
  // SAFETY: a 4096-byte shared mapping, read only through DeathNote atomics.
  const auto* note = static_cast<const DeathNote*>(page);

  SpawnSpec spec;
  spec.name = "malicious";
  spec.binary = MALICIOUS_DEVICE;
  spec.argv = {"bulkhead-test-malicious", GetParam().name};
  spec.fds = {{memfd.get(), 3}};
  SPAWN_OR_SKIP(child, spec);

  auto reason = WaitForExit(child->pidfd);
  ASSERT_TRUE(reason) << reason.error().message;
  std::optional<BlockedSyscall> from_log;
  const std::string log = DrainLog(child->stderr_pipe, &from_log);
  EXPECT_EQ(*reason, ExitReason::Signaled(SIGSYS, reason->core_dumped))
      << reason->ToString() << "\n"
      << log;
  if (GetParam().expected_nr >= 0) {
    const BlockedSyscall expected{GetParam().expected_nr, AUDIT_ARCH_X86_64};
    EXPECT_EQ(ReadDeathNote(*note), expected);
    EXPECT_EQ(from_log, expected) << log;
  } else {
    EXPECT_EQ(ReadDeathNote(*note), std::nullopt);
  }
  munmap(page, 4096);
}

INSTANTIATE_TEST_SUITE_P(Attacks, MaliciousDevice,
                         ::testing::Values(Attack{"openat", 257}, Attack{"socket", 41},
                                           Attack{"mmap-exec", 9}, Attack{"x32", -1}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The fd the device wants at 3 sits at 4 in the core and vice versa: placing
// one must not clobber the other.
TEST(Spawn, SwappedSourcesAndTargets) {
  // Park whatever the test process has at 3 and 4, and restore it after.
  UniqueFd saved3(fcntl(3, F_DUPFD_CLOEXEC, 50)), saved4(fcntl(4, F_DUPFD_CLOEXEC, 50));
  Pipe report = MakePipe(), hold = MakePipe();
  // The pipes may have landed on 3 and 4 themselves: move them out first.
  for (UniqueFd* fd : {&report.r, &report.w, &hold.r, &hold.w}) {
    fd->reset(fcntl(fd->get(), F_DUPFD_CLOEXEC, 60));
  }
  ASSERT_EQ(dup3(report.w.get(), 4, O_CLOEXEC), 4);
  ASSERT_EQ(dup3(hold.r.get(), 3, O_CLOEXEC), 3);
  ASSERT_EQ(write(hold.w.get(), "swapped\n", 8), 8);
  SpawnSpec spec;
  spec.name = "swapped";
  spec.binary = HARMLESS_DEVICE;
  spec.fds = {{4, 3}, {3, 4}};
  auto child = Spawn(spec);
  report.w.reset();
  hold.r.reset();
  close(3);
  close(4);
  if (saved3) dup3(saved3.get(), 3, 0);
  if (saved4) dup3(saved4.get(), 4, 0);
  if (!child && child.error().message.find("clone3") != std::string::npos) GTEST_SKIP();
  ASSERT_TRUE(child) << child.error().message;
  EXPECT_EQ(ReadLine(report.r), "jailed swapped") << DrainLog(child->stderr_pipe);
  hold.w.reset();
  EXPECT_EQ(WaitForExit(child->pidfd).value(), ExitReason::Exited(0));
}

// The core is multithreaded; unshare(CLONE_NEWUSER) would fail there, which
// is why the namespaces are created by clone3. Spawn with a busy thread
// (allocating, so it holds malloc locks at random times) running.
TEST(Spawn, WorksFromAMultithreadedCore) {
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) {
      std::vector<char> v(4096);
      asm volatile("" : : "r"(v.data()) : "memory");  // keep the allocation
    }
  });
  Pipe report = MakePipe(), hold = MakePipe();
  ASSERT_EQ(write(hold.w.get(), "threads\n", 8), 8);
  SpawnSpec spec;
  spec.name = "threaded";
  spec.binary = HARMLESS_DEVICE;
  spec.fds = {{report.w.get(), 3}, {hold.r.get(), 4}};
  auto child = Spawn(spec);
  stop = true;
  busy.join();
  if (!child && child.error().message.find("clone3") != std::string::npos) GTEST_SKIP();
  ASSERT_TRUE(child) << child.error().message;
  report.w.reset();
  hold.r.reset();
  EXPECT_EQ(ReadLine(report.r), "jailed threads") << DrainLog(child->stderr_pipe);
  hold.w.reset();
  EXPECT_EQ(WaitForExit(child->pidfd).value(), ExitReason::Exited(0));
}

TEST(Spawn, ReportsExecFailureByStep) {
  SpawnSpec spec;
  spec.name = "dir";
  spec.binary = "/";  // opens fine, cannot be executed
  auto child = Spawn(spec);
  ASSERT_FALSE(child);
  if (child.error().message.find("clone3") != std::string::npos) GTEST_SKIP();
  EXPECT_THAT(child.error().message, HasSubstr("execveat"));
}

TEST(Spawn, RejectsBadSpecsBeforeCloning) {
  SpawnSpec missing;
  missing.name = "missing";
  missing.binary = "/nonexistent/bulkhead-device";
  EXPECT_THAT(Spawn(missing).error().message, HasSubstr("/nonexistent/bulkhead-device"));

  SpawnSpec stdio;
  stdio.name = "stdio";
  stdio.binary = HARMLESS_DEVICE;
  stdio.fds = {{0, 2}};
  EXPECT_THAT(Spawn(stdio).error().message, HasSubstr("reserved"));

  SpawnSpec twice = stdio;
  twice.fds = {{0, 3}, {1, 3}};
  EXPECT_THAT(Spawn(twice).error().message, HasSubstr("twice"));

  SpawnSpec closed = stdio;
  closed.fds = {{987, 3}};
  EXPECT_THAT(Spawn(closed).error().message, HasSubstr("987"));
}

}  // namespace
}  // namespace bulkhead
