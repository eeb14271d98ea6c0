#include "core/exit_handler.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace bulkhead {
namespace {

class Port : public BusDevice {
 public:
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xA0 + offset + i);
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    written.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
  }
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> written;
};

// A kvm_run area as KVM maps it: the struct followed by the PIO data page.
struct FakeRun {
  FakeRun() : buf(8192, 0) {}
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(buf.data()); }
  std::vector<uint8_t> buf;
};

struct Fixture : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(pio.Insert(0x3f8, 8, port, "serial"));
    ASSERT_TRUE(mmio.Insert(0xd000'0000, 0x1000, port, "bar"));
  }
  Bus pio{"pio"}, mmio{"mmio"};
  std::shared_ptr<Port> port = std::make_shared<Port>();
  FakeRun fr;
};

TEST_F(Fixture, PioOutAndStringOut) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_IO;
  r.io.direction = KVM_EXIT_IO_OUT;
  r.io.size = 1;
  r.io.port = 0x3f8;
  r.io.count = 3;  // rep outsb
  r.io.data_offset = 4096;
  std::memcpy(fr.buf.data() + 4096, "abc", 3);
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kContinue);
  ASSERT_EQ(port->written.size(), 3u);
  EXPECT_EQ(port->written[2].second[0], 'c');
}

TEST_F(Fixture, PioInFillsTheDataArea) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_IO;
  r.io.direction = KVM_EXIT_IO_IN;
  r.io.size = 1;
  r.io.port = 0x3fd;
  r.io.count = 1;
  r.io.data_offset = 4096;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kContinue);
  EXPECT_EQ(fr.buf[4096], 0xA5);
}

TEST_F(Fixture, PioWithOutOfRangeDataOffsetIsFatalNotACrash) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_IO;
  r.io.direction = KVM_EXIT_IO_IN;
  r.io.size = 4;
  r.io.port = 0x3f8;
  r.io.count = 2000;
  r.io.data_offset = 4096;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kFatal);
  r.io.count = 1;
  r.io.size = 3;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kFatal);
}

TEST_F(Fixture, MmioReadAndWrite) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_MMIO;
  r.mmio.phys_addr = 0xd000'0010;
  r.mmio.len = 4;
  r.mmio.is_write = 0;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kContinue);
  EXPECT_EQ(r.mmio.data[0], 0xB0);
  EXPECT_EQ(r.mmio.data[3], 0xB3);
  r.mmio.is_write = 1;
  r.mmio.data[0] = 0x77;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kContinue);
  ASSERT_EQ(port->written.size(), 1u);
  EXPECT_EQ(port->written[0].first, 0x10u);
  r.mmio.len = 9;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kFatal);
}

TEST_F(Fixture, UnmappedMmioReadsAllOnesAndContinues) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_MMIO;
  r.mmio.phys_addr = 0xe000'0000;
  r.mmio.len = 2;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kContinue);
  EXPECT_EQ(r.mmio.data[0], 0xFF);
  EXPECT_EQ(mmio.unhandled_accesses(), 1u);
}

TEST_F(Fixture, ShutdownAndSystemEvents) {
  auto& r = fr.run();
  r.exit_reason = KVM_EXIT_SHUTDOWN;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kReboot);
  r.exit_reason = KVM_EXIT_SYSTEM_EVENT;
  r.system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kPowerOff);
  r.exit_reason = KVM_EXIT_INTERNAL_ERROR;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kFatal);
  r.exit_reason = 9999;
  EXPECT_EQ(HandleExit(r, fr.buf.size(), pio, mmio).action, ExitAction::kFatal);
}

}  // namespace
}  // namespace bulkhead
