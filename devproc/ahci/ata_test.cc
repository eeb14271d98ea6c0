// The ATA disk through the HBA, as libata drives it: IDENTIFY, DMA and PIO
// reads and writes, 32 NCQ commands completing out of order, scattered
// PRDTs, errors (IDNF, read-only, bad PRDT), FLUSH, TRIM.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "devproc/ahci/testing/ahci_driver.h"

namespace bulkhead::ahci {
namespace {

using testing::AhciHarness;
using testing::AtaCommand;
using testing::kDataBase;
using testing::NcqCommand;

uint32_t At(const std::vector<uint8_t>& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, &b[off], 4);
  return v;
}
uint16_t Word(const std::vector<uint8_t>& id, size_t w) {
  return static_cast<uint16_t>(id[2 * w] | (id[2 * w + 1] << 8));
}
std::string AtaString(const std::vector<uint8_t>& id, size_t w, size_t words) {
  std::string s;
  for (size_t i = 0; i < words; ++i) {
    s += static_cast<char>(id[2 * (w + i) + 1]);
    s += static_cast<char>(id[2 * (w + i)]);
  }
  return s;
}

class AtaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h.Init()); }
  std::vector<uint8_t> Identify() {
    EXPECT_EQ(h.Command(0, AtaCommand(0xEC), {{kDataBase, 512}}) & 0xFF, kStsGood);
    return h.GuestBytes(kDataBase, 512);
  }
  AhciHarness h;
};

TEST_F(AtaTest, IdentifyDevice) {
  const auto id = Identify();
  EXPECT_EQ(Word(id, 0), 0x0040);
  EXPECT_EQ(AtaString(id, 27, 20).substr(0, 17), "BULKHEAD HARDDISK");
  EXPECT_EQ(AtaString(id, 10, 10).substr(0, 14), "DISKSERIAL0001");
  const uint64_t sectors = uint64_t{Word(id, 100)} | uint64_t{Word(id, 101)} << 16;
  EXPECT_EQ(sectors, (8u << 20) / 512);
  EXPECT_EQ(uint32_t{Word(id, 60)} | uint32_t{Word(id, 61)} << 16, sectors);
  EXPECT_TRUE(Word(id, 83) & (1 << 10));  // LBA48
  EXPECT_TRUE(Word(id, 83) & (1 << 13));  // FLUSH CACHE EXT
  EXPECT_TRUE(Word(id, 76) & (1 << 8));   // NCQ
  EXPECT_EQ(Word(id, 75) & 0x1F, 31);
  EXPECT_TRUE(Word(id, 85) & (1 << 5));   // write cache on
  EXPECT_TRUE(Word(id, 169) & 1);         // TRIM: tmpfs/ext4 punch holes
  uint8_t sum = 0;
  for (uint8_t b : id) sum = static_cast<uint8_t>(sum + b);
  EXPECT_EQ(sum, 0) << "checksum";
  EXPECT_EQ(id[510], 0xA5);
  // PIO data-in: the PIO setup FIS carries the ending status, PRDBC the count.
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsPss);
  const auto ps = h.GuestBytes(h.FisArea(0) + kRfisPsfis, 20);
  EXPECT_EQ(ps[0], kFisPioSetup);
  EXPECT_EQ(ps[15], kStsGood);
  EXPECT_EQ(h.Prdbc(0, 0), 512u);
}

TEST_F(AtaTest, SetFeaturesWriteCacheAndMultiple) {
  EXPECT_EQ(h.Command(0, AtaCommand(0xEF, 0, 0, 0x82), {}) & 0xFF, kStsGood);
  EXPECT_FALSE(Word(Identify(), 85) & (1 << 5));
  EXPECT_EQ(h.Command(0, AtaCommand(0xEF, 0, 0x45, 0x03), {}) & 0xFF, kStsGood);  // UDMA5
  EXPECT_TRUE(Word(Identify(), 88) & (1 << 13));
  EXPECT_EQ(h.Command(0, AtaCommand(0xC6, 0, 8), {}) & 0xFF, kStsGood);
  EXPECT_EQ(Word(Identify(), 59), 0x108);
  EXPECT_TRUE(h.Command(0, AtaCommand(0xC6, 0, 3), {}) & kStsErr);
  EXPECT_TRUE(h.Command(0, AtaCommand(0xEF, 0, 0, 0x77), {}) & kStsErr);
}

