// The ATA disk behind port 0 (ATA8-ACS): reads and writes through the PRDT
// straight into the image, NCQ, FLUSH, TRIM and the housekeeping commands
// libata sends while probing. Every error is a guest-visible ATA status
// (ABRT or IDNF), never a failure of the process.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "devproc/ahci/command.h"

namespace bulkhead::ahci {
namespace {

constexpr uint64_t kSector = 512;

enum class Op { kRead, kWrite, kVerify };

struct RwCommand {
  Op op;
  bool lba48;
  Protocol protocol;
};

// The read/write family: which op, addressing and protocol.
bool DecodeRw(uint8_t cmd, RwCommand& rw) {
  switch (cmd) {
    case 0x20: case 0x21: case 0xC4: rw = {Op::kRead, false, Protocol::kPioIn}; return true;
    case 0x24: case 0x29: rw = {Op::kRead, true, Protocol::kPioIn}; return true;
    case 0xC8: case 0xC9: rw = {Op::kRead, false, Protocol::kDma}; return true;
    case 0x25: rw = {Op::kRead, true, Protocol::kDma}; return true;
    case 0x30: case 0x31: case 0xC5: rw = {Op::kWrite, false, Protocol::kPioOut}; return true;
    case 0x34: case 0x39: case 0xCE: rw = {Op::kWrite, true, Protocol::kPioOut}; return true;
    case 0xCA: case 0xCB: rw = {Op::kWrite, false, Protocol::kDma}; return true;
    case 0x35: case 0x3D: rw = {Op::kWrite, true, Protocol::kDma}; return true;
    case 0x40: case 0x41: rw = {Op::kVerify, false, Protocol::kNonData}; return true;
    case 0x42: rw = {Op::kVerify, true, Protocol::kNonData}; return true;
    case 0x60: rw = {Op::kRead, true, Protocol::kNcq}; return true;
    case 0x61: rw = {Op::kWrite, true, Protocol::kNcq}; return true;
    default: return false;
  }
}

// The error tf of a failed read/write carries the LBA it failed at.
CommandOutcome RwError(Protocol p, uint8_t error, uint64_t lba, const DeviceSettings& s) {
  CommandOutcome o = AtaError(p, error, s);
  o.tf.lba = lba;
  o.tf.device = 0x40;
  return o;
}

CommandOutcome ReadWrite(const DiskDevice& disk, const CommandRequest& req, RwCommand rw,
                         const DeviceSettings& s) {
  const H2dFis& f = req.fis;
  uint64_t lba = f.lba & 0xFFFFFFFFFFFF;
  uint64_t count;
  if (rw.protocol == Protocol::kNcq) {
    count = f.features == 0 ? 65536 : f.features;
  } else if (rw.lba48) {
    count = f.count == 0 ? 65536 : f.count;
  } else {
    // LBA28: bits 27:24 live in the device register, the count is 8 bits.
    lba = (f.lba & 0xFFFFFF) | (uint64_t{f.device & 0x0Fu} << 24);
    count = (f.count & 0xFF) == 0 ? 256 : (f.count & 0xFF);
  }
  const uint64_t sectors = disk.backend->size() / kSector;
  if (lba > sectors || count > sectors - lba) return RwError(rw.protocol, kErrIdnf, lba, s);
  if (rw.op == Op::kVerify) return Good(rw.protocol, s);
  if (rw.op == Op::kWrite && disk.backend->read_only()) {
    return RwError(rw.protocol, kErrAbrt, lba, s);
  }
  const uint64_t bytes = count * kSector;
  if (req.prdt->total() < bytes) {
    CommandOutcome o = RwError(rw.protocol, kErrAbrt, lba, s);
    o.overflow = true;
    return o;
  }
  Status st = rw.op == Op::kRead
                  ? disk.backend->ReadV(req.prdt->Iovecs(bytes), lba * kSector, bytes)
                  : disk.backend->WriteV(req.prdt->Iovecs(bytes), lba * kSector, bytes);
  if (!st) {
    // The guest sees a media error; the operator needs the host's reason.
    static std::atomic<uint64_t> logged{0};
    if (logged.fetch_add(1, std::memory_order_relaxed) < 16) {
      spdlog::error("ahci: disk {} failed at LBA {}: {}", rw.op == Op::kRead ? "read" : "write", lba,
                    st.error().message);
    }
    return RwError(rw.protocol, 0x40 /* UNC */, lba, s);
  }
  CommandOutcome o = Good(rw.protocol, s);
  o.bytes = bytes;
  return o;
}

// DATA SET MANAGEMENT with the TRIM bit: `count` 512-byte blocks of 64
// entries, each LBA (47:0) + sector count (63:48); a count of 0 is unused.
CommandOutcome Trim(const DiskDevice& disk, const CommandRequest& req, const DeviceSettings& s) {
  const H2dFis& f = req.fis;
  const BlockBackend& b = *disk.backend;
  if (!(f.features & 1) || !b.can_punch() || b.read_only()) return AtaError(Protocol::kDma, kErrAbrt, s);
  const uint64_t blocks = f.count;
  if (blocks == 0 || blocks > 8) return AtaError(Protocol::kDma, kErrAbrt, s);
  std::vector<uint8_t> ranges(blocks * kSector);
  if (req.prdt->CopyFromGuest(ranges) < ranges.size()) {
    CommandOutcome o = AtaError(Protocol::kDma, kErrAbrt, s);
    o.overflow = true;
    return o;
  }
  const uint64_t sectors = b.size() / kSector;
  // Validate all first: a bad range fails the command without punching any.
  for (size_t i = 0; i < ranges.size(); i += 8) {
    uint64_t e;
    std::memcpy(&e, &ranges[i], 8);
    const uint64_t lba = e & 0xFFFFFFFFFFFF, n = e >> 48;
    if (n != 0 && (lba > sectors || n > sectors - lba)) return RwError(Protocol::kDma, kErrIdnf, lba, s);
  }
  for (size_t i = 0; i < ranges.size(); i += 8) {
    uint64_t e;
    std::memcpy(&e, &ranges[i], 8);
    const uint64_t lba = e & 0xFFFFFFFFFFFF, n = e >> 48;
    if (n == 0) continue;
    if (!b.Punch(lba * kSector, n * kSector)) return RwError(Protocol::kDma, kErrAbrt, lba, s);
  }
  CommandOutcome o = Good(Protocol::kDma, s);
  o.bytes = ranges.size();
  return o;
}

CommandOutcome SetFeatures(const H2dFis& f, DeviceSettings s) {
  switch (f.features & 0xFF) {
    case 0x02: s.write_cache = 1; break;
    case 0x82: s.write_cache = 0; break;
    case 0x03: {  // transfer mode: PIO (08h-0Ch), MWDMA (20h-22h), UDMA (40h-45h)
      const uint8_t m = static_cast<uint8_t>(f.count);
      const bool ok = m <= 0x01 || (m >= 0x08 && m <= 0x0C) || (m >= 0x20 && m <= 0x22) ||
                      (m >= 0x40 && m <= 0x45);
      if (!ok) return AtaError(Protocol::kNonData, kErrAbrt, s);
      if (m >= 0x20) s.xfer_mode = m;
      break;
    }
    case 0xAA: case 0x55: case 0x66: case 0xCC: break;  // look-ahead, defaults: no state
    default: return AtaError(Protocol::kNonData, kErrAbrt, s);
  }
  CommandOutcome o = Good(Protocol::kNonData, s);
  o.settings_changed = true;
  return o;
}

// READ LOG EXT / READ LOG DMA EXT: the log directory (00h), which libata
// reads to learn which logs exist before it asks for any (it lists only
// 10h), and log 10h (NCQ command error), which libata reads after an NCQ
// command failed. Other logs, and other pages, are ABRT.
CommandOutcome ReadLog(const CommandRequest& req, DeviceSettings s, Protocol p) {
  const uint8_t log = static_cast<uint8_t>(req.fis.lba);
  const uint16_t page_number = static_cast<uint16_t>(req.fis.lba >> 8);
  if ((log != 0x10 && log != 0x00) || req.fis.count != 1 || page_number != 0) {
    return AtaError(p, kErrAbrt, s);
  }
  uint8_t page[512] = {};
  if (log == 0x00) {
    page[0] = 0x01;         // directory version 1
    page[2 * 0x10] = 0x01;  // log 10h: one page
    CommandOutcome o = Good(p, s);
    o.bytes = req.prdt->CopyToGuest(page);
    return o;
  }
  if (s.ncq_error_valid) {
    page[0] = s.ncq_error_tag & 0x1F;
    page[2] = s.ncq_error_status;
    page[3] = s.ncq_error_error;
  } else {
    page[0] = 0x80;  // NQ: the error was not an NCQ command's
  }
  uint8_t sum = 0;
  for (size_t i = 0; i < 511; ++i) sum = static_cast<uint8_t>(sum + page[i]);
  page[511] = static_cast<uint8_t>(-sum);
  s.ncq_error_valid = 0;  // reading the log clears the error (SATA 3.x §13.7.4)
  CommandOutcome o = Good(p, s);
  o.settings_changed = true;
  o.bytes = req.prdt->CopyToGuest(page);
  return o;
}

}  // namespace

CommandOutcome ExecuteAta(const DiskDevice& disk, const CommandRequest& req,
                          const DeviceSettings& s) {
  const H2dFis& f = req.fis;
  RwCommand rw{};
  if (DecodeRw(f.command, rw)) return ReadWrite(disk, req, rw, s);
  switch (f.command) {
    case 0xEC: {  // IDENTIFY DEVICE
      const DiskGeometry geo{disk.backend->size() / kSector, disk.backend->can_punch() &&
                                                                 !disk.backend->read_only()};
      const auto bytes = IdentifyBytes(AtaIdentify(disk.identity, geo, s));
      CommandOutcome o = Good(Protocol::kPioIn, s);
      o.bytes = req.prdt->CopyToGuest(bytes);
      return o;
    }
    case 0xE7: case 0xEA:  // FLUSH CACHE (EXT)
      if (!disk.backend->Flush()) return AtaError(Protocol::kNonData, kErrAbrt, s);
      return Good(Protocol::kNonData, s);
    case 0xEF: return SetFeatures(f, s);
    case 0xC6: {  // SET MULTIPLE MODE: 0 or a power of two up to word 47's 16
      const uint32_t n = f.count & 0xFF;
      if (n > 16 || (n & (n - 1)) != 0) return AtaError(Protocol::kNonData, kErrAbrt, s);
      DeviceSettings next = s;
      next.multiple = n;
      CommandOutcome o = Good(Protocol::kNonData, next);
      o.settings_changed = true;
      return o;
    }
    case 0x06: return Trim(disk, req, s);
    case 0xE5: case 0x98: {  // CHECK POWER MODE: always active or idle
      CommandOutcome o = Good(Protocol::kNonData, s);
      o.tf.count = 0xFF;
      return o;
    }
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0x94: case 0x95: case 0x96: case 0x97:
      return Good(Protocol::kNonData, s);  // STANDBY / IDLE: nothing spins here
    case 0x2F: return ReadLog(req, s, Protocol::kPioIn);
    case 0x47: return ReadLog(req, s, Protocol::kDma);
    case 0x91:  // INITIALIZE DEVICE PARAMETERS: CHS translation, harmless
      return Good(Protocol::kNonData, s);
    default:  // NOP, PACKET, IDENTIFY PACKET DEVICE, DEVICE RESET and the unknown
      return AtaError(Protocol::kNonData, kErrAbrt, s);
  }
}

}  // namespace bulkhead::ahci
