#include "core/pci/device_function.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "core/pci/capabilities.h"

namespace bulkhead {
namespace {

// Records what the function asks of the VM.
class FakePlatform final : public PciPlatform {
 public:
  Result<uint32_t> AllocateMsiGsi() override { return next_gsi++; }
  Status SetMsiRoute(uint32_t gsi, uint64_t address, uint32_t data) override {
    routes[gsi] = {address, data};
    return {};
  }
  Status AssignIrqfd(const EventFd& trigger, uint32_t gsi, const EventFd* resample) override {
    irqfds[trigger.fd()] = {gsi, resample != nullptr};
    return {};
  }
  Status DeassignIrqfd(const EventFd& trigger, uint32_t gsi) override {
    auto it = irqfds.find(trigger.fd());
    if (it == irqfds.end() || it->second.first != gsi) return MakeError("not assigned");
    irqfds.erase(it);
    return {};
  }
  Status AddDoorbell(const EventFd& d, uint64_t address, uint32_t len) override {
    doorbells.insert({d.fd(), address, len});
    return {};
  }
  Status RemoveDoorbell(const EventFd& d, uint64_t address, uint32_t len) override {
    return doorbells.erase({d.fd(), address, len}) ? Status{} : MakeError("no doorbell");
  }
  Status MapBar(bool io, uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device,
                std::string) override {
    if (io) return MakeError("no io");
    return mmio.Insert(base, size, std::move(device), "bar");
  }
  Status UnmapBar(bool, uint64_t base) override { return mmio.Remove(base); }