TEST_F(AtaTest, ReadDmaLba28AndLba48) {
  // LBA28: bits 27:24 in the device register, like libata's ata_build_rw_tf.
  H2dFis f = AtaCommand(0xC8, 0x000010, 2);
  EXPECT_EQ(h.Command(0, f, {{kDataBase, 1024}}) & 0xFF, kStsGood);
  auto d = h.GuestBytes(kDataBase, 1024);
  EXPECT_EQ(At(d, 0), 16000u);
  EXPECT_EQ(At(d, 512), 17000u);
  EXPECT_EQ(h.Prdbc(0, 0), 1024u);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsDhrs);
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 100, 1), {{kDataBase, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(At(h.GuestBytes(kDataBase, 4), 0), 100000u);
}

TEST_F(AtaTest, WriteThenReadBackDmaAndPio) {
  std::vector<uint8_t> data(1024);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  h.PutGuestBytes(kDataBase, data);
  EXPECT_EQ(h.Command(0, AtaCommand(0x35, 40, 2), {{kDataBase, 1024}}, true) & 0xFF, kStsGood);
  EXPECT_EQ(h.Command(0, AtaCommand(0x24, 40, 2), {{kDataBase + 4096, 1024}}) & 0xFF, kStsGood);
  EXPECT_EQ(h.GuestBytes(kDataBase + 4096, 1024), data);
  // PIO write (WRITE SECTORS) and the FLUSH after it.
  EXPECT_EQ(h.Command(0, AtaCommand(0x30, 60, 1), {{kDataBase, 512}}, true) & 0xFF, kStsGood);
  EXPECT_EQ(h.Command(0, AtaCommand(0xEA), {}) & 0xFF, kStsGood);
  EXPECT_EQ(h.Command(0, AtaCommand(0xC8, 60, 1), {{kDataBase + 8192, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(h.GuestBytes(kDataBase + 8192, 512), std::vector<uint8_t>(data.begin(), data.begin() + 512));
}

TEST_F(AtaTest, ThirtyTwoNcqCommandsCompleteOutOfOrder) {
  for (uint32_t tag = 0; tag < 32; ++tag) {
    h.Issue(0, tag, NcqCommand(false, tag, 200 + tag * 3, 2), {{kDataBase + tag * 4096, 1024}});
  }
  EXPECT_EQ(h.PortReg(0, kPxSact), 0xFFFFFFFFu);
  EXPECT_EQ(h.PortReg(0, kPxCi), 0u);  // accepted at once
  auto work = h.hba->TakeWork();
  ASSERT_EQ(work.size(), 32u);
  // Odd tags first, in reverse, then even ones.
  uint32_t expected = 0xFFFFFFFF;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 31; i >= 0; --i) {
      if ((i % 2 == 1) != (pass == 0)) continue;
      h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
      h.hba->Execute(work[static_cast<size_t>(i)]);
      expected &= ~(1u << i);
      ASSERT_EQ(h.PortReg(0, kPxSact), expected);
      EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsSdbs);
      const auto sdb = h.GuestBytes(h.FisArea(0) + kRfisSdbfis, 8);
      EXPECT_EQ(sdb[0], kFisSdb);
      EXPECT_EQ(At(sdb, 4), 1u << i);
    }
  }
  for (uint32_t tag = 0; tag < 32; ++tag) {
    auto d = h.GuestBytes(kDataBase + tag * 4096, 1024);
    EXPECT_EQ(At(d, 0), (200 + tag * 3) * 1000) << tag;
    EXPECT_EQ(At(d, 512), (201 + tag * 3) * 1000) << tag;
  }
}

TEST_F(AtaTest, NcqWriteAndErrorLog) {
  std::vector<uint8_t> data(512, 0x5A);
  h.PutGuestBytes(kDataBase, data);
  h.Issue(0, 4, NcqCommand(true, 4, 77, 1), {{kDataBase, 512}});
  h.RunQueued();
  EXPECT_EQ(h.PortReg(0, kPxSact), 0u);
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 77, 1), {{kDataBase + 4096, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(h.GuestBytes(kDataBase + 4096, 512), data);
  // Beyond the end: IDNF, the tag stays in SACT, log page 10h names it.
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  h.Issue(0, 9, NcqCommand(false, 9, 1u << 30, 1), {{kDataBase, 512}});
  h.RunQueued();
  EXPECT_EQ(h.PortReg(0, kPxSact), 1u << 9);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsTfes);
  EXPECT_EQ((h.PortReg(0, kPxTfd) >> 8) & 0xFF, kErrIdnf);
  h.StopPort(0);  // libata's EH
  h.StartPort(0);
  EXPECT_EQ(h.Command(0, AtaCommand(0x2F, 0x10, 1), {{kDataBase, 512}}) & 0xFF, kStsGood);
  auto log = h.GuestBytes(kDataBase, 512);
  EXPECT_EQ(h.Command(0, AtaCommand(0x2F, 0x00, 1), {{kDataBase + 4096, 512}}) & 0xFF, kStsGood);
  auto dir = h.GuestBytes(kDataBase + 4096, 512);
  EXPECT_EQ(dir[0], 1);
  EXPECT_EQ(dir[0x20], 1);   // log 10h has one page
  EXPECT_EQ(dir[0x60], 0);   // identify device data (30h): not there
  EXPECT_TRUE(h.Command(0, AtaCommand(0x2F, 0x30, 1), {{kDataBase + 4096, 512}}) & kStsErr);
  EXPECT_EQ(log[0], 9);
  EXPECT_EQ(log[3], kErrIdnf);
  uint8_t sum = 0;
  for (uint8_t b : log) sum = static_cast<uint8_t>(sum + b);
  EXPECT_EQ(sum, 0);
}

TEST_F(AtaTest, ManyPrdEntriesWithOddByteCounts) {
  // 16 sectors scattered over 61 entries of odd sizes with gaps between.
  std::vector<testing::Prd> prdt;
  uint32_t left = 16 * 512;
  uint64_t gpa = kDataBase;
  for (uint32_t i = 0; left > 0; ++i) {
    const uint32_t n = std::min(left, 1 + (i * 37) % 251);
    prdt.push_back({gpa, n});
    gpa += n + 3;
    left -= n;
  }
  ASSERT_GT(prdt.size(), 40u);
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 500, 16), prdt) & 0xFF, kStsGood);
  std::vector<uint8_t> joined;
  for (const auto& e : prdt) {
    auto part = h.GuestBytes(e.gpa, e.bytes);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  for (uint32_t s = 0; s < 16; ++s) EXPECT_EQ(At(joined, s * 512), (500 + s) * 1000) << s;
  EXPECT_EQ(h.GuestBytes(prdt[0].gpa + prdt[0].bytes, 3), std::vector<uint8_t>(3, 0));
}

