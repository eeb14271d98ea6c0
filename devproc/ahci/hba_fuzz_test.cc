// A hostile guest in a loop: random register accesses of every width,
// random bytes in the command lists, tables and PRDTs, semi-valid commands
// with random opcodes, packets and PRDTs, completions in random order,
// resets in between. The process must never crash (the test would die), and
// afterwards a driver that re-initializes the HBA must find it working.
// Seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include <random>

#include "devproc/ahci/testing/ahci_driver.h"

namespace bulkhead::ahci {
namespace {

using testing::AhciHarness;
using testing::kDataBase;

class Fuzzer {
 public:
  explicit Fuzzer(uint32_t seed) : rng_(seed) {}
  uint32_t U32() { return static_cast<uint32_t>(rng_()); }
  uint32_t Below(uint32_t n) { return U32() % n; }

  void Step(AhciHarness& h) {
    switch (Below(10)) {
      case 0: case 1: {  // any register, any width
        const uint32_t off = Below(4) == 0 ? Below(0x1100) : (0x100 + Below(0x100)) & ~3u;
        const uint8_t sizes[] = {1, 2, 4, 4, 4, 8};
        const uint8_t size = sizes[Below(6)];
        uint64_t value = U32();
        // Keep the ports mostly running so commands get issued.
        if ((off & 0x7F) == kPxCmd && Below(4) != 0) value |= kCmdSt | kCmdFre;
        if ((off & 0x7F) == kPxClb && off >= 0x100 && Below(2)) value = U32() % (1 << 22);
        if (Below(2)) {
          h.hba->Write(off, size, value);
        } else {
          (void)h.hba->Read(off, size);
        }
        break;
      }
      case 2: {  // random bytes anywhere the structures may live
        const uint64_t at = Below(static_cast<uint32_t>(kDataBase));
        std::vector<uint8_t> junk(Below(512) + 1);
        for (auto& b : junk) b = static_cast<uint8_t>(U32());
        h.PutGuestBytes(at, junk);
        break;
      }
      case 3: case 4: case 5: {  // a semi-valid command with random parts
        const uint32_t port = Below(2), slot = Below(32);
        H2dFis f = testing::AtaCommand(static_cast<uint8_t>(U32()), U32() % 100000,
                                       static_cast<uint16_t>(U32()), static_cast<uint16_t>(U32()));
        if (Below(3) == 0) f.command = static_cast<uint8_t>(0x60 + Below(2));
        f.command_update = Below(8) != 0;
        f.device = static_cast<uint8_t>(U32());
        std::vector<testing::Prd> prdt(Below(6));
        for (auto& p : prdt) {
          p.gpa = Below(8) == 0 ? (uint64_t{U32()} << 20) : kDataBase + Below(1 << 20);
          p.bytes = 1 + Below(Below(4) == 0 ? (1u << 22) : 70000);
        }
        std::vector<uint8_t> acmd;
        if (port == 1 || Below(4) == 0) {
          acmd.resize(12);
          for (auto& b : acmd) b = static_cast<uint8_t>(U32());
          const uint8_t ops[] = {0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0x43,
                                 0x46, 0x4A, 0x5A, 0xA8, 0xBD, 0xBB};
          if (Below(4) != 0) acmd[0] = ops[Below(sizeof ops)];
          if (Below(2)) f.command = 0xA0;
        }
        if (Below(4) != 0) {  // mostly a driver that set the port up right
          h.SetPortReg(port, kPxClb, static_cast<uint32_t>(h.ClbAddr(port)));
          h.SetPortReg(port, kPxClbu, 0);
          h.SetPortReg(port, kPxCmd, kCmdSt | kCmdFre);
        }
        h.Issue(port, slot, f, prdt, Below(2) != 0, acmd);
        break;
      }
      case 6: case 7: (void)h.RunQueued(Below(2) != 0); break;
      case 8: h.hba->Resample(); break;
      case 9:
        if (Below(20) == 0) h.hba->Reset();
        if (Below(10) == 0) h.SetReg(kGhc, kGhcHr);
        if (Below(10) == 0) h.HardReset(Below(2));
        break;
    }
  }

 private:
  std::mt19937 rng_;
};

TEST(AhciFuzz, HostileGuestNeverCrashesAndTheHbaRecovers) {
  testing::HarnessOptions o;
  o.disk_bytes = 2 << 20;
  AhciHarness h(o);
  ASSERT_TRUE(h.Init());
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    Fuzzer fuzz(seed);
    for (int i = 0; i < 3000; ++i) fuzz.Step(h);
    (void)h.RunQueued();
    // A fresh driver: reset, probe, read a sector.
    ASSERT_TRUE(h.Init()) << "seed " << seed;
    const uint32_t tfd = h.Command(0, testing::AtaCommand(0x25, 3, 1), {{kDataBase, 512}});
    EXPECT_EQ(tfd & 0xFF, kStsGood) << "seed " << seed;
    uint32_t v;
    std::memcpy(&v, &h.ram[kDataBase], 4);
    EXPECT_TRUE(v == 3000u || v == 0) << v;  // fuzzed writes may have changed it
  }
  const ControllerStats s = h.hba->stats();
  EXPECT_GT(s.commands, 1000u);
  EXPECT_GT(s.bad_accesses, 100u);
  EXPECT_GT(s.host_bus_errors, 10u);
}

}  // namespace
}  // namespace bulkhead::ahci
