// The HBA's registers and port life as libahci uses them: probe, start/stop,
// COMRESET, interrupts, malformed command lists, restart recovery.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "devproc/ahci/testing/ahci_driver.h"

namespace bulkhead::ahci {
namespace {

using testing::AhciHarness;
using testing::AtaCommand;
using testing::kDataBase;

TEST(AhciHba, GenericHostControlAsLinuxReadsIt) {
  AhciHarness h;
  const uint32_t cap = h.Reg(kCap);
  EXPECT_EQ(cap & 0x1F, 1u);  // two ports
  EXPECT_EQ((cap >> 8) & 0x1F, 31u);
  EXPECT_TRUE(cap & kCapS64a);
  EXPECT_TRUE(cap & kCapSam);
  EXPECT_FALSE(cap & (1u << 27));  // no staggered spin-up
  EXPECT_EQ((cap >> 20) & 0xF, 2u);
  EXPECT_TRUE(h.Reg(kGhc) & kGhcAe);
  EXPECT_EQ(h.Reg(kVs), 0x00010300u);
  EXPECT_EQ(h.Reg(kPi), 3u);
  for (uint32_t r : {kCccCtl, kCccPorts, kCap2, kBohc}) EXPECT_EQ(h.Reg(r), 0u) << r;
  EXPECT_EQ(h.hba->stats().bad_accesses, 0u);
}

TEST(AhciHba, BadWidthsAndOffsetsAreCountedAndReadZero) {
  AhciHarness h;
  EXPECT_EQ(h.hba->Read(kCap, 2), 0u);
  EXPECT_EQ(h.hba->Read(kCap + 1, 4), 0u);
  EXPECT_EQ(h.hba->Read(0x2C, 4), 0u);     // reserved
  EXPECT_EQ(h.hba->Read(0x5000, 4), 0u);   // beyond the ABAR
  EXPECT_EQ(h.hba->Read(0x300, 4), 0u);    // port 4: not implemented
  h.hba->Write(kCap, 4, 0);                // read-only
  h.hba->Write(kGhc, 8, 1);
  EXPECT_EQ(h.hba->stats().bad_accesses, 6u);
  EXPECT_EQ(h.Reg(kCap) & 0x1F, 1u);
}

TEST(AhciHba, ProbeFindsDiskAndCdrom) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  EXPECT_EQ(h.PortReg(0, kPxSig), kSigDisk);
  EXPECT_EQ(h.PortReg(1, kPxSig), kSigAtapi);
  EXPECT_EQ(h.PortReg(0, kPxSsts), 0x123u);
  EXPECT_EQ(h.PortReg(1, kPxSsts), 0x123u);
  EXPECT_EQ(h.PortReg(0, kPxTfd) & kStsBsy, 0u);
  // The signature FIS landed in the received-FIS area during the COMRESET.
  const auto d2h = h.GuestBytes(h.FisArea(1) + kRfisRfis, 20);
  EXPECT_EQ(d2h[0], kFisD2h);
  EXPECT_EQ(d2h[5], 0x14);
  EXPECT_EQ(d2h[6], 0xEB);
}

TEST(AhciHba, EmptyPortShowsNoDevice) {
  testing::HarnessOptions o;
  o.cdrom = false;
  AhciHarness h(o);
  ASSERT_TRUE(h.Init());
  EXPECT_EQ(h.PortReg(1, kPxSsts) & 0xF, 0u);
  EXPECT_EQ(h.PortReg(1, kPxCmd) & kCmdCr, 0u);
  h.SetPortReg(1, kPxCi, 1);  // nothing to issue to
  EXPECT_EQ(h.PortReg(1, kPxCi), 0u);
}

TEST(AhciHba, ComresetShowsLinkDownThenSignature) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.StopPort(0);
  h.SetPortReg(0, kPxSctl, 0x301);
  EXPECT_EQ(h.PortReg(0, kPxSsts) & 0xF, 1u);
  EXPECT_TRUE(h.PortReg(0, kPxTfd) & kStsBsy);
  h.SetPortReg(0, kPxSctl, 0x300);
  EXPECT_EQ(h.PortReg(0, kPxSsts), 0x123u);
  EXPECT_EQ(h.PortReg(0, kPxTfd) & 0xFF, kStsGood);
  EXPECT_EQ(h.PortReg(0, kPxSig), kSigDisk);
}

