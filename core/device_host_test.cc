// DeviceHost supervising the real bulkhead-serial process, without KVM: the
// test stands in for a vCPU (it drives the bus itself) and kills the process
// under it. The UART's registers live in the state region the core keeps, so
// what the guest wrote before a crash reads back after the restart.
#include "core/device_host.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

namespace bulkhead {
namespace {

constexpr uint64_t kScratch = 7;  // the 16550's scratch register

class DeviceHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stop = EventFd::Create(0, EFD_NONBLOCK);
    ASSERT_TRUE(stop);
    stop_ = std::move(*stop);
    SetCurrentVcpu(0);
  }

  Result<std::unique_ptr<DeviceHost>> Start(RestartPolicy policy) {
    DeviceSpec spec;
    spec.kind = "serial";
    spec.binary = BULKHEAD_SERIAL_DEVICE;
    auto irq = EventFd::Create(0, EFD_NONBLOCK);
    if (!irq) return tl::unexpected(irq.error());
    spec.irqs.push_back({4, std::move(*irq), std::nullopt});
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ErrnoError("socketpair");
    console_ = UniqueFd(sv[0]);
    spec.backend.emplace_back(sv[1]);
    DeviceEnvironment env{nullptr, &pio_, &mmio_, 1, &stop_, policy};
    auto host = DeviceHost::Start(std::move(spec), env, [this](const DeviceExit& e) {
      failed_exit_ = e.ToString();
      failures_++;
    });
    if (host) {
      auto s = pio_.Insert(0x3f8, 8, (*host)->Region(AccessSpace::kPio, 0), "serial");
      if (!s) return tl::unexpected(s.error());
    }
    return host;
  }

  uint8_t ReadScratch() {
    uint8_t v = 0;
    pio_.Read(0x3f8 + kScratch, {&v, 1});
    return v;
  }
  void WriteScratch(uint8_t v) { pio_.Write(0x3f8 + kScratch, {&v, 1}); }

  // Waits until the device has been restarted `n` times in all.
  static bool WaitForRestarts(DeviceHost& h, uint32_t n) {
    for (int i = 0; i < 1000; ++i) {
      const DeviceSnapshot s = h.Snapshot();
      if (s.restarts >= n && s.state == DeviceSnapshot::State::kRunning) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  Bus pio_{"pio"};
  Bus mmio_{"mmio"};
  EventFd stop_;
  UniqueFd console_;
  std::atomic<int> failures_{0};
  std::string failed_exit_;
};

TEST_F(DeviceHostTest, KilledDeviceIsRestartedWithItsState) {
  auto host = Start({});
  ASSERT_TRUE(host) << host.error().message;
  DeviceHost& h = **host;
  const pid_t first = h.pid();
  ASSERT_GT(first, 0);
  WriteScratch(0x5a);
  EXPECT_EQ(ReadScratch(), 0x5a);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // The next access waits for the new process instead of failing.
  EXPECT_EQ(ReadScratch(), 0x5a) << "the register survived in the state region";
  ASSERT_TRUE(WaitForRestarts(h, 1));
  const DeviceSnapshot s = h.Snapshot();
  EXPECT_NE(s.pid, first);
  ASSERT_TRUE(s.last_exit.has_value());
  EXPECT_NE(s.last_exit->ToString().find("SIGKILL"), std::string::npos) << s.last_exit->ToString();
  EXPECT_GT(s.last_recovery_ms, 0);
  auto health = h.Health();
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_GE(health->requests_served, 1u);

  // Writes posted while the device is down are served by its successor.
  ASSERT_EQ(::kill(h.pid(), SIGKILL), 0);
  WriteScratch(0xa5);
  EXPECT_EQ(ReadScratch(), 0xa5);
  ASSERT_TRUE(WaitForRestarts(h, 2));
  EXPECT_EQ(failures_, 0);
}

TEST_F(DeviceHostTest, OperatorRestartIsNotCountedAgainstTheBudget) {
  auto host = Start({.max_restarts = 1, .window = std::chrono::seconds(60)});
  ASSERT_TRUE(host) << host.error().message;
  DeviceHost& h = **host;
  for (uint32_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(h.Restart());
    ASSERT_TRUE(WaitForRestarts(h, i));
  }
  EXPECT_EQ(failures_, 0);
  EXPECT_EQ(h.Snapshot().last_exit->reason.code, SIGKILL);
}

TEST_F(DeviceHostTest, CrashLoopSpendsTheBudgetAndFailsTheDevice) {
  auto host = Start({.max_restarts = 2, .window = std::chrono::seconds(60)});
  ASSERT_TRUE(host) << host.error().message;
  DeviceHost& h = **host;
  for (uint32_t i = 1; i <= 2; ++i) {
    ASSERT_EQ(::kill(h.pid(), SIGKILL), 0);
    ASSERT_TRUE(WaitForRestarts(h, i));
  }
  ASSERT_EQ(::kill(h.pid(), SIGKILL), 0);
  for (int i = 0; i < 500 && failures_ == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(failures_, 1);
  EXPECT_EQ(h.Snapshot().state, DeviceSnapshot::State::kFailed);
  EXPECT_FALSE(h.Restart()) << "a failed device is not restarted any more";
  // Detached: accesses no longer wait, they see a floating bus.
  h.Detach();
  EXPECT_EQ(ReadScratch(), 0xFF);
}

}  // namespace
}  // namespace bulkhead
