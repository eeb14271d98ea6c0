// The real bulkhead-serial process, driven as the core drives it: spawned
// with sandbox Spawn (fd 3 = control socket), attached over DeviceControl
// with exit rings, an irq eventfd and a console socketpair, then used through
// the rings. No KVM: the test plays the vCPU (ExitRingProducer) and the
// console relay (the other end of the backend socket).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "devproc/serial/serial_state_region.h"
#include "devproc/serial/serial_worker.h"
#include "devproc/serial/uart16550.h"
#include "devproc/serial/uart_regs.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"
#include "sandbox/device_log.h"
#include "sandbox/exit_reason.h"
#include "sandbox/spawn.h"

namespace bulkhead {
namespace {

using ::testing::HasSubstr;
using namespace uart;

constexpr auto kTimeout = std::chrono::milliseconds(5000);
const WaitOptions kWait{.timeout = kTimeout};

struct RunningDevice {
  Child child;
  std::unique_ptr<DeviceControlClient> client;
};

class SerialProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = ControlLoop::Create();
    ASSERT_TRUE(loop) << loop.error().message;
    loop_ = std::move(*loop);
    auto state = MemFd::Create("serial-state", 4096);
    ASSERT_TRUE(state);
    ASSERT_TRUE(state->Seal());
    state_ = std::move(*state);
    for (int i = 0; i < 2; ++i) {  // two vCPUs: request ids must not mix rings
      auto ring = CreateExitRing(64);
      ASSERT_TRUE(ring) << ring.error().message;
      auto dup = ring->Dup();
      ASSERT_TRUE(dup);
      auto producer = ExitRingProducer::Attach(std::move(*dup));
      ASSERT_TRUE(producer) << producer.error().message;
      rings_.push_back(std::move(*ring));
      producers_.push_back(std::move(*producer));
    }
    auto irq = EventFd::Create(0, EFD_NONBLOCK);
    ASSERT_TRUE(irq);
    irq_ = std::move(*irq);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    console_.reset(sv[0]);
    device_console_.reset(sv[1]);
  }

  void TearDown() override {
    for (auto& d : devices_) {
      if (d.child.pidfd) {
        (void)SignalChild(d.child, SIGKILL);
        (void)WaitForExit(d.child.pidfd);
      }
      DumpLog(d.child);
    }
  }

