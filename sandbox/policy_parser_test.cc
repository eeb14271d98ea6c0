#include "sandbox/policy_parser.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sandbox/seccomp_program.h"

namespace bulkhead {
namespace {

using ::testing::HasSubstr;

// An in-memory set of policy files for include tests.
PolicyLoader Files(std::map<std::string, std::string> files) {
  return [files = std::move(files)](std::string_view name) -> Result<std::string> {
    auto it = files.find(std::string(name));
    if (it == files.end()) return MakeError("no policy '{}'", name);
    return it->second;
  };
}

Result<Policy> Parse(std::string_view text, std::map<std::string, std::string> files = {}) {
  return ParsePolicy("test", text, Files(std::move(files)));
}

TEST(PolicyParser, UnknownSyscallFailsWithFileAndLine) {
  auto p = Parse("read\n# comment\nopnat\n");
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("test:3"));
  EXPECT_THAT(p.error().message, HasSubstr("unknown syscall 'opnat'"));
}

TEST(PolicyParser, ForbiddenSyscallsAreRefused) {
  for (const char* name : {"open", "openat", "socket", "execve", "execveat"}) {
    auto p = Parse(std::string(name) + "\n");
    ASSERT_FALSE(p) << name;
    EXPECT_THAT(p.error().message, HasSubstr("forbidden")) << name;
  }
  // Also with a condition, and through an include.
  EXPECT_FALSE(Parse("openat: arg0 == 3\n"));
  EXPECT_FALSE(Parse("@include evil\n", {{"evil", "execve\n"}}));
}

TEST(PolicyParser, UnconditionalRuleAndComments) {
  auto p = Parse("  read   # trailing comment\n\n# only a comment\nwrite\n");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->rules.size(), 2u);
  EXPECT_EQ(p->rules[0].name, "read");
  EXPECT_EQ(p->rules[0].nr, SYS_read);
  EXPECT_TRUE(p->rules[0].alternatives.empty());
  EXPECT_EQ(p->rules[1].nr, SYS_write);
}

TEST(PolicyParser, ConditionsAlternativesAndMasks) {
  auto p = Parse(
      "fcntl: arg1 == F_GETFL || arg1 == 4\n"
      "mmap: arg2 & PROT_EXEC == 0 && arg3 == 0x22\n");
  ASSERT_TRUE(p) << p.error().message;
  const SyscallRule* fcntl_rule = p->Find("fcntl");
  ASSERT_NE(fcntl_rule, nullptr);
  ASSERT_EQ(fcntl_rule->alternatives.size(), 2u);
  EXPECT_EQ(fcntl_rule->alternatives[0], (Alternative{{1, 0xffffffffULL, F_GETFL}}));
  EXPECT_EQ(fcntl_rule->alternatives[1], (Alternative{{1, 0xffffffffULL, 4}}));
  const SyscallRule* mmap_rule = p->Find("mmap");
  ASSERT_NE(mmap_rule, nullptr);
  ASSERT_EQ(mmap_rule->alternatives.size(), 1u);
  EXPECT_EQ(mmap_rule->alternatives[0], (Alternative{{2, PROT_EXEC, 0}, {3, 0xffffffffULL, 0x22}}));
}

TEST(PolicyParser, SyntaxErrorsAreReported) {
  EXPECT_THAT(Parse("fcntl: arg7 == 1\n").error().message, HasSubstr("arg0..arg5"));
  EXPECT_THAT(Parse("fcntl: arg1 = 1\n").error().message, HasSubstr("no '=='"));
  EXPECT_THAT(Parse("fcntl: arg1 == F_BOGUS\n").error().message, HasSubstr("unknown value"));
  EXPECT_THAT(Parse("fcntl:\n").error().message, HasSubstr("empty condition"));
  EXPECT_THAT(Parse("mmap: arg2 & 4 == 5\n").error().message, HasSubstr("outside mask"));
  EXPECT_THAT(Parse("@include\n").error().message, HasSubstr("needs a policy name"));
  EXPECT_THAT(Parse("@include nothere\n").error().message, HasSubstr("no policy 'nothere'"));
}

