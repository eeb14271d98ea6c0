// Golden tests: the compiled serial policy, run in the BPF emulator.
#include "sandbox/seccomp_program.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>

#include "sandbox/policy_bpf.h"
#include "sandbox/testing/bpf_emulator.h"

namespace bulkhead {
namespace {

constexpr uint64_t kGarbageHigh = 0xdeadbeef00000000ULL;

class SerialPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = FindSeccompProgram("serial");
    ASSERT_TRUE(p) << p.error().message;
    program_ = *p;
  }

  uint32_t Run(int nr, std::initializer_list<uint64_t> args = {},
               uint32_t arch = AUDIT_ARCH_X86_64) {
    seccomp_data d{};
    d.nr = nr;
    d.arch = arch;
    d.instruction_pointer = 0x401000;
    size_t i = 0;
    for (uint64_t a : args) d.args[i++] = a;
    auto r = RunSeccompBpf(program_, d);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : 0xffffffffU;
  }

  std::span<const sock_filter> program_;
};

TEST_F(SerialPolicy, AllowsDeviceIo) {
  EXPECT_EQ(Run(SYS_read, {3, 0x1000, 16}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_write, {2, 0x1000, 16}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_recvmsg, {3, 0x1000, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_epoll_wait, {5, 0x1000, 1, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_exit_group, {0}), SECCOMP_RET_ALLOW);
}

TEST_F(SerialPolicy, TrapsForbiddenSyscalls) {
  for (int nr : {SYS_openat, SYS_open, SYS_socket, SYS_execve, SYS_execveat, SYS_ptrace, SYS_clone,
                 SYS_clone3, SYS_fork, SYS_kill, SYS_mount}) {
    EXPECT_EQ(Run(nr, {0, 0, 0}), SECCOMP_RET_TRAP) << "syscall " << nr;
  }
}

TEST_F(SerialPolicy, MmapAndMprotectNeverExecutable) {
  EXPECT_EQ(Run(SYS_mmap, {0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 5, 0}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_mmap, {0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, 5, 0}), SECCOMP_RET_TRAP);
  EXPECT_EQ(Run(SYS_mprotect, {0x1000, 4096, PROT_READ}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_mprotect, {0x1000, 4096, PROT_EXEC}), SECCOMP_RET_TRAP);
  // Garbage in the upper half does not hide the exec bit.
  EXPECT_EQ(Run(SYS_mprotect, {0x1000, 4096, kGarbageHigh | PROT_EXEC}), SECCOMP_RET_TRAP);
}

TEST_F(SerialPolicy, ArgumentChecksUseLow32Bits) {
  EXPECT_EQ(Run(SYS_newfstatat, {3, 0x1000, 0x2000, AT_EMPTY_PATH}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_newfstatat, {3, 0x1000, 0x2000, 0}), SECCOMP_RET_TRAP);
  EXPECT_EQ(Run(SYS_fcntl, {3, F_GETFL}), SECCOMP_RET_ALLOW);
  // The kernel reads `cmd` as an int: so does the filter.
  EXPECT_EQ(Run(SYS_fcntl, {3, kGarbageHigh | F_GETFL}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Run(SYS_fcntl, {3, F_SETOWN}), SECCOMP_RET_TRAP);
  EXPECT_EQ(Run(SYS_fcntl, {3, kGarbageHigh | F_SETOWN}), SECCOMP_RET_TRAP);
}

TEST_F(SerialPolicy, IoctlOnlyListedCommands) {
  EXPECT_EQ(Run(SYS_ioctl, {3, FIONBIO, 0x1000}), SECCOMP_RET_ALLOW);  // common
  EXPECT_EQ(Run(SYS_ioctl, {3, TCGETS, 0x1000}), SECCOMP_RET_ALLOW);   // serial
  EXPECT_EQ(Run(SYS_ioctl, {3, TIOCSTI, 0x1000}), SECCOMP_RET_TRAP);
}

TEST_F(SerialPolicy, OtherAbisAreKilled) {
  // i386 via int 0x80: number 5 is open there.
  EXPECT_EQ(Run(5, {0, 0}, AUDIT_ARCH_I386), SECCOMP_RET_KILL_PROCESS);
  // x32: the x86_64 arch value with bit 30 set in the number.
  const uint32_t x32 = Run(0x40000000 | SYS_getpid, {});
  EXPECT_NE(x32, SECCOMP_RET_ALLOW);
  EXPECT_EQ(x32 & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_PROCESS);
}

TEST(DevicePolicies, EachAddsOnlyItsOwnSyscalls) {
  auto run = [](const char* kind, int nr, uint64_t a1) {
    seccomp_data d{};
    d.nr = nr;
    d.arch = AUDIT_ARCH_X86_64;
    d.args[0] = 3;
    d.args[1] = a1;
    return RunSeccompBpf(FindSeccompProgram(kind).value(), d).value();
  };
  EXPECT_EQ(run("net", SYS_ioctl, TUNSETOFFLOAD), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run("net", SYS_ioctl, FIONBIO), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run("serial", SYS_ioctl, TUNSETOFFLOAD), SECCOMP_RET_TRAP);
  EXPECT_EQ(run("ahci", SYS_pread64, 0), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run("serial", SYS_pread64, 0), SECCOMP_RET_TRAP);
  EXPECT_EQ(run("ahci", SYS_ioctl, TUNSETOFFLOAD), SECCOMP_RET_TRAP);
  for (const char* kind : {"serial", "net", "ahci"}) {
    EXPECT_EQ(run(kind, SYS_openat, 0), SECCOMP_RET_TRAP) << kind;
    EXPECT_EQ(run(kind, SYS_fcntl, F_GET_SEALS), SECCOMP_RET_ALLOW) << kind;
  }
}

// The compiled-in program says exactly what the reviewed file says: every
// x86_64 syscall number is allowed iff the file lists it without conditions,
// and traps if the file does not list it at all.
TEST(DevicePolicies, CompiledProgramsMatchTheirFiles) {
  for (std::string_view kind : SeccompProgramNames()) {
    auto policy =
        ParsePolicyFile(std::string(BULKHEAD_POLICY_DIR) + "/" + std::string(kind) + ".policy");
    ASSERT_TRUE(policy) << policy.error().message;
    auto program = FindSeccompProgram(kind).value();
    int allowed = 0;
    for (int nr = 0; nr < 512; ++nr) {
      seccomp_data d{};
      d.nr = nr;
      d.arch = AUDIT_ARCH_X86_64;
      const uint32_t action = RunSeccompBpf(program, d).value();
      const auto rule = std::find_if(policy->rules.begin(), policy->rules.end(),
                                     [&](const SyscallRule& r) { return r.nr == nr; });
      if (rule == policy->rules.end()) {
        EXPECT_EQ(action, SECCOMP_RET_TRAP) << kind << " syscall " << nr;
      } else if (rule->alternatives.empty()) {
        EXPECT_EQ(action, SECCOMP_RET_ALLOW) << kind << " " << rule->name;
        ++allowed;
      }
    }
    EXPECT_GT(allowed, 30) << kind;
  }
}

// The compiler path used at build time, end to end on a tiny policy.
TEST(CompilePolicyToBpf, TinyPolicyAllowsExactlyItsRules) {
  auto policy = ParsePolicy("tiny", "getpid\nclose: arg0 == 7\n",
                            [](std::string_view) -> Result<std::string> { return ""; });
  ASSERT_TRUE(policy) << policy.error().message;
  auto prog = CompilePolicyToBpf(*policy);
  ASSERT_TRUE(prog) << prog.error().message;
  auto run = [&](int nr, uint64_t a0) {
    seccomp_data d{};
    d.nr = nr;
    d.arch = AUDIT_ARCH_X86_64;
    d.args[0] = a0;
    return RunSeccompBpf(*prog, d).value();
  };
  EXPECT_EQ(run(SYS_getpid, 0), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run(SYS_close, 7), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run(SYS_close, 8), SECCOMP_RET_TRAP);
  EXPECT_EQ(run(SYS_read, 0), SECCOMP_RET_TRAP);
}

}  // namespace
}  // namespace bulkhead
