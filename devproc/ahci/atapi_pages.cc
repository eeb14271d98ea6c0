#include "devproc/ahci/atapi_pages.h"

#include <algorithm>

namespace bulkhead::ahci {
namespace {

void PutBe16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void PutBe32(std::vector<uint8_t>& v, uint32_t x) {
  PutBe16(v, static_cast<uint16_t>(x >> 16));
  PutBe16(v, static_cast<uint16_t>(x));
}
void PutPadded(std::vector<uint8_t>& v, const std::string& s, size_t n) {
  for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(i < s.size() ? s[i] : ' '));
}
// A TOC address: MSF (00 M S F) or a big-endian LBA.
void PutAddress(std::vector<uint8_t>& v, bool msf, uint64_t lba) {
  if (msf) {
    uint8_t m[4];
    PutMsf(m, lba);
    v.insert(v.end(), m, m + 4);
  } else {
    PutBe32(v, static_cast<uint32_t>(std::min<uint64_t>(lba, 0xFFFFFFFF)));
  }
}
void SetBe16(std::vector<uint8_t>& v, size_t at, size_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}

constexpr uint8_t kAdrControlData = 0x14;  // ADR 1 (position), control 4 (data track)

}  // namespace

void PutMsf(uint8_t* out, uint64_t lba) {
  const uint64_t f = lba + 150;
  out[0] = 0;
  out[1] = static_cast<uint8_t>(std::min<uint64_t>(f / (75 * 60), 0xFF));
  out[2] = static_cast<uint8_t>((f / 75) % 60);
  out[3] = static_cast<uint8_t>(f % 75);
}

std::vector<uint8_t> FixedSense(uint8_t key, uint8_t asc, uint8_t ascq) {
  std::vector<uint8_t> s(18, 0);
  s[0] = 0x70;  // current error, fixed format
  s[2] = key & 0x0F;
  s[7] = 10;  // additional sense length
  s[12] = asc;
  s[13] = ascq;
  return s;
}

std::optional<std::vector<uint8_t>> Inquiry(const uint8_t* cdb, const DriveIdentity& id) {
  std::vector<uint8_t> v;
  if (cdb[1] & 1) {  // EVPD
    switch (cdb[2]) {
      case 0x00: return std::vector<uint8_t>{0x05, 0x00, 0x00, 2, 0x00, 0x80};
      case 0x80:
        v = {0x05, 0x80, 0x00, 20};
        PutPadded(v, id.serial, 20);
        return v;
      default: return std::nullopt;
    }
  }
  if (cdb[2] != 0) return std::nullopt;
  // CD/DVD device, removable, version 0 (ATAPI; libata reports SPC-3 upward),
  // response data format 2, 31 more bytes.
  v = {0x05, 0x80, 0x00, 0x02, 31, 0, 0, 0};
  PutPadded(v, "BULKHEAD", 8);
  PutPadded(v, id.model, 16);
  PutPadded(v, id.firmware, 4);
  return v;
}

std::optional<std::vector<uint8_t>> ModeSense10(uint8_t page, const DeviceSettings& s) {
  std::vector<uint8_t> v(8, 0);  // header: length, medium type, no block descriptors
  const bool locked = (s.atapi_flags & kMediaLocked) != 0;
  auto error_recovery = [&] { v.insert(v.end(), {0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0}); };
  auto capabilities = [&] {
    // MMC-3 page 2Ah: reads CD-R/RW; mode 2 form 1/2 and multisession; tray
    // with eject and lock (and whether it is locked); speeds in kB/s.
    const uint8_t page2a[22] = {0x2A, 0x14, 0x03, 0x00, 0x70, 0x00,
                                static_cast<uint8_t>(0x29 | (locked ? 0x02 : 0)), 0x00,
                                0x02, 0xC2, 0x00, 0x02, 0x02, 0x00, 0x02, 0xC2,
                                0, 0, 0, 0, 0, 0};
    v.insert(v.end(), page2a, page2a + sizeof page2a);
  };
  switch (page) {
    case 0x01: error_recovery(); break;
    case 0x2A: capabilities(); break;
    case 0x3F: error_recovery(); capabilities(); break;
    default: return std::nullopt;
  }
  SetBe16(v, 0, v.size() - 2);
  return v;
}

