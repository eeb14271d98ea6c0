// The ATAPI CD-ROM through the HBA: every PACKET command the model knows,
// the sense data after each error, and the ATA commands around them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "devproc/ahci/atapi_pages.h"
#include "devproc/ahci/testing/ahci_driver.h"

namespace bulkhead::ahci {
namespace {

using testing::AhciHarness;
using testing::AtaCommand;
using testing::kDataBase;

constexpr uint64_t kIsoSectors = 300;

class AtapiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h.Init()); }

  // Runs a CDB that must succeed and returns its data.
  std::vector<uint8_t> Ok(const std::vector<uint8_t>& cdb, uint32_t bytes, bool dma = true) {
    std::vector<uint8_t> out;
    const uint32_t tfd = h.Packet(cdb, bytes, &out, dma);
    EXPECT_EQ(tfd & kStsErr, 0u) << "cdb " << int{cdb[0]} << " tfd " << std::hex << tfd;
    return out;
  }
  // Runs a CDB that must fail; returns {key, asc, ascq} from REQUEST SENSE.
  std::array<uint8_t, 3> Fails(const std::vector<uint8_t>& cdb, uint32_t bytes = 64) {
    h.SetPortReg(1, kPxIs, 0xFFFFFFFF);
    const uint32_t tfd = h.Packet(cdb, bytes, nullptr);
    EXPECT_TRUE(tfd & kStsErr) << "cdb " << int{cdb[0]};
    EXPECT_TRUE(h.PortReg(1, kPxIs) & kIsTfes);
    const uint8_t key_from_error = static_cast<uint8_t>((tfd >> 12) & 0xF);
    auto sense = Ok({0x03, 0, 0, 0, 96, 0}, 96);
    EXPECT_EQ(sense.size(), 18u);
    EXPECT_EQ(sense[0], 0x70);
    EXPECT_EQ(sense[2], key_from_error);
    return {sense[2], sense[12], sense[13]};
  }
  AhciHarness h;
};

TEST_F(AtapiTest, IdentifyPacketDeviceAndIdentifyDeviceAborts) {
  EXPECT_EQ(h.Command(1, AtaCommand(0xA1), {{kDataBase, 512}}) & kStsErr, 0u);
  const auto id = h.GuestBytes(kDataBase, 512);
  EXPECT_EQ(id[0] | (id[1] << 8), 0x85C0);
  uint8_t sum = 0;
  for (uint8_t b : id) sum = static_cast<uint8_t>(sum + b);
  EXPECT_EQ(sum, 0);
  h.SetPortReg(1, kPxIs, 0xFFFFFFFF);
  const uint32_t tfd = h.Command(1, AtaCommand(0xEC), {{kDataBase, 512}});
  EXPECT_EQ((tfd >> 8) & 0xFF, kErrAbrt);
  const auto d2h = h.GuestBytes(h.FisArea(1) + kRfisRfis, 20);
  EXPECT_EQ(d2h[5], 0x14);
  EXPECT_EQ(d2h[6], 0xEB);
  EXPECT_EQ(h.Command(1, AtaCommand(0xEF, 0, 0x45, 0x03), {}) & kStsErr, 0u);
  EXPECT_EQ(h.Command(1, AtaCommand(0x08), {}) & kStsBsy, 0u);  // DEVICE RESET
  EXPECT_EQ(h.PortReg(1, kPxSig), kSigAtapi);
}