TEST(PolicyParser, DuplicatesInOneFileAreErrors) {
  EXPECT_THAT(Parse("read\nread\n").error().message, HasSubstr("already has a rule at test:1"));
}

TEST(PolicyParser, IncludedConditionalRulesMergeAlternatives) {
  auto p = Parse("@include base\nioctl: arg1 == 2\n", {{"base", "ioctl: arg1 == 1\nread\n"}});
  ASSERT_TRUE(p) << p.error().message;
  const SyscallRule* ioctl_rule = p->Find("ioctl");
  ASSERT_NE(ioctl_rule, nullptr);
  EXPECT_EQ(ioctl_rule->alternatives.size(), 2u);
  // But an unconditional rule may not swallow a conditional one (or reverse).
  EXPECT_FALSE(Parse("@include base\nioctl\n", {{"base", "ioctl: arg1 == 1\n"}}));
  EXPECT_FALSE(Parse("@include base\nread: arg0 == 1\n", {{"base", "read\n"}}));
}

TEST(PolicyParser, IncludeCycleIsAnError) {
  auto p = Parse("@include a\n", {{"a", "@include b\n"}, {"b", "@include a\n"}});
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("include cycle"));
}

// Every policy file we ship parses and none of them lets a device reach a
// path, a socket or a new program.
TEST(ShippedPolicies, ParseAndContainNoForbiddenSyscall) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(BULKHEAD_POLICY_DIR)) {
    if (entry.path().extension() != ".policy") continue;
    ++count;
    auto p = ParsePolicyFile(entry.path().string());
    ASSERT_TRUE(p) << p.error().message;
    for (int nr : {SYS_open, SYS_openat, SYS_openat2, SYS_execve, SYS_execveat, SYS_socket,
                   SYS_creat, SYS_connect}) {
      for (const SyscallRule& r : p->rules) {
        EXPECT_NE(r.nr, nr) << entry.path() << " allows " << r.name;
      }
    }
  }
  EXPECT_GE(count, 2);  // common and serial at least
}

TEST(ShippedPolicies, EveryDevicePolicyIsCompiledIn) {
  auto names = SeccompProgramNames();
  EXPECT_THAT(names, ::testing::Contains("serial"));
  EXPECT_TRUE(FindSeccompProgram("serial"));
  EXPECT_FALSE(FindSeccompProgram("no-such-device"));
}

// The build-time tool itself: a bad policy fails it with a message that
// names the file, the line and the problem (this is what breaks the build).
std::pair<int, std::string> RunCompiler(const std::string& args) {
  const std::string cmd = std::string(BULKHEAD_POLICY_COMPILER) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int status = p ? pclose(p) : -1;
  return {status, out};
}

TEST(PolicyCompilerTool, RejectsBadPoliciesWithClearMessages) {
  const std::string dir = BULKHEAD_TESTING_DIR;
  auto [status, out] = RunCompiler("/dev/null bad=" + dir + "/unknown_syscall.policy");
  EXPECT_NE(status, 0);
  EXPECT_THAT(out, HasSubstr("unknown_syscall.policy:3: unknown syscall 'opnat'"));
  std::tie(status, out) = RunCompiler("/dev/null bad=" + dir + "/forbidden_syscall.policy");
  EXPECT_NE(status, 0);
  EXPECT_THAT(out, HasSubstr("forbidden_syscall.policy:3: syscall 'openat' is forbidden"));
}

TEST(PolicyCompilerTool, EmitsAProgramTable) {
  const std::string out_file = ::testing::TempDir() + "/bulkhead_policy_compiler_test.cc";
  auto [status, out] =
      RunCompiler(out_file + " serial=" + std::string(BULKHEAD_POLICY_DIR) + "/serial.policy");
  ASSERT_EQ(status, 0) << out;
  std::ifstream f(out_file);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_THAT(ss.str(), HasSubstr("constexpr sock_filter kFilter_serial[]"));
  EXPECT_THAT(ss.str(), HasSubstr("{\"serial\", kFilter_serial, std::size(kFilter_serial)}"));
  std::remove(out_file.c_str());
}

}  // namespace
}  // namespace bulkhead
