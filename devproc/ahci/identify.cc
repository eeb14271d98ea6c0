#include "devproc/ahci/identify.h"

#include <algorithm>

namespace bulkhead::ahci {
namespace {

// Bit 8 of word 88/63: the mode SET FEATURES selected (0x40 | n for UDMA n,
// 0x20 | n for multiword DMA n). Default after reset: UDMA 5.
void PutDmaModes(IdentifyData& id, const DeviceSettings& s) {
  id[63] = 0x0007;
  id[88] = 0x003F;
  const uint32_t mode = s.xfer_mode;
  if ((mode & 0xF8) == 0x40) {
    id[88] = static_cast<uint16_t>(id[88] | (0x100u << std::min<uint32_t>(mode & 7, 5)));
  } else if ((mode & 0xF8) == 0x20) {
    id[63] = static_cast<uint16_t>(id[63] | (0x100u << std::min<uint32_t>(mode & 7, 2)));
  } else {
    id[88] = static_cast<uint16_t>(id[88] | 0x2000);  // UDMA 5
  }
}

void Checksum(IdentifyData& id) {
  id[255] = 0x00A5;
  uint8_t sum = 0;
  for (size_t i = 0; i < 255; ++i) sum = static_cast<uint8_t>(sum + (id[i] & 0xFF) + (id[i] >> 8));
  sum = static_cast<uint8_t>(sum + 0xA5);
  id[255] = static_cast<uint16_t>(0x00A5 | (static_cast<uint8_t>(-sum) << 8));
}

}  // namespace

void PutAtaString(IdentifyData& id, size_t first_word, size_t words, const std::string& s) {
  for (size_t w = 0; w < words; ++w) {
    const size_t i = 2 * w;
    const auto hi = static_cast<uint8_t>(i < s.size() ? s[i] : ' ');
    const auto lo = static_cast<uint8_t>(i + 1 < s.size() ? s[i + 1] : ' ');
    id[first_word + w] = static_cast<uint16_t>((hi << 8) | lo);
  }
}

IdentifyData AtaIdentify(const DriveIdentity& who, const DiskGeometry& disk,
                         const DeviceSettings& s) {
  IdentifyData id{};
  const uint64_t sectors = disk.sectors;
  id[0] = 0x0040;  // fixed, not removable, ATA
  const uint64_t cyl = std::min<uint64_t>(sectors / (16 * 63), 16383);
  id[1] = static_cast<uint16_t>(cyl);
  id[3] = 16;
  id[6] = 63;
  PutAtaString(id, 10, 10, who.serial);
  PutAtaString(id, 23, 4, who.firmware);
  PutAtaString(id, 27, 20, who.model);
  id[47] = 0x8000 | 16;  // READ/WRITE MULTIPLE: up to 16 sectors per block
  id[49] = 0x0B00;       // IORDY, LBA, DMA
  id[50] = 0x4000;
  id[53] = 0x0006;  // words 64-70 and 88 valid
  id[54] = static_cast<uint16_t>(cyl);
  id[55] = 16;
  id[56] = 63;
  const uint64_t chs = cyl * 16 * 63;
  id[57] = static_cast<uint16_t>(chs);
  id[58] = static_cast<uint16_t>(chs >> 16);
  id[59] = static_cast<uint16_t>(s.multiple != 0 ? (0x100 | (s.multiple & 0xFF)) : 0);
  const uint64_t lba28 = std::min<uint64_t>(sectors, 0x0FFFFFFF);
  id[60] = static_cast<uint16_t>(lba28);
  id[61] = static_cast<uint16_t>(lba28 >> 16);
  PutDmaModes(id, s);
  id[64] = 0x0003;  // PIO 3 and 4
  id[65] = id[66] = id[67] = id[68] = 120;
  if (disk.trim) id[69] = (1u << 14) | (1u << 5);  // deterministic, zeroes after TRIM
  id[75] = 31;                                   // NCQ depth 32
  id[76] = (1u << 8) | (1u << 2) | (1u << 1);    // NCQ, SATA Gen2 and Gen1
  id[80] = 0x01F0;                               // ATA/ATAPI-4 to ATA8-ACS
  id[81] = 0;
  id[82] = (1u << 14) | (1u << 5) | (1u << 3);  // NOP, write cache, power management
  id[83] = (1u << 14) | (1u << 13) | (1u << 12) | (1u << 10);  // FLUSH EXT, FLUSH, LBA48
  id[84] = 1u << 14;
  id[85] = static_cast<uint16_t>((1u << 14) | (s.write_cache ? 1u << 5 : 0) | (1u << 3));
  id[86] = (1u << 13) | (1u << 12) | (1u << 10);
  id[87] = 1u << 14;
  for (size_t i = 0; i < 4; ++i) id[100 + i] = static_cast<uint16_t>(sectors >> (16 * i));
  if (disk.trim) {
    id[105] = 1;      // one 512-byte block of LBA ranges per DSM command
    id[169] = 1;      // DSM TRIM
    id[217] = 1;      // non-rotating: a hole-punching image behaves like flash
  }
  Checksum(id);
  return id;
}

IdentifyData AtapiIdentify(const DriveIdentity& who, const DeviceSettings& s) {
  IdentifyData id{};
  // ATAPI, CD-ROM (05h), removable, DRQ within 50 us, 12-byte packets.
  id[0] = 0x85C0;
  PutAtaString(id, 10, 10, who.serial);
  PutAtaString(id, 23, 4, who.firmware);
  PutAtaString(id, 27, 20, who.model);
  id[49] = 0x0B00;  // IORDY, LBA, DMA
  id[53] = 0x0006;
  PutDmaModes(id, s);
  id[64] = 0x0003;
  id[65] = id[66] = id[67] = id[68] = 120;
  id[76] = (1u << 2) | (1u << 1);
  id[80] = 0x01F0;
  id[82] = (1u << 14) | (1u << 4);  // NOP, PACKET
  id[83] = 1u << 14;
  id[84] = 1u << 14;
  id[85] = (1u << 14) | (1u << 4);
  id[87] = 1u << 14;
  Checksum(id);
  return id;
}

std::array<uint8_t, 512> IdentifyBytes(const IdentifyData& words) {
  std::array<uint8_t, 512> b{};
  for (size_t i = 0; i < 256; ++i) {
    b[2 * i] = static_cast<uint8_t>(words[i]);
    b[2 * i + 1] = static_cast<uint8_t>(words[i] >> 8);
  }
  return b;
}

}  // namespace bulkhead::ahci