TEST(AhciHba, PortStopClearsIssuedCommandsAndDropsTheirCompletion) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.Issue(0, 3, AtaCommand(0xC8, 0, 1), {{kDataBase, 512}});
  EXPECT_EQ(h.PortReg(0, kPxCi), 1u << 3);
  h.StopPort(0);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  EXPECT_EQ(h.RunQueued(), 1u);
  EXPECT_EQ(h.hba->stats().cancelled, 1u);
  EXPECT_EQ(h.PortReg(0, kPxIs), 0u);
  // Issuing on a stopped port does nothing.
  h.SetPortReg(0, kPxCi, 1);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  h.StartPort(0);
  EXPECT_EQ(h.Command(0, AtaCommand(0xE7), {}) & 0xFF, kStsGood);
}

TEST(AhciHba, StatusRegistersAreWriteOneToClear) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.Command(0, AtaCommand(0xE7), {});
  EXPECT_EQ(h.PortReg(0, kPxIs), kIsDhrs);
  EXPECT_EQ(h.Reg(kIs), 1u);
  h.SetPortReg(0, kPxIs, kIsPss);  // another bit: no effect
  EXPECT_EQ(h.PortReg(0, kPxIs), kIsDhrs);
  h.SetPortReg(0, kPxIs, kIsDhrs);
  EXPECT_EQ(h.PortReg(0, kPxIs), 0u);
  EXPECT_EQ(h.Reg(kIs), 0u);
}

TEST(AhciHba, InterruptFollowsIeAndResample) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  const int before = h.irq.raised;
  h.Command(0, AtaCommand(0xE7), {});
  EXPECT_EQ(h.irq.raised, before + 1);
  h.hba->Resample();  // guest EOIed but did not clear PxIS: raise again
  EXPECT_EQ(h.irq.raised, before + 2);
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  h.hba->Resample();
  EXPECT_EQ(h.irq.raised, before + 2);
  // With GHC.IE clear nothing is raised, and setting IE raises what is pending.
  h.SetReg(kGhc, kGhcAe);
  h.Command(0, AtaCommand(0xE7), {});
  EXPECT_EQ(h.irq.raised, before + 2);
  h.SetReg(kGhc, kGhcAe | kGhcIe);
  EXPECT_EQ(h.irq.raised, before + 3);
}

TEST(AhciHba, CommandListOutsideRamIsAHostBusError) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.StopPort(0);
  h.SetPortReg(0, kPxClb, 0xFFFFFC00);
  h.SetPortReg(0, kPxClbu, 0x7);
  h.StartPort(0);
  h.SetPortReg(0, kPxCi, 1);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsHbfs);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsTfes);
  EXPECT_TRUE(h.PortReg(0, kPxTfd) & kStsErr);
  EXPECT_EQ(h.hba->stats().host_bus_errors, 1u);
}

