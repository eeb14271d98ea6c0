// Host /dev/kvm test: a 16-bit real-mode guest (tiny_guest.S) talks to the
// REAL bulkhead-serial device process through the core's bus, exit rings and
// an irqfd. Skips, saying why, where /dev/kvm is missing or cannot run it.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/boot/layout.h"
#include "core/bus.h"
#include "core/device_host.h"
#include "core/exit_handler.h"
#include "core/guest_ram.h"
#include "core/kvm/kvm_system.h"
#include "core/kvm/vcpu.h"
#include "core/kvm/vm.h"
#include "core/remote_device.h"
#include "tests/kvm/tiny_guest.h"

namespace bulkhead {
namespace {

// Ports 0xF4 (record a byte) and 0xF5 (the guest is done).
class ReportPort : public BusDevice {
 public:
  void Read(uint64_t, std::span<uint8_t>) override {}
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mu);
    if (offset == 0) bytes.push_back(data[0]);
    if (offset == 1) done = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint8_t> bytes;
  bool done = false;
};

boot::Segment RealModeSegment(uint8_t type, bool system = false) {
  boot::Segment s;
  s.limit = 0xFFFF;
  s.type = type;
  s.present = 1;
  s.s = system ? 0 : 1;
  return s;
}

TEST(TinyGuest, ForwardedPioAndIrqfdReachTheSerialProcess) {
  auto kvm = kvm::KvmSystem::Open();
  if (!kvm) GTEST_SKIP() << "no usable /dev/kvm on this host (" << kvm.error().message
                         << "); the testbed scenario kvm-suite runs this test on real KVM";
  auto vm = kvm::Vm::Create(*kvm);
  if (!vm) GTEST_SKIP() << "/dev/kvm cannot create this VM (" << vm.error().message << ")";
  auto layout = boot::MemoryLayout::ForRamSize(16 * boot::MiB);
  ASSERT_TRUE(layout);
  auto ram = GuestRam::Create(*layout);
  ASSERT_TRUE(ram) << ram.error().message;
  ASSERT_TRUE(ram->Register(*vm));
  std::memcpy(ram->low().data() + 0x1000, kTinyGuest, sizeof(kTinyGuest));

  Bus pio("pio"), mmio("mmio");
  auto report = std::make_shared<ReportPort>();
  ASSERT_TRUE(pio.Insert(0xF4, 2, report, "report"));
  auto vcpu = kvm::Vcpu::Create(*kvm, *vm, 0, 1);
  ASSERT_TRUE(vcpu) << vcpu.error().message;
  boot::BootCpuState s;
  s.cs = RealModeSegment(0xB);
  s.ds = s.es = s.fs = s.gs = s.ss = RealModeSegment(0x3);
  s.tr = RealModeSegment(0xB, true);
  s.ldt = RealModeSegment(0x2, true);
  s.gdt.limit = s.idt.limit = 0xFFFF;
  s.cr0 = boot::kCr0Et;
  s.rip = 0x1000;
  ASSERT_TRUE(vcpu->SetBootState(s));

  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  ASSERT_TRUE(stop);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd console(sv[0]);
  DeviceSpec spec;
  spec.kind = "serial";
  // BULKHEAD_DEVICE_DIR in the environment: where the testbed installed it.
  const char* dir = std::getenv("BULKHEAD_DEVICE_DIR");
  spec.binary = std::string(dir ? dir : BULKHEAD_DEVICE_DIR) + "/bulkhead-serial";
  spec.ranges = {{AccessSpace::kPio, boot::kSerialPort, 8, 0}};
  spec.edge_irqs = {boot::kSerialIrq};
  spec.backend.emplace_back(sv[1]);
  std::atomic<bool> device_died{false};
  const DeviceEnvironment env{&*vm, &pio, &mmio, 1, &*stop, {}};
  auto host = DeviceHost::Start(std::move(spec), env,
                                [&](const DeviceExit&) { device_died = true; });
  ASSERT_TRUE(host) << host.error().message;

  std::atomic<bool> stopping{false};
  std::string fatal;
  std::thread runner([&] {
    SetCurrentVcpu(0);
    while (!stopping) {
      auto ran = (*vcpu).Run();
      if (!ran) { fatal = ran.error().message; return; }
      if (!*ran) { vcpu->ClearKick(); continue; }
      auto r = HandleExit(vcpu->run(), kvm->vcpu_mmap_size(), pio, mmio);
      if (r.action != ExitAction::kContinue) { fatal = r.detail; return; }
    }
  });
  {
    std::unique_lock lock(report->mu);
    report->cv.wait_for(lock, std::chrono::seconds(30), [&] { return report->done; });
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGUSR1, &sa, nullptr);
  stopping = true;
  (void)stop->Signal();
  vcpu->Kick(runner.native_handle(), SIGUSR1);
  runner.join();
  (*host)->Shutdown();

  EXPECT_TRUE(fatal.empty()) << fatal;
  EXPECT_FALSE(device_died);
  std::lock_guard lock(report->mu);
  EXPECT_TRUE(report->done) << "the guest never finished (no interrupt?)";
  ASSERT_EQ(report->bytes.size(), 3u);
  EXPECT_EQ(report->bytes[0], 0x5A) << "SCR write + read through the device process";
  EXPECT_EQ(report->bytes[1], 0x60) << "LSR after reset: THRE | TEMT";
  EXPECT_EQ(report->bytes[2] & 0x0F, 0x02) << "IIR in the IRQ 4 handler: THRE interrupt";
}

}  // namespace
}  // namespace bulkhead

// meson counts exit status 77 as "skipped": a run where every test skipped
// (no usable /dev/kvm) must not look like a pass.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const auto* unit = ::testing::UnitTest::GetInstance();
  if (rc == 0 && unit->test_to_run_count() > 0 &&
      unit->skipped_test_count() == unit->test_to_run_count()) {
    return 77;
  }
  return rc;
}