  // Spawns `binary` as the core does and connects the control client.
  RunningDevice& Spawn(const std::string& binary) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd core_end(sv[0]), device_end(sv[1]);
    SpawnSpec spec;
    spec.name = "serial";
    spec.binary = binary;
    spec.argv = {binary};
    spec.fds = {{device_end.get(), 3}};
    auto child = bulkhead::Spawn(spec);
    EXPECT_TRUE(child) << child.error().message;
    auto client = DeviceControlClient::Connect(*loop_, std::move(core_end));
    EXPECT_TRUE(client) << client.error().message;
    devices_.push_back({std::move(*child), std::move(*client)});
    return devices_.back();
  }

  Status Attach(RunningDevice& d) {
    DeviceAttachment a;
    a.kind = "serial";
    auto state = state_.Dup();
    if (!state) return tl::unexpected(state.error());
    a.state_region = std::move(*state);
    for (uint32_t v = 0; v < rings_.size(); ++v) {
      auto r = rings_[v].Dup();
      if (!r) return tl::unexpected(r.error());
      a.rings.push_back({v, std::move(*r)});
    }
    auto irq = irq_.Dup();
    if (!irq) return tl::unexpected(irq.error());
    a.irqs.push_back({4, std::move(*irq), std::nullopt});
    a.backend.push_back(UniqueFd(::dup(device_console_.get())));
    return d.client->Attach(a);
  }

  RunningDevice& StartDevice() {
    RunningDevice& d = Spawn(BULKHEAD_SERIAL_DEVICE);
    auto st = Attach(d);
    EXPECT_TRUE(st) << st.error().message;
    return d;
  }

  void WriteReg(uint8_t offset, uint8_t value, size_t vcpu = 0) {
    ExitRequest r{.space = AccessSpace::kPio, .size = 1, .is_write = true, .addr = offset,
                  .data = value};
    auto st = producers_[vcpu].Post(r, kWait);
    ASSERT_TRUE(st) << st.error().message;
  }

  uint64_t ReadReg(uint64_t addr, uint8_t size = 1, size_t vcpu = 0) {
    auto v = producers_[vcpu].Read(AccessSpace::kPio, addr, size, kWait);
    EXPECT_TRUE(v) << v.error().message;
    return v ? *v : 0xDEAD;
  }

  // Reads exactly n bytes the device sent to the console (or fewer on timeout).
  std::string ConsoleRead(size_t n) {
    std::string out;
    while (out.size() < n) {
      pollfd p{console_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(kTimeout.count())) != 1) break;
      char buf[64];
      const ssize_t got = ::read(console_.get(), buf, std::min(sizeof buf, n - out.size()));
      if (got <= 0) break;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }

  void ConsoleWrite(const std::string& s) {
    ASSERT_EQ(::write(console_.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }

  // Programs the UART like a driver: 8N1, FIFOs on, RX interrupt enabled and
  // routed (OUT2).
  void Program() {
    WriteReg(kLcr, kLcrWordLen8);
    WriteReg(kIirFcr, kFcrEnable);
    WriteReg(kIer, kIerRdi);
    WriteReg(kMcr, kMcrOut2 | kMcrDtr | kMcrRts);
    // A read completes only after every write posted before it on the same
    // ring: console input sent from now on cannot be cleared by the FCR write.
    EXPECT_EQ(ReadReg(kLcr), kLcrWordLen8);
  }

  static std::string ProcStatus(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  static void DumpLog(const Child& c) {
    if (!c.stderr_pipe) return;
    ::fcntl(c.stderr_pipe.get(), F_SETFL, O_NONBLOCK);
    DeviceLog log("serial", [](std::string_view, std::string_view line) {
      std::cerr << "  [device] " << line << "\n";
    });
    while (true) {
      auto more = log.ReadFrom(c.stderr_pipe);
      if (!more || !*more) break;
    }
  }

  std::unique_ptr<ControlLoop> loop_;
  MemFd state_;
  std::vector<ExitRingFds> rings_;
  std::vector<ExitRingProducer> producers_;
  EventFd irq_;
  UniqueFd console_, device_console_;
  std::deque<RunningDevice> devices_;
};

TEST_F(SerialProcessTest, TransmitsReceivesInterruptsAndShutsDown) {
  RunningDevice& d = StartDevice();
  Program();
  WriteReg(kRbrThr, 'A');
  WriteReg(kRbrThr, 'B', /*vcpu=*/1);
  EXPECT_EQ(ConsoleRead(2), "AB");

  (void)irq_.TryConsume();
  ConsoleWrite("xy");
  auto fired = irq_.WaitFor(kTimeout);
  ASSERT_TRUE(fired);
  EXPECT_TRUE(fired->has_value()) << "no IRQ 4 edge after console input";
  // The device moves input only when it gets to it: wait for LSR.DR.
  uint64_t lsr = 0;
  for (int i = 0; i < 500 && !(lsr & kLsrDr); ++i) {
    lsr = ReadReg(kLsr);
    if (!(lsr & kLsrDr)) ::usleep(2000);
  }
  EXPECT_TRUE(lsr & kLsrDr) << "LSR " << lsr;
  EXPECT_EQ(ReadReg(kRbrThr), 'x');
  EXPECT_EQ(ReadReg(kRbrThr, 1, /*vcpu=*/1), 'y');
  EXPECT_FALSE(ReadReg(kLsr) & kLsrDr);

  // Not registers of this UART: counted, and reads see all-ones.
  EXPECT_EQ(ReadReg(8), 0xFFu);
  EXPECT_EQ(ReadReg(uint64_t{1} << 48), 0xFFu);  // region 1
  EXPECT_EQ(ReadReg(kScr, 2), 0xFFFFu);

  auto health = d.client->Health();
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->malformed_requests, 3u);
  EXPECT_EQ(health->requests_replayed, 0u);
  EXPECT_GE(health->requests_served, 10u);  // 4 setup + 2 THR + >=1 LSR + 2 RBR + 1 LSR

  // Reset over the control plane: power-on register values.
  WriteReg(kScr, 0x33);
  EXPECT_EQ(ReadReg(kScr), 0x33u);
  auto reset = d.client->Reset();
  ASSERT_TRUE(reset) << reset.error().message;
  EXPECT_EQ(ReadReg(kScr), 0u);
  EXPECT_EQ(ReadReg(kLcr), 0u);

  ASSERT_TRUE(d.client->Shutdown());
  auto reason = WaitForExit(d.child.pidfd);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->kind, ExitReason::Kind::kExited);
  EXPECT_EQ(reason->code, 0);
  d.child.pidfd.reset();
}