  uint32_t next_gsi = 24;
  std::map<uint32_t, std::pair<uint64_t, uint32_t>> routes;
  std::map<int, std::pair<uint32_t, bool>> irqfds;  // fd -> (gsi, level)
  std::set<std::tuple<int, uint64_t, uint32_t>> doorbells;
  Bus mmio{"mmio"};
};

// Stands for the device process: remembers the last access per region.
class FakeRegion final : public BusDevice {
 public:
  explicit FakeRegion(uint8_t region) : region(region) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    last_offset = offset;
    data[0] = region;
  }
  void Write(uint64_t offset, std::span<const uint8_t>) override { last_offset = offset; }
  uint8_t region;
  uint64_t last_offset = ~0ull;
};

DeviceFunctionSpec VirtioLikeSpec() {
  DeviceFunctionSpec s;
  s.name = "test-fn";
  s.ids = {.vendor = 0x1af4, .device = 0x1041, .class_code = 0x020000, .interrupt_pin = 1};
  s.bars[0] = {.size = 0x4000};
  s.bars[2] = {.size = 0x1000};
  s.initial_address[0] = 0xC000'0000;
  s.initial_address[2] = 0xC000'4000;
  s.msix_vectors = 3;
  s.msix_bar = 2;
  s.msix_table_offset = 0;
  s.msix_pba_offset = 0x800;
  s.doorbells = 2;
  s.doorbell_bar = 0;
  s.doorbell_offset = 0x3000;
  s.intx_gsi = 17;
  s.vendor_capabilities = {{0x09, 0, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x38, 0, 0, 0}};
  return s;
}

uint32_t Read32(Bus& bus, uint64_t addr) {
  uint32_t v = 0;
  bus.Read(addr, {reinterpret_cast<uint8_t*>(&v), 4});
  return v;
}
void Write32(Bus& bus, uint64_t addr, uint32_t v) {
  bus.Write(addr, {reinterpret_cast<const uint8_t*>(&v), 4});
}

TEST(DeviceFunction, CapabilityListIsChained) {
  FakePlatform p;
  auto f = DeviceFunction::Create(VirtioLikeSpec(), p);
  ASSERT_TRUE(f) << f.error().message;
  DeviceFunction& fn = **f;
  EXPECT_TRUE(fn.ConfigRead(0x06, 2) & 0x10);
  const uint32_t first = fn.ConfigRead(0x34, 1);
  EXPECT_EQ(fn.ConfigRead(first, 1), 0x09u);  // the vendor capability
  const uint32_t second = fn.ConfigRead(first + 1, 1);
  EXPECT_EQ(fn.ConfigRead(second, 1), 0x11u);  // MSI-X
  EXPECT_EQ(fn.ConfigRead(second + 2, 2) & 0x7FF, 2u);  // table size - 1
  EXPECT_EQ(fn.ConfigRead(second + 1, 1), 0u);  // end of list
  // The guest cannot rewrite the vendor capability.
  fn.ConfigWrite(first + 12, 4, 0xFFFF'FFFF);
  EXPECT_EQ(fn.ConfigRead(first + 12, 4), 0x38u);
}

TEST(DeviceFunction, BarsFollowDecodingAndReprogramming) {
  FakePlatform p;
  auto f = DeviceFunction::Create(VirtioLikeSpec(), p);
  ASSERT_TRUE(f);
  DeviceFunction& fn = **f;
  std::map<uint8_t, std::shared_ptr<FakeRegion>> regions;
  fn.Connect([&](AccessSpace, uint8_t r) {
    auto d = std::make_shared<FakeRegion>(r);
    regions[r] = d;
    return d;
  });
  EXPECT_EQ(fn.mapped_bar(0), 0u) << "memory decoding is off until the driver enables it";
  EXPECT_EQ(fn.ConfigRead(0x10, 4), 0xC000'0000u) << "firmware-style preassignment";
  fn.ConfigWrite(0x04, 2, 0x6);  // memory + bus master
  EXPECT_EQ(fn.mapped_bar(0), 0xC000'0000u);
  EXPECT_EQ(fn.mapped_bar(2), 0xC000'4000u);
  EXPECT_EQ(Read32(p.mmio, 0xC000'0010) & 0xFF, 0u);
  EXPECT_EQ(regions[0]->last_offset, 0x10u);
  EXPECT_EQ(p.doorbells.size(), 2u);
  EXPECT_TRUE(p.doorbells.count({std::get<0>(*p.doorbells.begin()), 0xC000'3000, 2}) ||
              p.doorbells.count({std::get<0>(*p.doorbells.rbegin()), 0xC000'3000, 2}));

  // Sizing the BAR with decoding off, then moving it.
  fn.ConfigWrite(0x04, 2, 0x0);
  EXPECT_EQ(fn.mapped_bar(0), 0u);
  EXPECT_TRUE(p.doorbells.empty());
  fn.ConfigWrite(0x10, 4, 0xFFFF'FFFF);
  EXPECT_EQ(fn.ConfigRead(0x10, 4), 0xFFFF'C000u);
  fn.ConfigWrite(0x10, 4, 0xD000'0000);
  fn.ConfigWrite(0x04, 2, 0x2);
  EXPECT_EQ(fn.mapped_bar(0), 0xD000'0000u);
  EXPECT_EQ(Read32(p.mmio, 0xC000'0010), 0xFFFF'FFFFu) << "old place is empty";
  (void)Read32(p.mmio, 0xD000'0024);
  EXPECT_EQ(regions[0]->last_offset, 0x24u);
  std::set<uint64_t> at;
  for (const auto& d : p.doorbells) at.insert(std::get<1>(d));
  EXPECT_EQ(at, (std::set<uint64_t>{0xD000'3000, 0xD000'3004}));
}

TEST(DeviceFunction, MsixMaskingKeepsInterruptsPending) {
  FakePlatform p;
  auto f = DeviceFunction::Create(VirtioLikeSpec(), p);
  ASSERT_TRUE(f);
  DeviceFunction& fn = **f;
  fn.Connect([](AccessSpace, uint8_t r) { return std::make_shared<FakeRegion>(r); });
  auto irqs = fn.DeviceIrqs();
  ASSERT_TRUE(irqs);
  ASSERT_EQ(irqs->size(), 4u);  // 3 vectors + the INTx line
  EXPECT_TRUE((*irqs)[3].resample.has_value());
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kIntx);

  fn.ConfigWrite(0x04, 2, 0x2);
  const uint64_t table = 0xC000'4000, pba = table + 0x800;
  Write32(p.mmio, table + 16 + 0, 0xFEE0'0000);  // vector 1: address
  Write32(p.mmio, table + 16 + 8, 0x4041);       // data
  Write32(p.mmio, table + 16 + 12, 0);           // unmask the entry
  EXPECT_FALSE(fn.msix()->assigned(1)) << "MSI-X not enabled yet";

  const uint32_t cap = fn.ConfigRead(fn.ConfigRead(0x34, 1) + 1, 1);
  fn.ConfigWrite(cap + kMsixControl, 2, kMsixEnable);
  EXPECT_TRUE(fn.msix()->assigned(1));
  EXPECT_FALSE(fn.msix()->assigned(0)) << "entries reset masked";
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kNone) << "no INTx under MSI-X";
  const uint32_t gsi1 = (*irqs)[1].gsi;
  EXPECT_EQ(p.routes[gsi1], (std::pair<uint64_t, uint32_t>{0xFEE0'0000, 0x4041}));

  // Masked: the device's write stays in the eventfd and the PBA shows it.
  Write32(p.mmio, table + 16 + 12, 1);
  EXPECT_FALSE(fn.msix()->assigned(1));
  EXPECT_EQ(Read32(p.mmio, pba), 0u);
  ASSERT_TRUE((*irqs)[1].trigger.Signal());
  EXPECT_EQ(Read32(p.mmio, pba), 0x2u);
  Write32(p.mmio, table + 16 + 12, 0);
  EXPECT_TRUE(fn.msix()->assigned(1)) << "unmask reassigns; KVM delivers the pending count";

  // Function mask masks everything.
  fn.ConfigWrite(cap + kMsixControl, 2, kMsixEnable | kMsixFunctionMask);
  EXPECT_FALSE(fn.msix()->assigned(1));
  // Bad table accesses are counted, not fatal.
  uint8_t b = 0;
  p.mmio.Read(table + 1, {&b, 1});
  EXPECT_GE(fn.msix()->bad_accesses(), 1u);
}

TEST(DeviceFunction, MsiMovesTheLineBetweenIntxAndTheMessage) {
  FakePlatform p;
  DeviceFunctionSpec s;
  s.name = "ahci-like";
  s.ids = {.vendor = 0x8086, .device = 0x2922, .class_code = 0x010601, .interrupt_pin = 1};
  s.bars[5] = {.size = 0x1000};
  s.msi = true;
  s.intx_gsi = 19;
  auto f = DeviceFunction::Create(s, p);
  ASSERT_TRUE(f);
  DeviceFunction& fn = **f;
  auto irqs = fn.DeviceIrqs();
  ASSERT_TRUE(irqs);
  ASSERT_EQ(irqs->size(), 1u);
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kIntx);
  ASSERT_EQ(p.irqfds.size(), 1u);
  EXPECT_EQ(p.irqfds.begin()->second, (std::pair<uint32_t, bool>{19, true}));

  const uint32_t cap = fn.ConfigRead(0x34, 1);
  EXPECT_EQ(fn.ConfigRead(cap, 1), 0x05u);
  fn.ConfigWrite(cap + kMsiAddressLo, 4, 0xFEE0'1000);
  fn.ConfigWrite(cap + kMsiData, 2, 0x4031);
  fn.ConfigWrite(cap + kMsiControl, 2, 1);
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kMsi);
  ASSERT_EQ(p.irqfds.size(), 1u);
  const uint32_t msi_gsi = p.irqfds.begin()->second.first;
  EXPECT_FALSE(p.irqfds.begin()->second.second) << "MSI is edge: no resample";
  EXPECT_EQ(p.routes[msi_gsi], (std::pair<uint64_t, uint32_t>{0xFEE0'1000, 0x4031}));

  fn.ConfigWrite(cap + kMsiControl, 2, 0);
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kIntx);
  fn.ConfigWrite(0x04, 2, 0x400);  // INTx disable
  EXPECT_EQ(fn.line_route(), DeviceFunction::LineRoute::kNone);
  EXPECT_TRUE(p.irqfds.empty());
}

}  // namespace
}  // namespace bulkhead
