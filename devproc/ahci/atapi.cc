// The ATAPI CD-ROM behind port 1: the ATA commands an ATAPI device answers
// (IDENTIFY PACKET DEVICE, DEVICE RESET, SET FEATURES, ...) and the SCSI/MMC
// commands that travel in PACKET, as Linux's libata and sr send them while
// probing (INQUIRY, TEST UNIT READY, READ CAPACITY, MODE SENSE(10) page 2Ah,
// GET CONFIGURATION, GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION)
// and mounting (READ TOC formats 0/1/2, READ(10)). Anything else ends in
// CHECK CONDITION with ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, which
// sr takes in stride.
//
// A CHECK CONDITION is status ERR with the sense key in the error register's
// high nibble (how ATAPI reports it); libata then asks REQUEST SENSE.
#include <algorithm>
#include <vector>

#include "devproc/ahci/atapi_pages.h"
#include "devproc/ahci/command.h"

namespace bulkhead::ahci {
namespace {

constexpr uint64_t kCdSector = 2048;

struct Packet {
  const CommandRequest& req;
  const CdromDevice& cd;
  DeviceSettings s;
  Protocol data_protocol;  // DMA or PIO, as the FEATURES DMA bit asked
};

CommandOutcome CheckCondition(Packet& p, uint8_t key, uint8_t asc, uint8_t ascq) {
  p.s.sense_key = key;
  p.s.asc = asc;
  p.s.ascq = ascq;
  CommandOutcome o = AtaError(Protocol::kNonData, static_cast<uint8_t>(key << 4), p.s);
  o.tf.count = 0x03;  // interrupt reason: I/O, C/D (status phase)
  o.settings_changed = true;
  return o;
}

CommandOutcome Success(Packet& p) {
  p.s.sense_key = p.s.asc = p.s.ascq = 0;
  CommandOutcome o = Good(Protocol::kNonData, p.s);
  o.tf.count = 0x03;
  o.settings_changed = true;
  return o;
}

// Sends `data`, cut to the CDB's allocation length, through the PRDT.
CommandOutcome DataIn(Packet& p, std::vector<uint8_t> data, uint32_t alloc) {
  if (data.size() > alloc) data.resize(alloc);
  CommandOutcome o = Success(p);
  if (!data.empty()) {
    o.protocol = p.data_protocol;
    o.bytes = p.req.prdt->CopyToGuest(data);
  }
  return o;
}

uint16_t Be16(const uint8_t* b) { return static_cast<uint16_t>((b[0] << 8) | b[1]); }
uint32_t Be32(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

uint64_t CdSectors(const CdromDevice& cd) {
  return (cd.backend->size() + kCdSector - 1) / kCdSector;
}

bool MediaPresent(const Packet& p) {
  return p.cd.backend != nullptr && (p.s.atapi_flags & kMediaPresent) != 0;
}

CommandOutcome Read(Packet& p, uint64_t lba, uint64_t count) {
  if (!MediaPresent(p)) return CheckCondition(p, kSenseNotReady, kAscMediumNotPresent, 0);
  const uint64_t sectors = CdSectors(p.cd);
  if (lba > sectors || count > sectors - lba) {
    return CheckCondition(p, kSenseIllegalRequest, kAscLbaOutOfRange, 0);
  }
  if (count == 0) return Success(p);
  const uint64_t bytes = count * kCdSector;
  if (p.req.prdt->total() < bytes) {
    CommandOutcome o = CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
    o.overflow = true;
    return o;
  }
  if (!p.cd.backend->ReadV(p.req.prdt->Iovecs(bytes), lba * kCdSector, bytes)) {
    return CheckCondition(p, kSenseMediumError, kAscUnrecoveredReadError, 0);
  }
  CommandOutcome o = Success(p);
  o.protocol = p.data_protocol;
  o.bytes = bytes;
  return o;
}

CommandOutcome StartStop(Packet& p) {
  const uint8_t* c = p.req.acmd;
  const bool loej = (c[4] & 2) != 0, start = (c[4] & 1) != 0;
  if (loej && !start) {  // eject
    if (p.s.atapi_flags & kMediaLocked) {
      return CheckCondition(p, kSenseIllegalRequest, kAscMediumRemovalPrevented, 0x02);
    }
    p.s.atapi_flags &= ~kMediaPresent;
  } else if (loej && start && p.cd.backend != nullptr) {  // load: the same image again
    if (!(p.s.atapi_flags & kMediaPresent)) p.s.atapi_flags |= kMediaPresent | kMediaChanged;
  }
  return Success(p);
}

CommandOutcome RunPacket(Packet& p) {
  const uint8_t* c = p.req.acmd;
  const uint8_t op = c[0];
  // REQUEST SENSE reports the previous command's sense; every other command
  // starts with a clean one.
  if (op == 0x03) {
    const std::vector<uint8_t> sense = FixedSense(p.s.sense_key, p.s.asc, p.s.ascq);
    return DataIn(p, sense, c[4]);
  }
  switch (op) {
    case 0x00:  // TEST UNIT READY
      if (!MediaPresent(p)) return CheckCondition(p, kSenseNotReady, kAscMediumNotPresent, 0);
      return Success(p);
    case 0x12: {  // INQUIRY
      auto data = Inquiry(c, p.cd.identity);
      if (!data) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      return DataIn(p, std::move(*data), Be16(c + 3));
    }
    case 0x25: {  // READ CAPACITY(10)
      if (!MediaPresent(p)) return CheckCondition(p, kSenseNotReady, kAscMediumNotPresent, 0);
      const uint64_t last = CdSectors(p.cd) == 0 ? 0 : CdSectors(p.cd) - 1;
      const auto l = static_cast<uint32_t>(std::min<uint64_t>(last, 0xFFFFFFFF));
      return DataIn(p, {static_cast<uint8_t>(l >> 24), static_cast<uint8_t>(l >> 16),
                        static_cast<uint8_t>(l >> 8), static_cast<uint8_t>(l), 0, 0, 0x08, 0},
                    8);
    }
    case 0x28: return Read(p, Be32(c + 2), Be16(c + 7));  // READ(10)
    case 0xA8: return Read(p, Be32(c + 2), Be32(c + 6));  // READ(12)
    case 0x5A: {  // MODE SENSE(10)
      if ((c[2] >> 6) == 3) return CheckCondition(p, kSenseIllegalRequest, kAscSavingNotSupported, 0);
      auto data = ModeSense10(c[2] & 0x3F, p.s);
      if (!data) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      return DataIn(p, std::move(*data), Be16(c + 7));
    }
    case 0x43: {  // READ TOC/PMA/ATIP
      if (!MediaPresent(p)) return CheckCondition(p, kSenseNotReady, kAscMediumNotPresent, 0);
      auto data = ReadToc(c, CdSectors(p.cd));
      if (!data) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      return DataIn(p, std::move(*data), Be16(c + 7));
    }
    case 0x46: {  // GET CONFIGURATION
      auto data = GetConfiguration(c, MediaPresent(p));
      if (!data) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      return DataIn(p, std::move(*data), Be16(c + 7));
    }
    case 0x4A: {  // GET EVENT STATUS NOTIFICATION (polled only)
      if (!(c[1] & 1)) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      const bool changed = (p.s.atapi_flags & kMediaChanged) != 0;
      auto data = EventStatus(c[4], MediaPresent(p), changed);
      if (changed && (c[4] & 0x10)) p.s.atapi_flags &= ~kMediaChanged;
      return DataIn(p, std::move(data), Be16(c + 7));
    }
    case 0x1B: return StartStop(p);
    case 0x1E:  // PREVENT ALLOW MEDIUM REMOVAL
      if (c[4] & 1) {
        p.s.atapi_flags |= kMediaLocked;
      } else {
        p.s.atapi_flags &= ~kMediaLocked;
      }
      return Success(p);
    case 0xBD:  // MECHANISM STATUS: no changer, idle, door closed
      return DataIn(p, {0, 0, 0, 0, 0, 0, 0, 0}, Be16(c + 8));
    case 0x51: {  // READ DISC INFORMATION: a finalized single-session CD-ROM
      if (!MediaPresent(p)) return CheckCondition(p, kSenseNotReady, kAscMediumNotPresent, 0);
      if (c[1] & 0x07) return CheckCondition(p, kSenseIllegalRequest, kAscInvalidFieldInCdb, 0);
      std::vector<uint8_t> d(34, 0);
      d[1] = 32;    // length
      d[2] = 0x0E;  // last session complete, disc complete, not erasable
      d[3] = d[4] = d[5] = d[6] = 1;  // first track, sessions, first/last track of it
      d[7] = 0x20;  // unrestricted use
      for (int i = 16; i < 24; ++i) d[static_cast<size_t>(i)] = 0xFF;  // no next session
      return DataIn(p, std::move(d), Be16(c + 7));
    }
    case 0xBB:  // SET CD SPEED: accepted, nothing to change
      return Success(p);
    default:
      return CheckCondition(p, kSenseIllegalRequest, kAscInvalidOpcode, 0);
  }
}

}  // namespace

CommandOutcome ExecuteAtapiPort(const CdromDevice& cd, const CommandRequest& req,
                                const DeviceSettings& s) {
  const H2dFis& f = req.fis;
  switch (f.command) {
    case 0xA0: {  // PACKET
      struct Packet p{req, cd, s, (f.features & 1) ? Protocol::kDma : Protocol::kPioIn};
      return RunPacket(p);
    }
    case 0xA1: {  // IDENTIFY PACKET DEVICE
      const auto bytes = IdentifyBytes(AtapiIdentify(cd.identity, s));
      CommandOutcome o = Good(Protocol::kPioIn, s);
      o.bytes = req.prdt->CopyToGuest(bytes);
      return o;
    }
    case 0x08:  // DEVICE RESET
      return Signature(kSigAtapi, s);
    case 0xEF: {  // SET FEATURES: the transfer mode, the rest is accepted
      DeviceSettings next = s;
      if ((f.features & 0xFF) == 0x03 && (f.count & 0xFF) >= 0x20) next.xfer_mode = f.count & 0xFF;
      CommandOutcome o = Good(Protocol::kNonData, next);
      o.settings_changed = true;
      return o;
    }
    case 0xE5: case 0x98: {
      CommandOutcome o = Good(Protocol::kNonData, s);
      o.tf.count = 0xFF;
      return o;
    }
    case 0xE0: case 0xE1: case 0xE2: case 0xE3:
      return Good(Protocol::kNonData, s);
    default: {
      // IDENTIFY DEVICE and every other ATA command: aborted, with the ATAPI
      // signature in the task file (how a driver tells a packet device).
      CommandOutcome o = AtaError(Protocol::kNonData, kErrAbrt, s);
      o.tf.count = 0x01;
      o.tf.lba = 0xEB1401;
      return o;
    }
  }
}

}  // namespace bulkhead::ahci