TEST_F(AtaTest, ShortPrdtIsAnError) {
  const uint32_t tfd = h.Command(0, AtaCommand(0x25, 0, 4), {{kDataBase, 512}});
  EXPECT_TRUE(tfd & kStsErr);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsOfs);
}

TEST_F(AtaTest, OutOfRangeLbaIsIdnf) {
  const uint64_t sectors = (8u << 20) / 512;
  uint32_t tfd = h.Command(0, AtaCommand(0x25, sectors - 1, 2), {{kDataBase, 1024}});
  EXPECT_EQ(tfd & 0xFF, kStsDrdy | kStsErr);
  EXPECT_EQ((tfd >> 8) & 0xFF, kErrIdnf);
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsTfes);
  const auto d2h = h.GuestBytes(h.FisArea(0) + kRfisRfis, 20);
  EXPECT_EQ(d2h[2], kStsDrdy | kStsErr);
  EXPECT_EQ(d2h[3], kErrIdnf);
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  tfd = h.Command(0, AtaCommand(0x42, sectors, 1), {});  // READ VERIFY EXT
  EXPECT_EQ((tfd >> 8) & 0xFF, kErrIdnf);
  EXPECT_EQ(h.Command(0, AtaCommand(0x40, 0, 8), {}) & 0xFF, kStsGood);
}

