#include <gtest/gtest.h>

#include "core/boot/layout.h"
#include "core/devices/cmos_rtc.h"
#include "core/devices/power.h"

namespace bulkhead {
namespace {

uint8_t In(BusDevice& d, uint64_t off) {
  uint8_t b[1] = {0};
  d.Read(off, b);
  return b[0];
}
void Out(BusDevice& d, uint64_t off, uint8_t v) {
  const uint8_t b[1] = {v};
  d.Write(off, b);
}

TEST(AcpiPower, S5WriteIsPowerOffResetValueIsReboot) {
  std::vector<VmEvent> events;
  AcpiPowerDevice dev([&](VmEvent e) { events.push_back(e); });
  Out(dev, 1, 0x80);                                  // clear WAK_STS: no event
  Out(dev, 0, (boot::kAcpiS5SleepType << 2));         // SLP_TYP without SLP_EN
  Out(dev, 0, (3 << 2) | boot::kAcpiSleepEnable);     // S3 is not supported: ignored
  Out(dev, 0, (boot::kAcpiS5SleepType << 2) | boot::kAcpiSleepEnable);
  Out(dev, 2, 0x02);                                  // wrong reset value
  Out(dev, 2, boot::kAcpiResetValue);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], VmEvent::kPowerOff);
  EXPECT_EQ(events[1], VmEvent::kReboot);
}

TEST(I8042Reset, PulseResetCommandReboots) {
  std::vector<VmEvent> events;
  I8042ResetDevice dev([&](VmEvent e) { events.push_back(e); });
  EXPECT_EQ(In(dev, 4) & 0x02, 0);  // input buffer empty: Linux's kb_wait() returns at once
  Out(dev, 4, 0xAA);                // other commands: ignored
  Out(dev, 0, 0xFE);                // data port: not a command
  EXPECT_TRUE(events.empty());
  Out(dev, 4, 0xFE);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], VmEvent::kReboot);
}

TEST(CmosRtc, ReportsTheClockInBinary24HourMode) {
  // 2026-12-01 13:45:07 UTC, a Tuesday.
  CmosRtc rtc([] { return time_t{1796132707}; });
  auto reg = [&](uint8_t r) {
    Out(rtc, 0, r);
    return In(rtc, 1);
  };
  EXPECT_EQ(reg(0x0B), 0x06);
  EXPECT_EQ(reg(0x0A) & 0x80, 0);  // UIP never set
  EXPECT_EQ(reg(0x00), 7);
  EXPECT_EQ(reg(0x02), 45);
  EXPECT_EQ(reg(0x04), 13);
  EXPECT_EQ(reg(0x07), 1);
  EXPECT_EQ(reg(0x08), 12);
  EXPECT_EQ(reg(0x09), 26);
  EXPECT_EQ(reg(0x32), 20);
  EXPECT_EQ(reg(0x06), 3);  // tm_wday 2 (Tuesday) + 1
}

TEST(CmosRtc, RamIsWritableTimeIsNot) {
  CmosRtc rtc([] { return time_t{0}; });
  Out(rtc, 0, 0x80 | 0x40);  // NMI mask bit set, index 0x40
  Out(rtc, 1, 0x5A);
  Out(rtc, 0, 0x40);
  EXPECT_EQ(In(rtc, 1), 0x5A);
  Out(rtc, 0, 0x00);
  Out(rtc, 1, 0x33);
  EXPECT_EQ(In(rtc, 1), 0);  // seconds come from the clock
}

}  // namespace
}  // namespace bulkhead
