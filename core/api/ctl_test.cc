// `bulkhead ctl` end to end (ctl::Run against a live ApiServer over a fake
// VM) and its output formats.
#include "core/api/ctl.h"

#include <gtest/gtest.h>

#include "core/api/api_server.h"
#include "core/api/ctl_format.h"
#include "core/api/fake_vm_control.h"

namespace bulkhead::ctl {
namespace {

using bulkhead::testing::FakeVmControl;
using bulkhead::testing::TempDir;

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ApiServer::Start(dir_ / "api.sock", vm_);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }

  Output Ctl(std::string verb, bool json = false, std::string device = "") {
    return ctl::Run(Command{dir_ / "api.sock", std::move(verb), std::move(device), json});
  }

  TempDir dir_;
  FakeVmControl vm_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(CtlTest, StatusHuman) {
  const Output o = Ctl("status");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(o.out,
            "state:   running\n"
            "uptime:  12.2 s\n"
            "vcpus:   2\n"
            "memory:  512 MiB (536870912)\n");
}

TEST_F(CtlTest, StatusJson) {
  const Output o = Ctl("status", true);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out,
            R"j({"paused":false,"uptime_seconds":12.25,"vcpus":2,"memory_bytes":536870912})j"
            "\n");
}

TEST_F(CtlTest, DevicesHumanIsAnAlignedTable) {
  const Output o = Ctl("devices");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out,
            "NAME    KIND        PID   STATE       RESTARTS  "
            "LAST EXIT                                                   "
            "RECOVERY MS  SERVED/REPLAYED/MALFORMED  COUNTERS\n"
            "serial  serial      4242  running     0         "
            "-                                                           "
            "-            1500/0/0                   tx_bytes=1234 rx_bytes=56\n"
            "net     virtio-net  -     restarting  2         "
            "killed by SIGSYS (Bad system call) (seccomp: openat (257))  "
            "3.5          10/3/1                     rx_frames=7\n");
}

TEST_F(CtlTest, DevicesJson) {
  const Output o = Ctl("devices", true);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out,
            R"j({"devices":[)j"
            R"j({"name":"serial","kind":"serial","pid":4242,"state":"running","restarts":0,)j"
            R"j("last_exit":"","blocked_syscall":"","last_recovery_ms":0,"requests_served":1500,)j"
            R"j("requests_replayed":0,"malformed_requests":0,)j"
            R"j("counters":{"tx_bytes":1234,"rx_bytes":56}},)j"
            R"j({"name":"net","kind":"virtio-net","pid":-1,"state":"restarting","restarts":2,)j"
            R"j("last_exit":"killed by SIGSYS (Bad system call)","blocked_syscall":"openat (257)",)j"
            R"j("last_recovery_ms":3.5,"requests_served":10,"requests_replayed":3,)j"
            R"j("malformed_requests":1,"counters":{"rx_frames":7}}]})j"
            "\n");
}

TEST_F(CtlTest, Actions) {
  EXPECT_EQ(Ctl("restart", false, "net").out, "net: restart requested\n");
  EXPECT_EQ(Ctl("restart", true, "net").out,
            R"j({"ok":true,"command":"restart","device":"net"})j"
            "\n");
  EXPECT_EQ(Ctl("pause").out, "paused\n");
  EXPECT_EQ(Ctl("resume", true).out, R"j({"ok":true,"command":"resume"})j"
                                     "\n");
  EXPECT_EQ(Ctl("poweroff").out, "powering off\n");
  EXPECT_EQ(vm_.Calls(),
            (std::vector<std::string>{"restart net", "restart net", "pause", "resume", "poweroff"}));
}

TEST_F(CtlTest, ApiErrorsAreOneLineAndExitOne) {
  Output o = Ctl("restart", false, "floppy");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "bulkhead ctl: restart: no device named 'floppy'\n");
  o = Ctl("resume", true);  // --json does not change how errors look
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "bulkhead ctl: resume: not paused\n");
  o = Ctl("reboot");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "bulkhead ctl: unknown command 'reboot'\n");
}

TEST(CtlNoServer, MissingSocketFailsWithOneLine) {
  TempDir dir;
  const Output o = ctl::Run(Command{dir / "missing.sock", "status", "", false});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "bulkhead ctl: " + (dir / "missing.sock") + ": No such file or directory\n");
}

TEST(CtlNoServer, StaleSocketSaysNoVm) {
  TempDir dir;
  FakeVmControl vm;
  const std::string path = dir / "api.sock";
  {
    auto s = ApiServer::Start(path, vm);
    ASSERT_TRUE(s);
    // Leave the file behind as a killed bulkhead would: hard-link it away
    // before Stop removes it, then put it back.
    ASSERT_EQ(::link(path.c_str(), (dir / "keep").c_str()), 0);
  }
  ASSERT_EQ(::rename((dir / "keep").c_str(), path.c_str()), 0);
  const Output o = ctl::Run(Command{path, "devices", "", true});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "bulkhead ctl: " + path + ": no VM is serving this socket\n");
}

TEST(CtlFormat, HostileStringsCannotBreakTheTable) {
  DeviceInfo d;
  d.name = "evil\n\x1b[2J";
  d.kind = "k";
  d.state = "running";
  const std::string out = DevicesText({d});
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_NE(out.find("evil\\n\\x1b[2J"), std::string::npos);
}

TEST(CtlFormat, MemorySizes) {
  EXPECT_NE(StatusText(VmStatus{true, 0, 1, 1536ull << 20}).find("memory:  1.5 GiB (1610612736)"),
            std::string::npos);
  EXPECT_NE(StatusText(VmStatus{true, 0, 1, 1000}).find("memory:  1000 bytes (1000)"),
            std::string::npos);
  EXPECT_NE(StatusText(VmStatus{true, 0, 1, 0}).find("state:   paused"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::ctl