TEST(AhciHba, CommandTableAndPrdtOutsideRamAreRejected) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  // A PRD pointing past the end of RAM.
  uint32_t tfd = h.Command(0, AtaCommand(0xC8, 0, 1), {{testing::kRamSize - 256, 512}});
  EXPECT_TRUE(tfd & kStsErr);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsHbfs);
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  // A command table address outside RAM: patch the header after building it.
  h.Issue(0, 1, AtaCommand(0xE7), {});
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  (void)h.RunQueued();
  std::vector<uint8_t> hdr = h.GuestBytes(h.ClbAddr(0) + 32 * 2, 32);
  hdr[0] = 5;
  const uint32_t bad = 0xFFFFFF80;
  std::memcpy(&hdr[8], &bad, 4);
  h.PutGuestBytes(h.ClbAddr(0) + 32 * 2, hdr);
  h.SetPortReg(0, kPxCi, 1u << 2);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsHbfs);
  // The guest rewrites the command FIS after issuing: the command runs on
  // what was issued (one copy, no double fetch).
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  h.Issue(0, 4, AtaCommand(0xC8, 0, 1), {{kDataBase, 512}});
  h.PutGuestBytes(h.CommandTable(0, 4), {0x99});
  (void)h.RunQueued();
  EXPECT_EQ(h.PortReg(0, kPxTfd) & 0xFF, kStsGood);
  // A command table with a garbage FIS type and PRDTL 65535 reaching
  // beyond RAM.
  std::vector<uint8_t> hdr5(32, 0);
  hdr5[0] = 5;
  hdr5[2] = 0xFF;
  hdr5[3] = 0xFF;  // PRDTL 65535: 1 MiB of PRDT
  const uint32_t ct5 = static_cast<uint32_t>(testing::kRamSize - 0x1000);
  std::memcpy(&hdr5[8], &ct5, 4);
  h.PutGuestBytes(h.ClbAddr(0) + 5 * 32, hdr5);
  h.SetPortReg(0, kPxCi, 1u << 5);
  (void)h.RunQueued();
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  EXPECT_TRUE(h.PortReg(0, kPxTfd) & kStsErr);
  // The HBA still works afterwards.
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  EXPECT_EQ(h.Command(0, AtaCommand(0xE7), {}) & 0xFF, kStsGood);
}

TEST(AhciHba, SoftResetThroughDeviceControlFis) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  H2dFis srst;
  srst.command_update = false;
  srst.control = 0x04;
  h.Command(1, srst, {});
  srst.control = 0;
  const uint32_t tfd = h.Command(1, srst, {});
  EXPECT_EQ(tfd & kStsBsy, 0u);
  EXPECT_EQ(h.PortReg(1, kPxSig), kSigAtapi);
}

TEST(AhciHba, RecoverReExecutesJournaledCommandsAfterARestart) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.Issue(0, 7, AtaCommand(0xC8, 5, 1), {{kDataBase, 512}});
  // The process dies here: the queue is lost, the region keeps the journal.
  (void)h.hba->TakeWork();
  AhciController successor(*h.region, h.mem, {&h.disk_backend, {"S", "M", "F"}},
                           {&h.iso_backend, {"S", "M", "F"}}, h.flags, h.irq);
  EXPECT_FALSE(AttachAhciState(*h.region, h.flags));
  EXPECT_EQ(successor.Recover(), 1u);
  for (const auto& w : successor.TakeWork()) successor.Execute(w);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  uint32_t first;
  std::memcpy(&first, &h.ram[kDataBase], 4);
  EXPECT_EQ(first, 5000u);
}

TEST(AhciHba, ReplayedRegisterWriteIsNotAppliedTwice) {
  AhciHarness h;
  ASSERT_TRUE(h.Init());
  h.Issue(0, 0, AtaCommand(0xE7), {});  // builds the table; CI write via Write()
  (void)h.RunQueued();
  const uint32_t ci_offset = kPortBase + kPxCi;
  EXPECT_TRUE(h.hba->WriteOnce(2, 41, ci_offset, 4, 1));
  (void)h.RunQueued();
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  const uint64_t done = h.hba->stats().commands;
  // The same request again (the ring handed it to a successor): not re-issued.
  EXPECT_FALSE(h.hba->WriteOnce(2, 41, ci_offset, 4, 1));
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);
  EXPECT_EQ(h.RunQueued(), 0u);
  EXPECT_EQ(h.hba->stats().commands, done);
  EXPECT_EQ(h.hba->stats().replayed_writes, 1u);
}

}  // namespace
}  // namespace bulkhead::ahci