std::optional<std::vector<uint8_t>> ReadToc(const uint8_t* cdb, uint64_t sectors) {
  const bool msf = (cdb[1] & 0x02) != 0;
  uint8_t format = cdb[2] & 0x0F;
  if (format == 0 && (cdb[9] >> 6) != 0) format = cdb[9] >> 6;  // SFF-8020 placement
  const uint8_t track = cdb[6];
  std::vector<uint8_t> v = {0, 0, 1, 1};
  switch (format) {
    case 0:
      if (track > 1 && track != 0xAA) return std::nullopt;
      if (track <= 1) {
        v.insert(v.end(), {0, kAdrControlData, 1, 0});
        PutAddress(v, msf, 0);
      }
      v.insert(v.end(), {0, kAdrControlData, 0xAA, 0});
      PutAddress(v, msf, sectors);
      break;
    case 1:  // one session, starting at track 1
      v.insert(v.end(), {0, kAdrControlData, 1, 0});
      PutAddress(v, msf, 0);
      break;
    case 2: {  // raw TOC: points A0 (first track), A1 (last), A2 (lead-out), 1
      uint8_t lo[4];
      PutMsf(lo, sectors);
      const uint8_t points[4][11] = {
          {1, kAdrControlData, 0, 0xA0, 0, 0, 0, 0, 1, 0x00, 0},
          {1, kAdrControlData, 0, 0xA1, 0, 0, 0, 0, 1, 0, 0},
          {1, kAdrControlData, 0, 0xA2, 0, 0, 0, 0, lo[1], lo[2], lo[3]},
          {1, kAdrControlData, 0, 0x01, 0, 0, 0, 0, 0, 2, 0}};
      for (const auto& d : points) v.insert(v.end(), d, d + 11);
      break;
    }
    default: return std::nullopt;
  }
  SetBe16(v, 0, v.size() - 2);
  return v;
}

std::optional<std::vector<uint8_t>> GetConfiguration(const uint8_t* cdb, bool media) {
  const uint8_t rt = cdb[1] & 0x03;
  const uint16_t start = static_cast<uint16_t>((cdb[2] << 8) | cdb[3]);
  if (rt == 3) return std::nullopt;
  const uint8_t cur = media ? 1 : 0;
  struct Feature {
    uint16_t code;
    bool current;
    std::vector<uint8_t> bytes;
  };
  const Feature features[] = {
      {0x0000, true, {0x00, 0x00, 0x03, 4, 0x00, 0x08, cur, 0}},          // profiles: CD-ROM
      {0x0001, true, {0x00, 0x01, 0x0B, 8, 0, 0, 0, 2, 0x01, 0, 0, 0}},  // core: ATAPI
      {0x0002, true, {0x00, 0x02, 0x07, 4, 0x02, 0, 0, 0}},              // morphing
      {0x0003, true, {0x00, 0x03, 0x03, 4, 0x29, 0, 0, 0}},              // removable: tray
      {0x0010, media, {0x00, 0x10, cur, 8, 0, 0, 0x08, 0x00, 0, 1, 0, 0}},  // random readable
      {0x001E, media, {0x00, 0x1E, static_cast<uint8_t>(0x08 | cur), 4, 0, 0, 0, 0}},  // CD read
  };
  std::vector<uint8_t> v = {0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(media ? 0x08 : 0x00)};
  for (const Feature& f : features) {
    const bool take = rt == 2 ? f.code == start : (f.code >= start && (rt == 0 || f.current));
    if (take) v.insert(v.end(), f.bytes.begin(), f.bytes.end());
  }
  const size_t len = v.size() - 4;
  v[0] = static_cast<uint8_t>(len >> 24);
  v[1] = static_cast<uint8_t>(len >> 16);
  SetBe16(v, 2, len & 0xFFFF);
  return v;
}

std::vector<uint8_t> EventStatus(uint8_t request, bool media, bool changed) {
  if (!(request & 0x10)) return {0, 2, 0x80, 0x10};  // no event of a requested class
  // Media class: "new media" once after a load, then "no change"; status
  // bit 1 = media present (bit 0 would be an open tray).
  return {0, 6, 0x04, 0x10, static_cast<uint8_t>(changed && media ? 2 : 0),
          static_cast<uint8_t>(media ? 0x02 : 0x00), 0, 0};
}

}  // namespace bulkhead::ahci
