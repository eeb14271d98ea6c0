#include <gtest/gtest.h>

#include <cstring>

#include "core/pci/config_space.h"
#include "core/pci/host_bridge.h"
#include "core/pci/pci_function.h"

namespace bulkhead {
namespace {

uint32_t ConfRead(PciHost& h, uint32_t slot, uint32_t reg, uint32_t size = 4) {
  uint32_t addr = 0x8000'0000u | (slot << 11) | (reg & 0xFC);
  h.Write(0, std::span(reinterpret_cast<const uint8_t*>(&addr), 4));
  uint32_t v = 0;
  h.Read(4 + (reg & 3), std::span(reinterpret_cast<uint8_t*>(&v), size));
  return v;
}
void ConfWrite(PciHost& h, uint32_t slot, uint32_t reg, uint32_t v, uint32_t size = 4) {
  uint32_t addr = 0x8000'0000u | (slot << 11) | (reg & 0xFC);
  h.Write(0, std::span(reinterpret_cast<const uint8_t*>(&addr), 4));
  h.Write(4 + (reg & 3), std::span(reinterpret_cast<const uint8_t*>(&v), size));
}

TEST(PciHost, HostBridgeAtSlotZeroEmptySlotsReadAllOnes) {
  PciHost h;
  EXPECT_EQ(ConfRead(h, 0, 0), 0x0008'1B36u);
  EXPECT_EQ(ConfRead(h, 0, 0x08) >> 8, 0x060000u);
  EXPECT_EQ(ConfRead(h, 3, 0), 0xFFFF'FFFFu);
  EXPECT_EQ(ConfRead(h, 0, 0x02, 2), 0x0008u);
}

TEST(PciHost, ConfigWritesReachTheSelectedFunction) {
  PciHost h;
  PciBar bars[1] = {{.size = 0x1000}};
  auto fn = std::make_shared<StaticPciFunction>(PciIds{.vendor = 0x1AF4, .device = 0x1041}, bars);
  ASSERT_TRUE(h.AddFunction(2, fn));
  EXPECT_FALSE(h.AddFunction(2, fn));
  EXPECT_FALSE(h.AddFunction(32, fn));
  ConfWrite(h, 2, 0x10, 0xC000'1000);
  EXPECT_EQ(fn->config().BarAddress(0), 0xC000'1000u);
  ConfWrite(h, 2, 0x04, 0x2, 2);
  EXPECT_TRUE(fn->config().memory_enabled());
  EXPECT_EQ(ConfRead(h, 2, 0x04, 2), 0x2u);
}

TEST(PciHost, DisabledLatchOrOtherBusReadsAllOnes) {
  PciHost h;
  uint32_t addr = 0x0000'0000;  // enable bit clear
  h.Write(0, std::span(reinterpret_cast<const uint8_t*>(&addr), 4));
  uint32_t v = 0;
  h.Read(4, std::span(reinterpret_cast<uint8_t*>(&v), 4));
  EXPECT_EQ(v, 0xFFFF'FFFFu);
  addr = 0x8001'0000;  // bus 1
  h.Write(0, std::span(reinterpret_cast<const uint8_t*>(&addr), 4));
  h.Read(4, std::span(reinterpret_cast<uint8_t*>(&v), 4));
  EXPECT_EQ(v, 0xFFFF'FFFFu);
}

TEST(PciConfigSpace, BarSizingAndProgramming) {
  PciBar bars[6] = {{.size = 0x4000, .is64 = true}, {}, {.size = 0x20, .io = true}};
  PciConfigSpace c({.vendor = 0x1AF4, .device = 0x1041, .class_code = 0x020000, .interrupt_pin = 1},
                   bars);
  EXPECT_EQ(c.Read(0x10, 4), 0x4u);  // 64-bit memory BAR
  c.Write(0x10, 4, 0xFFFF'FFFF);
  c.Write(0x14, 4, 0xFFFF'FFFF);
  EXPECT_EQ(c.Read(0x10, 4), 0xFFFF'C004u);  // size 16 KiB
  EXPECT_EQ(c.Read(0x14, 4), 0xFFFF'FFFFu);
  auto r = c.Write(0x10, 4, 0xC000'0000);
  ASSERT_TRUE(r.bar_changed);
  EXPECT_EQ(*r.bar_changed, 0);
  r = c.Write(0x14, 4, 0x1);
  ASSERT_TRUE(r.bar_changed);
  EXPECT_EQ(*r.bar_changed, 0);  // the upper half belongs to BAR 0
  EXPECT_EQ(c.BarAddress(0), 0x1'C000'0000ull);
  c.Write(0x18, 4, 0xFFFF'FFFF);
  EXPECT_EQ(c.Read(0x18, 4), 0xFFFF'FFE1u);  // I/O BAR of 32 bytes
  EXPECT_EQ(c.Read(0x3D, 1), 1u);
}

TEST(PciConfigSpace, ReadOnlyFieldsIgnoreWritesAndBadAccessesAreDropped) {
  PciConfigSpace c({.vendor = 0x8086, .device = 0x2922, .class_code = 0x010601}, {});
  c.Write(0x00, 4, 0x1234'5678);
  EXPECT_EQ(c.Read(0x00, 4), 0x2922'8086u);
  auto r = c.Write(0x04, 2, 0xFFFF);
  EXPECT_TRUE(r.command_changed);
  EXPECT_EQ(c.Read(0x04, 2), 0x0547u);
  EXPECT_EQ(c.Read(0x02, 4), 0xFFFF'FFFFu);  // misaligned
  EXPECT_EQ(c.Read(0xFE, 4), 0xFFFF'FFFFu);  // beyond 256 bytes
  EXPECT_EQ(c.Read(0x00, 3), 0xFFFF'FFFFu);
}

}  // namespace
}  // namespace bulkhead