TEST_F(AtaTest, UnsupportedCommandsAbort) {
  for (uint8_t cmd : {0x00, 0xA0, 0xA1, 0x08, 0xB0, 0xFF}) {
    h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
    const uint32_t tfd = h.Command(0, AtaCommand(cmd), {});
    EXPECT_EQ(tfd & 0xFF, kStsDrdy | kStsErr) << int{cmd};
    EXPECT_EQ((tfd >> 8) & 0xFF, kErrAbrt) << int{cmd};
  }
  for (uint8_t cmd : {0xE0, 0xE1, 0xE2, 0xE3}) {
    EXPECT_EQ(h.Command(0, AtaCommand(cmd), {}) & 0xFF, kStsGood) << int{cmd};
  }
  EXPECT_EQ(h.Command(0, AtaCommand(0xE5), {}) & 0xFF, kStsGood);
  EXPECT_EQ(h.GuestBytes(h.FisArea(0) + kRfisRfis + 12, 1)[0], 0xFF);  // active
}

TEST(AtaReadOnly, WritesAreRefusedWithAbort) {
  testing::HarnessOptions o;
  o.disk_read_only = true;
  AhciHarness h(o);
  ASSERT_TRUE(h.Init());
  for (uint8_t cmd : {0x35, 0xCA, 0x30, 0x34}) {
    h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
    const uint32_t tfd = h.Command(0, AtaCommand(cmd, 0, 1), {{kDataBase, 512}}, true);
    EXPECT_EQ((tfd >> 8) & 0xFF, kErrAbrt) << int{cmd};
  }
  h.Issue(0, 3, NcqCommand(true, 3, 0, 1), {{kDataBase, 512}});
  h.RunQueued();
  EXPECT_TRUE(h.PortReg(0, kPxIs) & kIsTfes);
  h.StopPort(0);
  h.StartPort(0);
  // Reads still work, and IDENTIFY advertises no TRIM.
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 1, 1), {{kDataBase, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(h.Command(0, AtaCommand(0xEC), {{kDataBase, 512}}) & 0xFF, kStsGood);
  EXPECT_FALSE(h.GuestBytes(kDataBase, 512)[2 * 169] & 1);
  EXPECT_EQ(h.Command(0, AtaCommand(0x06, 0, 1, 1), {{kDataBase, 512}}, true) & kStsErr, kStsErr);
}

TEST(AtaTrim, PunchesHolesInASparseImage) {
  testing::HarnessOptions o;
  o.disk_bytes = 4 << 20;
  AhciHarness h(o);  // patterned, fully allocated image
  ASSERT_TRUE(h.Init());
  struct stat before {};
  ASSERT_EQ(::stat(h.disk_path.c_str(), &before), 0);
  // Two ranges: 1024 sectors at 2048, 8 at 100.
  std::vector<uint8_t> ranges(512, 0);
  const uint64_t r0 = 2048 | (uint64_t{1024} << 48), r1 = 100 | (uint64_t{8} << 48);
  std::memcpy(&ranges[0], &r0, 8);
  std::memcpy(&ranges[8], &r1, 8);
  h.PutGuestBytes(kDataBase, ranges);
  EXPECT_EQ(h.Command(0, AtaCommand(0x06, 0, 1, 1), {{kDataBase, 512}}, true) & 0xFF, kStsGood);
  struct stat after {};
  ASSERT_EQ(::stat(h.disk_path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_LE(after.st_blocks, before.st_blocks - (1024 * 512) / 512);
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 2048, 1), {{kDataBase, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(h.GuestBytes(kDataBase, 512), std::vector<uint8_t>(512, 0));
  EXPECT_EQ(h.Command(0, AtaCommand(0x25, 2047, 1), {{kDataBase, 512}}) & 0xFF, kStsGood);
  EXPECT_EQ(At(h.GuestBytes(kDataBase, 4), 0), 2047000u);
  // A range beyond the end fails the whole command: IDNF, nothing punched.
  const uint64_t bad = ((4u << 20) / 512 - 1) | (uint64_t{2} << 48);
  std::memcpy(&ranges[0], &bad, 8);
  h.PutGuestBytes(kDataBase, ranges);
  h.SetPortReg(0, kPxIs, 0xFFFFFFFF);
  EXPECT_EQ((h.Command(0, AtaCommand(0x06, 0, 1, 1), {{kDataBase, 512}}, true) >> 8) & 0xFF,
            kErrIdnf);
}

}  // namespace
}  // namespace bulkhead::ahci
