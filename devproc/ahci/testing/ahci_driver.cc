#include "devproc/ahci/testing/ahci_driver.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

namespace bulkhead::ahci::testing {
namespace {

std::string TempFile(const char* tag, uint64_t bytes, bool pattern, bool sparse) {
  std::string path = std::string("/tmp/ahci-") + tag + "-XXXXXX";
  const int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);
  if (pattern && !sparse) {
    // Every 512-byte sector starts with its number: reads are checkable.
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t off = 0; off < bytes; off += buf.size()) {
      const uint64_t n = std::min<uint64_t>(buf.size(), bytes - off);
      for (uint64_t i = 0; i < n; i += 4) {
        const uint32_t v = static_cast<uint32_t>((off + i) / 512 * 1000 + (i % 512));
        std::memcpy(&buf[i], &v, 4);
      }
      EXPECT_EQ(::pwrite(fd, buf.data(), n, static_cast<off_t>(off)), static_cast<ssize_t>(n));
    }
  }
  ::close(fd);
  return path;
}

}  // namespace

H2dFis AtaCommand(uint8_t command, uint64_t lba, uint16_t count, uint16_t features) {
  H2dFis f;
  f.command_update = true;
  f.command = command;
  f.lba = lba;
  f.count = count;
  f.features = features;
  f.device = 0x40;  // LBA
  return f;
}

H2dFis NcqCommand(bool write, uint32_t tag, uint64_t lba, uint16_t sectors) {
  H2dFis f = AtaCommand(write ? 0x61 : 0x60, lba, static_cast<uint16_t>(tag << 3), sectors);
  return f;
}

AhciHarness::AhciHarness(HarnessOptions o) : ram(kRamSize) {
  mem = GuestMemory::ForBuffer(ram);
  region = std::make_unique<AhciStateRegion>();
  std::memset(region.get(), 0, sizeof *region);
  DiskDevice disk;
  CdromDevice cd;
  if (o.disk) {
    flags |= abi::ahci::kHasDisk;
    if (o.disk_read_only) flags |= abi::ahci::kDiskReadOnly;
    disk_path = TempFile("disk", o.disk_bytes, true, o.sparse_disk);
    const int fd = ::open(disk_path.c_str(), o.disk_read_only ? O_RDONLY : O_RDWR);
    auto b = BlockBackend::Open(UniqueFd(fd), o.disk_read_only);
    EXPECT_TRUE(b) << b.error().message;
    disk_backend = std::move(*b);
    disk.backend = &disk_backend;
    disk.identity = {"DISKSERIAL0001", "BULKHEAD HARDDISK", "1.0"};
  }
  if (o.cdrom) {
    flags |= abi::ahci::kHasCdrom;
    iso_path = TempFile("iso", o.iso_bytes, true, false);
    auto b = BlockBackend::Open(UniqueFd(::open(iso_path.c_str(), O_RDONLY)), true);
    EXPECT_TRUE(b) << b.error().message;
    iso_backend = std::move(*b);
    cd.backend = &iso_backend;
    cd.identity = {"CDSERIAL0001", "BULKHEAD DVD-ROM", "1.0"};
  }
  EXPECT_TRUE(AttachAhciState(*region, flags));
  hba = std::make_unique<AhciController>(*region, mem, disk, cd, flags, irq);
}

AhciHarness::~AhciHarness() {
  if (!disk_path.empty()) ::unlink(disk_path.c_str());
  if (!iso_path.empty()) ::unlink(iso_path.c_str());
}

bool AhciHarness::Init() {
  SetReg(kGhc, kGhcAe);
  SetReg(kGhc, kGhcAe | kGhcHr);
  EXPECT_EQ(Reg(kGhc) & kGhcHr, 0u) << "HBA reset must complete";
  SetReg(kGhc, kGhcAe);
  const uint32_t cap = Reg(kCap);
  EXPECT_TRUE(cap & kCapSncq);
  EXPECT_EQ((cap >> 8) & 0x1F, 31u);
  EXPECT_EQ(Reg(kPi), 0x3u);
  EXPECT_EQ(Reg(kVs), kVersion13);
  for (uint32_t p = 0; p < 2; ++p) {
    InitPort(p);
    HardReset(p);
    SetPortReg(p, kPxIs, 0xFFFFFFFF);
    SetPortReg(p, kPxIe, 0xFDC000FF);
  }
  SetReg(kIs, 0xFFFFFFFF);
  SetReg(kGhc, kGhcAe | kGhcIe);
  for (uint32_t p = 0; p < 2; ++p) {
    if ((PortReg(p, kPxSsts) & 0xF) == 3) StartPort(p);
  }
  return !::testing::Test::HasFailure();
}

void AhciHarness::StopPort(uint32_t port) {
  SetPortReg(port, kPxCmd, PortReg(port, kPxCmd) & ~kCmdSt);
  EXPECT_EQ(PortReg(port, kPxCmd) & kCmdCr, 0u);
}

void AhciHarness::StartPort(uint32_t port) {
  SetPortReg(port, kPxCmd, PortReg(port, kPxCmd) | kCmdSt);
  EXPECT_TRUE(PortReg(port, kPxCmd) & kCmdCr);
}