TEST_F(AtapiTest, TestUnitReadyInquiryAndVpd) {
  Ok({0x00, 0, 0, 0, 0, 0}, 0);
  auto inq = Ok({0x12, 0, 0, 0, 96, 0}, 96);
  ASSERT_EQ(inq.size(), 36u);
  EXPECT_EQ(inq[0], 0x05);
  EXPECT_EQ(inq[1], 0x80);
  EXPECT_EQ(std::string(inq.begin() + 8, inq.begin() + 16), "BULKHEAD");
  EXPECT_EQ(Ok({0x12, 0, 0, 0, 5, 0}, 96).size(), 5u);  // allocation length
  auto vpd0 = Ok({0x12, 1, 0x00, 0, 64, 0}, 64);
  EXPECT_EQ(vpd0, (std::vector<uint8_t>{0x05, 0x00, 0x00, 2, 0x00, 0x80}));
  auto vpd80 = Ok({0x12, 1, 0x80, 0, 64, 0}, 64);
  EXPECT_EQ(std::string(vpd80.begin() + 4, vpd80.begin() + 16), "CDSERIAL0001");
  EXPECT_EQ(Fails({0x12, 1, 0x83, 0, 64, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));
}

TEST_F(AtapiTest, ReadCapacityAndReads) {
  auto cap = Ok({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8);
  EXPECT_EQ(cap, (std::vector<uint8_t>{0, 0, 0x01, 0x2B, 0, 0, 0x08, 0}));  // last LBA 299
  auto d = Ok({0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0}, 4096);  // READ(10) LBA 10, 2 sectors
  ASSERT_EQ(d.size(), 4096u);
  uint32_t v;
  std::memcpy(&v, &d[0], 4);
  EXPECT_EQ(v, 40000u);  // byte 20480 = 512-byte sector 40
  std::memcpy(&v, &d[2048], 4);
  EXPECT_EQ(v, 44000u);
  d = Ok({0xA8, 0, 0, 0, 0x01, 0x2B, 0, 0, 0, 1, 0, 0}, 2048);  // READ(12) last sector
  std::memcpy(&v, &d[0], 4);
  EXPECT_EQ(v, 299u * 4 * 1000);
  EXPECT_EQ(Fails({0x28, 0, 0, 0, 0x01, 0x2B, 0, 0, 2, 0}, 4096),
            (std::array<uint8_t, 3>{5, 0x21, 0}));
  EXPECT_EQ(Fails({0xA8, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1, 0, 0}, 2048),
            (std::array<uint8_t, 3>{5, 0x21, 0}));
  // PIO works the same (libata uses PIO for odd lengths).
  d = Ok({0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 2048, false);
  std::memcpy(&v, &d[0], 4);
  EXPECT_EQ(v, 4000u);
  EXPECT_TRUE(h.PortReg(1, kPxIs) & kIsPss);
}

TEST_F(AtapiTest, ModeSensePages) {
  auto p2a = Ok({0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 128, 0}, 128);
  ASSERT_EQ(p2a.size(), 8u + 22u);
  EXPECT_EQ((p2a[0] << 8 | p2a[1]), static_cast<int>(p2a.size() - 2));
  EXPECT_EQ(p2a[8], 0x2A);
  EXPECT_EQ(p2a[9], 0x14);
  EXPECT_EQ(p2a[8 + 6] & 0x09, 0x09);  // lock and eject
  auto p01 = Ok({0x5A, 0, 0x01, 0, 0, 0, 0, 0, 128, 0}, 128);
  EXPECT_EQ(p01.size(), 16u);
  EXPECT_EQ(p01[8], 0x01);
  EXPECT_EQ(Ok({0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 255, 0}, 255).size(), 8u + 8 + 22);
  EXPECT_EQ(Fails({0x5A, 0, 0x1A, 0, 0, 0, 0, 0, 128, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));
  EXPECT_EQ(Fails({0x5A, 0, 0xEA, 0, 0, 0, 0, 0, 128, 0}), (std::array<uint8_t, 3>{5, 0x39, 0}));
}

TEST_F(AtapiTest, ReadTocFormats) {
  auto toc = Ok({0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0}, 804);
  ASSERT_EQ(toc.size(), 20u);
  EXPECT_EQ(toc[1], 18);
  EXPECT_EQ(toc[2], 1);
  EXPECT_EQ(toc[3], 1);
  EXPECT_EQ(toc[6], 1);       // track 1
  EXPECT_EQ(toc[14], 0xAA);   // lead-out
  EXPECT_EQ(toc[19], kIsoSectors & 0xFF);
  EXPECT_EQ(toc[18], kIsoSectors >> 8);
  auto msf = Ok({0x43, 2, 0, 0, 0, 0, 0, 0, 12, 0}, 12);  // MSF, cut at 12 bytes
  ASSERT_EQ(msf.size(), 12u);
  EXPECT_EQ(msf[9], 0);
  EXPECT_EQ(msf[10], 2);  // 00:02:00
  auto lead_only = Ok({0x43, 0, 0, 0, 0, 0, 0xAA, 0, 64, 0}, 64);
  EXPECT_EQ(lead_only.size(), 12u);
  auto session = Ok({0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0}, 12);
  EXPECT_EQ(session, (std::vector<uint8_t>{0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0}));
  auto raw = Ok({0x43, 2, 2, 0, 0, 0, 0, 0, 255, 0}, 255);
  ASSERT_EQ(raw.size(), 4u + 4 * 11);
  EXPECT_EQ(raw[4 + 3], 0xA0);
  EXPECT_EQ(raw[4 + 22 + 3], 0xA2);
  uint8_t lo[4];
  PutMsf(lo, kIsoSectors);
  EXPECT_EQ(raw[4 + 22 + 8], lo[1]);
  EXPECT_EQ(raw[4 + 22 + 9], lo[2]);
  EXPECT_EQ(raw[4 + 22 + 10], lo[3]);
  EXPECT_EQ(Fails({0x43, 0, 0, 0, 0, 0, 5, 0, 64, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));
  EXPECT_EQ(Fails({0x43, 0, 7, 0, 0, 0, 0, 0, 64, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));
}

TEST_F(AtapiTest, GetConfigurationAndEvents) {
  auto all = Ok({0x46, 0, 0, 0, 0, 0, 0, 0x01, 0, 0}, 256);
  ASSERT_GE(all.size(), 8u);
  EXPECT_EQ(all[7], 0x08);  // current profile CD-ROM
  const uint32_t len = (uint32_t{all[0]} << 24) | (all[1] << 16) | (all[2] << 8) | all[3];
  EXPECT_EQ(len, all.size() - 4);
  EXPECT_EQ(all[8 + 4], 0x00);
  EXPECT_EQ(all[8 + 5], 0x08);  // profile list holds CD-ROM
  auto one = Ok({0x46, 2, 0, 0x1E, 0, 0, 0, 0, 64, 0}, 64);
  ASSERT_EQ(one.size(), 16u);  // header + the one feature
  EXPECT_EQ(one[9], 0x1E);
  EXPECT_EQ(Fails({0x46, 3, 0, 0, 0, 0, 0, 0, 64, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));

  auto ev = Ok({0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0}, 8);
  EXPECT_EQ(ev, (std::vector<uint8_t>{0, 6, 0x04, 0x10, 2, 0x02, 0, 0}));  // new media once
  ev = Ok({0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0}, 8);
  EXPECT_EQ(ev[4], 0);
  EXPECT_EQ(Fails({0x4A, 0, 0, 0, 0x10, 0, 0, 0, 8, 0}), (std::array<uint8_t, 3>{5, 0x24, 0}));
  EXPECT_EQ(Ok({0xBD, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0}, 8).size(), 8u);
  auto disc = Ok({0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0}, 34);  // READ DISC INFORMATION
  ASSERT_EQ(disc.size(), 34u);
  EXPECT_EQ(disc[2] & 0x03, 2);  // complete
  EXPECT_EQ(disc[4], 1);         // one session
}

TEST_F(AtapiTest, LockEjectAndLoad) {
  Ok({0x1E, 0, 0, 0, 1, 0}, 0);  // prevent removal
  EXPECT_EQ(Fails({0x1B, 0, 0, 0, 0x02, 0}), (std::array<uint8_t, 3>{5, 0x53, 0x02}));
  auto p2a = Ok({0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 128, 0}, 128);
  EXPECT_TRUE(p2a[8 + 6] & 0x02);  // locked
  Ok({0x1E, 0, 0, 0, 0, 0}, 0);
  Ok({0x1B, 0, 0, 0, 0x02, 0}, 0);  // eject
  EXPECT_EQ(Fails({0x00, 0, 0, 0, 0, 0}), (std::array<uint8_t, 3>{2, 0x3A, 0}));
  EXPECT_EQ(Fails({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 2048), (std::array<uint8_t, 3>{2, 0x3A, 0}));
  EXPECT_EQ(Fails({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8), (std::array<uint8_t, 3>{2, 0x3A, 0}));
  auto ev = Ok({0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0}, 8);
  EXPECT_EQ(ev[5], 0x00);  // no media
  Ok({0x1B, 0, 0, 0, 0x03, 0}, 0);  // load
  Ok({0x00, 0, 0, 0, 0, 0}, 0);
  Ok({0xBB, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0}, 0);  // SET CD SPEED
}

TEST_F(AtapiTest, UnknownOpcodesAndSenseClearing) {
  for (uint8_t op : {0x04, 0x2A, 0x55, 0xA3, 0xFF, 0x52}) {
    EXPECT_EQ(Fails({op, 0, 0, 0, 0, 0, 0, 0, 0, 0}), (std::array<uint8_t, 3>{5, 0x20, 0}))
        << int{op};
  }
  // REQUEST SENSE after a good command reports no sense.
  Ok({0x00, 0, 0, 0, 0, 0}, 0);
  auto sense = Ok({0x03, 0, 0, 0, 18, 0}, 18);
  EXPECT_EQ(sense[2], 0);
  EXPECT_EQ(sense[12], 0);
}

}  // namespace
}  // namespace bulkhead::ahci