TEST_F(SerialProcessTest, RunsJailed) {
  RunningDevice& d = StartDevice();
  // A round trip first: the device has jailed itself before it serves.
  WriteReg(kScr, 0x42);
  EXPECT_EQ(ReadReg(kScr), 0x42u);
  const pid_t pid = d.child.pid;
  const std::string status = ProcStatus(pid);
  EXPECT_THAT(status, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000\n"));
  // The worker thread too: capabilities are per thread.
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task/";
  int threads = 0;
  for (const auto& t : std::filesystem::directory_iterator(task_dir)) {
    std::ifstream f(t.path() / "status");
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_THAT(ss.str(), HasSubstr("CapEff:\t0000000000000000\n")) << t.path();
    EXPECT_THAT(ss.str(), HasSubstr("CapPrm:\t0000000000000000\n")) << t.path();
    EXPECT_THAT(ss.str(), HasSubstr("Seccomp:\t2\n")) << t.path();
    ++threads;
  }
  EXPECT_EQ(threads, 2);
  for (const char* ns : {"mnt", "pid", "net", "user", "ipc", "uts"}) {
    const auto mine = std::filesystem::read_symlink(std::string("/proc/self/ns/") + ns);
    const auto its = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + ns);
    EXPECT_NE(mine, its) << ns;
  }
  // Idle means asleep: no busy polling (utime+stime in clock ticks of 10 ms).
  auto cpu_ticks = [pid] {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    return utime + stime;
  };
  const uint64_t before = cpu_ticks();
  ::usleep(500 * 1000);
  EXPECT_LE(cpu_ticks() - before, 2u) << "the idle device burns CPU";
  // Empty root: the device's / has nothing in it.
  const auto root = std::filesystem::path("/proc/" + std::to_string(pid) + "/root");
  EXPECT_TRUE(std::filesystem::is_empty(root));
}

TEST_F(SerialProcessTest, StateAndQueuedRequestsSurviveSigkill) {
  RunningDevice& first = StartDevice();
  Program();
  WriteReg(kScr, 0x5A);
  ConsoleWrite("q");
  uint64_t lsr = 0;
  for (int i = 0; i < 500 && !(lsr & kLsrDr); ++i) {
    lsr = ReadReg(kLsr);
    if (!(lsr & kLsrDr)) ::usleep(2000);
  }
  ASSERT_TRUE(lsr & kLsrDr);

  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  auto reason = WaitForExit(first.child.pidfd);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->kind, ExitReason::Kind::kSignaled);
  EXPECT_EQ(reason->code, SIGKILL);
  first.child.pidfd.reset();

  // While no device runs, the guest keeps writing: posted writes wait in the ring.
  WriteReg(kRbrThr, 'Z');
  WriteReg(kScr, 0x77, /*vcpu=*/1);

  RunningDevice& second = StartDevice();
  EXPECT_EQ(ConsoleRead(1), "Z");
  // Rings are ordered each on their own, not with each other (like two
  // vCPUs): read back on the ring that wrote.
  EXPECT_EQ(ReadReg(kScr, 1, /*vcpu=*/1), 0x77u);
  EXPECT_EQ(ReadReg(kLcr), kLcrWordLen8);
  EXPECT_TRUE(ReadReg(kLsr) & kLsrDr);
  EXPECT_EQ(ReadReg(kRbrThr), 'q');
  EXPECT_FALSE(ReadReg(kLsr) & kLsrDr);
  auto health = second.client->Health();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->malformed_requests, 0u);
}