void AhciHarness::InitPort(uint32_t port) {
  StopPort(port);
  SetPortReg(port, kPxCmd, PortReg(port, kPxCmd) & ~kCmdFre);
  EXPECT_EQ(PortReg(port, kPxCmd) & kCmdFr, 0u);
  SetPortReg(port, kPxClb, static_cast<uint32_t>(ClbAddr(port)));
  SetPortReg(port, kPxClbu, 0);
  SetPortReg(port, kPxFb, static_cast<uint32_t>(FisArea(port)));
  SetPortReg(port, kPxFbu, 0);
  SetPortReg(port, kPxCmd, PortReg(port, kPxCmd) | kCmdFre);
  EXPECT_TRUE(PortReg(port, kPxCmd) & kCmdFr);
  SetPortReg(port, kPxSerr, 0xFFFFFFFF);
  SetPortReg(port, kPxIs, 0xFFFFFFFF);
}

void AhciHarness::HardReset(uint32_t port) {
  StopPort(port);
  SetPortReg(port, kPxSctl, 0x301);  // DET=1: COMRESET, no partial/slumber
  SetPortReg(port, kPxSctl, 0x300);
  SetPortReg(port, kPxSerr, 0xFFFFFFFF);
}

void AhciHarness::Issue(uint32_t port, uint32_t slot, const H2dFis& fis,
                        const std::vector<Prd>& prdt, bool write,
                        const std::vector<uint8_t>& acmd) {
  const uint64_t ct = CommandTable(port, slot);
  std::vector<uint8_t> table(0x80 + prdt.size() * 16, 0);
  const auto cfis = EncodeH2d(fis);
  std::copy(cfis.begin(), cfis.end(), table.begin());
  std::copy(acmd.begin(), acmd.end(), table.begin() + 0x40);
  for (size_t i = 0; i < prdt.size(); ++i) {
    uint8_t* e = &table[0x80 + i * 16];
    const uint32_t lo = static_cast<uint32_t>(prdt[i].gpa), hi = static_cast<uint32_t>(prdt[i].gpa >> 32);
    const uint32_t dw3 = (prdt[i].bytes - 1) | (prdt[i].interrupt ? 0x80000000u : 0);
    std::memcpy(e, &lo, 4);
    std::memcpy(e + 4, &hi, 4);
    std::memcpy(e + 12, &dw3, 4);
  }
  PutGuestBytes(ct, table);
  uint32_t hdr[8] = {};
  hdr[0] = 5 | (acmd.empty() ? 0 : 0x20) | (write ? 0x40 : 0) |
           (static_cast<uint32_t>(prdt.size()) << 16);
  hdr[2] = static_cast<uint32_t>(ct);
  hdr[3] = static_cast<uint32_t>(ct >> 32);
  std::vector<uint8_t> h(32);
  std::memcpy(h.data(), hdr, 32);
  PutGuestBytes(ClbAddr(port) + slot * 32, h);
  if (fis.command == 0x60 || fis.command == 0x61) SetPortReg(port, kPxSact, 1u << slot);
  SetPortReg(port, kPxCi, 1u << slot);
}

size_t AhciHarness::RunQueued(bool reverse) {
  auto work = hba->TakeWork();
  if (reverse) std::reverse(work.begin(), work.end());
  for (const WorkItem& w : work) hba->Execute(w);
  return work.size();
}

uint32_t AhciHarness::Command(uint32_t port, const H2dFis& fis, const std::vector<Prd>& prdt,
                              bool write, const std::vector<uint8_t>& acmd) {
  Issue(port, 0, fis, prdt, write, acmd);
  RunQueued();
  EXPECT_EQ(PortReg(port, kPxCi), 0u);
  return PortReg(port, kPxTfd);
}

uint32_t AhciHarness::Packet(const std::vector<uint8_t>& cdb, uint32_t bytes,
                             std::vector<uint8_t>* out, bool dma) {
  std::vector<uint8_t> acmd = cdb;
  acmd.resize(16, 0);
  PutGuestBytes(kDataBase, std::vector<uint8_t>(std::max<uint32_t>(bytes, 1), 0xEE));
  // libata: byte count limit in LBA mid/high, DMA bit in FEATURES.
  H2dFis fis = AtaCommand(0xA0, uint64_t{std::min<uint32_t>(bytes, 0xFFFE)} << 8, 0, dma ? 1 : 0);
  std::vector<Prd> prdt;
  if (bytes > 0) prdt.push_back({kDataBase, bytes});
  const uint32_t tfd = Command(1, fis, prdt, false, acmd);
  if (out) *out = GuestBytes(kDataBase, Prdbc(1, 0));
  return tfd;
}

std::vector<uint8_t> AhciHarness::GuestBytes(uint64_t gpa, size_t n) const {
  return std::vector<uint8_t>(ram.begin() + static_cast<ptrdiff_t>(gpa),
                              ram.begin() + static_cast<ptrdiff_t>(gpa + n));
}

void AhciHarness::PutGuestBytes(uint64_t gpa, const std::vector<uint8_t>& bytes) {
  std::copy(bytes.begin(), bytes.end(), ram.begin() + static_cast<ptrdiff_t>(gpa));
}

uint32_t AhciHarness::Prdbc(uint32_t port, uint32_t slot) const {
  uint32_t v;
  std::memcpy(&v, &ram[ClbAddr(port) + slot * 32 + 4], 4);
  return v;
}

}  // namespace bulkhead::ahci::testing