// The worst moment to die: after committing an RBR read (the byte left the
// FIFO) and before completing it on the ring. The test plays that process
// itself, then starts the real device, which must answer the pending read
// from the region: the byte is neither lost nor read twice.
TEST_F(SerialProcessTest, ReplaysARequestAppliedButNotCompleted) {
  RunningDevice& first = StartDevice();
  Program();
  ConsoleWrite("qr");
  uint64_t lsr = 0;
  for (int i = 0; i < 500 && !(lsr & kLsrDr); ++i) {
    lsr = ReadReg(kLsr, 1, /*vcpu=*/1);
    if (!(lsr & kLsrDr)) ::usleep(2000);
  }
  ASSERT_TRUE(lsr & kLsrDr);
  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  ASSERT_TRUE(WaitForExit(first.child.pidfd));
  first.child.pidfd.reset();

  ASSERT_TRUE(producers_[1].Submit(AccessSpace::kPio, kRbrThr, 1, kWait));
  {
    auto fds = rings_[1].Dup();
    ASSERT_TRUE(fds);
    auto dying = ExitRingConsumer::Attach(std::move(*fds));
    ASSERT_TRUE(dying) << dying.error().message;
    auto req = dying->Peek();
    ASSERT_TRUE(req && req->has_value());
    auto map = Mapping::Map(state_);
    ASSERT_TRUE(map);
    auto region = map->as<SerialStateRegion>(0);
    ASSERT_TRUE(region);
    struct : InterruptLine {
      void Trigger() override {}
    } irq;
    struct : SerialOutput {
      size_t Write(std::span<const uint8_t> b) override { return b.size(); }
    } out;
    Uart16550 uart(BeginAccess(**region), irq, out);
    const uint8_t byte = uart.Read(kRbrThr);
    EXPECT_EQ(byte, 'q');
    CommitAccess(**region, SerialRequestId(1, (*req)->seq), byte);
    // ... and dies here: no Complete().
  }

  RunningDevice& second = StartDevice();
  auto reply = producers_[1].WaitReply(kWait);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(*reply, 'q');
  EXPECT_EQ(ReadReg(kRbrThr), 'r');
  EXPECT_FALSE(ReadReg(kLsr) & kLsrDr);
  auto health = second.client->Health();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->requests_replayed, 1u);
}

TEST_F(SerialProcessTest, OpenatAfterJailIsKilledBySeccomp) {
  RunningDevice& d = Spawn(BULKHEAD_SERIAL_OPENAT_DEVICE);
  EXPECT_FALSE(Attach(d)) << "the device should have died during attach";
  auto reason = WaitForExit(d.child.pidfd);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->kind, ExitReason::Kind::kSignaled);
  EXPECT_EQ(reason->code, SIGSYS);
  d.child.pidfd.reset();

  DeviceLog log("serial", [](std::string_view, std::string_view line) {
    std::cerr << "  [device] " << line << "\n";
  });
  for (;;) {  // the process is gone: the pipe ends in EOF
    auto more = log.ReadFrom(d.child.stderr_pipe);
    ASSERT_TRUE(more) << more.error().message;
    if (!*more) break;
  }
  ASSERT_TRUE(log.blocked_syscall().has_value());
  EXPECT_EQ(log.blocked_syscall()->nr, 257);
  EXPECT_THAT(log.blocked_syscall()->ToString(), HasSubstr("openat (257)"));
  d.child.stderr_pipe.reset();
}

}  // namespace
}  // namespace bulkhead
