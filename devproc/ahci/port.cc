// One port's registers (AHCI §3.3): the command list and FIS area bases,
// PxCMD's start/stop handshakes, COMRESET through PxSCTL.DET, the
// write-1-to-clear status registers, and issuing commands through PxCI.
#include <cstring>

#include "devproc/ahci/hba.h"

namespace bulkhead::ahci {
namespace {

constexpr uint32_t kIeWritable = 0xFDC000FF;

bool IsNcq(uint8_t command) { return command == 0x60 || command == 0x61; }

}  // namespace

uint64_t AhciController::FisBase(uint32_t port) const {
  return (uint64_t{r_.ports[port].fbu} << 32) | r_.ports[port].fb;
}

uint64_t AhciController::ClBase(uint32_t port) const {
  return (uint64_t{r_.ports[port].clbu} << 32) | r_.ports[port].clb;
}

uint32_t AhciController::ReadPort(uint32_t port, uint32_t reg) const {
  const PortState& p = r_.ports[port];
  switch (reg) {
    case kPxClb: return p.clb;
    case kPxClbu: return p.clbu;
    case kPxFb: return p.fb;
    case kPxFbu: return p.fbu;
    case kPxIs: return p.is;
    case kPxIe: return p.ie;
    case kPxCmd: {
      // CR follows ST and FR follows FRE: the model starts and stops at once.
      uint32_t cmd = (p.cmd & kCmdStored) | kCmdSud | kCmdPod;
      if (cmd & kCmdSt) cmd |= kCmdCr;
      if (cmd & kCmdFre) cmd |= kCmdFr;
      return cmd;
    }
    case kPxTfd: return p.tfd;
    case kPxSig: return p.sig;
    case kPxSsts: return p.ssts;
    case kPxSctl: return p.sctl;
    case kPxSerr: return p.serr;
    case kPxSact: return p.sact;
    case kPxCi: return p.ci;
    case kPxSntf: return p.sntf;
    default: return 0;  // FBS, DEVSLP, reserved and vendor registers
  }
}

void AhciController::WritePort(uint32_t port, uint32_t reg, uint32_t value) {
  PortState& p = r_.ports[port];
  switch (reg) {
    case kPxClb: p.clb = value & ~0x3FFu; return;  // 1 KiB aligned
    case kPxClbu: p.clbu = value; return;
    case kPxFb: p.fb = value & ~0xFFu; return;  // 256-byte aligned
    case kPxFbu: p.fbu = value; return;
    case kPxIs:
      p.is &= ~(value & kIsWritable);
      UpdateIrq(false);
      return;
    case kPxIe: {
      const uint32_t newly = value & kIeWritable & ~p.ie;
      p.ie = value & kIeWritable;
      UpdateIrq((newly & p.is) != 0);
      return;
    }
    case kPxCmd: WritePortCmd(port, value); return;
    case kPxSctl: WritePortSctl(port, value); return;
    case kPxSerr: p.serr &= ~value; return;
    case kPxSntf: p.sntf &= ~value; return;
    case kPxSact:
      // Software sets bits (one per NCQ tag) before issuing; the device
      // clears them. Only while the port runs.
      if (p.cmd & kCmdSt) p.sact |= value;
      return;
    case kPxCi: Issue(port, value); return;
    case kPxFbs: case kPxDevslp: return;  // not implemented: reads 0
    default:
      ++stats_.bad_accesses;  // TFD, SIG, SSTS are read-only; the rest reserved
      return;
  }
}

void AhciController::WritePortCmd(uint32_t port, uint32_t value) {
  PortState& p = r_.ports[port];
  const uint32_t old = p.cmd;
  if ((old & kCmdSt) && !(value & kCmdSt)) {
    // Stopping the engine clears PxCI and PxSACT (§3.3.7): whatever is in
    // flight is void; the I/O thread drops its completion.
    CancelPort(port);
  }
  if (value & kCmdClo) p.tfd &= ~uint32_t{kStsBsy | kStsDrq};  // command list override
  // ICC (31:28) is a request, not state: an active request reads back 0.
  p.cmd = (value & kCmdStored & ~0xF0000000u) | kCmdSud | kCmdPod;
}

void AhciController::WritePortSctl(uint32_t port, uint32_t value) {
  PortState& p = r_.ports[port];
  const uint32_t old_det = p.sctl & 0xF;
  const uint32_t det = value & 0xF;
  p.sctl = value;
  const bool present = PortDevice(config_flags_, port) != DeviceKind::kNone;
  if (det == 1) {
    // COMRESET asserted: the link is down, the device resets.
    CancelPort(port);
    p.ssts = present ? 0x1 : 0;
    p.tfd = present ? uint32_t{kStsBsy} : 0x7F;
  } else if (det == 0 && old_det == 1) {
    // COMRESET released: the link comes up and the device sends its
    // signature in a D2H register FIS.
    p.ssts = present ? kSstsPresent : 0;
    if (present) {
      const uint32_t flags = p.dev.atapi_flags & (kMediaPresent | kMediaChanged);
      p.dev = DeviceSettings{};
      p.dev.write_cache = 1;
      p.dev.atapi_flags = flags;  // a reset does not take the disc out
      SendSignature(port);
    }
  } else if (det == 4) {
    CancelPort(port);
    p.ssts = present ? 0x4 : 0;  // phy offline
  }
}

void AhciController::SendSignature(uint32_t port) {
  PortState& p = r_.ports[port];
  const DeviceKind kind = PortDevice(config_flags_, port);
  if (kind == DeviceKind::kNone) return;
  const CommandOutcome o = Signature(kind == DeviceKind::kDisk ? kSigDisk : kSigAtapi, p.dev);
  p.sig = kind == DeviceKind::kDisk ? kSigDisk : kSigAtapi;
  p.tfd = (uint32_t{o.tf.error} << 8) | o.tf.status;
  if (p.cmd & kCmdFre) {
    if (!WriteD2hFis(mem_, FisBase(port), o.tf, false)) {
      ++stats_.host_bus_errors;
      p.is |= kIsHbfs;
      UpdateIrq(true);
    }
  }
}

void AhciController::CancelPort(uint32_t port) {
  PortState& p = r_.ports[port];
  p.ci = 0;
  p.sact = 0;
  ++p.generation;
  for (JournalEntry& e : p.journal) e.state = kSlotFree;
}

void AhciController::FailSlot(uint32_t port, uint32_t slot, uint32_t is_bits) {
  PortState& p = r_.ports[port];
  ++stats_.host_bus_errors;
  ++stats_.command_errors;
  p.is |= is_bits;
  p.tfd = (uint32_t{kErrAbrt} << 8) | kStsDrdy | kStsErr;
  p.ci &= ~(1u << slot);
  p.sact &= ~(1u << slot);
  p.journal[slot].state = kSlotFree;
  UpdateIrq((is_bits & p.ie) != 0);
}

void AhciController::Issue(uint32_t port, uint32_t bits) {
  PortState& p = r_.ports[port];
  if (!(p.cmd & kCmdSt) || PortDevice(config_flags_, port) == DeviceKind::kNone) {
    ++stats_.bad_accesses;  // issuing on a stopped or empty port: ignored
    return;
  }
  const uint32_t fresh = bits & ~p.ci;
  bool queued = false;
  for (uint32_t slot = 0; slot < kNumSlots; ++slot) {
    if (!(fresh >> slot & 1)) continue;
    p.ci |= 1u << slot;
    JournalEntry e{};
    e.state = kSlotIssued;
    e.generation = p.generation;
    // One copy of each guest structure, taken now: the guest may rewrite its
    // memory later, the command runs on what it issued.
    const uint64_t header_gpa = ClBase(port) + uint64_t{slot} * sizeof e.header;
    if (!mem_.Read(header_gpa, e.header)) {
      FailSlot(port, slot, kIsHbfs | kIsTfes);
      continue;
    }
    uint64_t ctba;
    std::memcpy(&ctba, e.header + 8, 8);
    ctba &= ~uint64_t{0x7F};
    const bool atapi = (e.header[0] & 0x20) != 0;
    if (!mem_.Read(ctba, e.cfis) || (atapi && !mem_.Read(ctba + 0x40, e.acmd))) {
      FailSlot(port, slot, kIsHbfs | kIsTfes);
      continue;
    }
    p.journal[slot] = e;
    // A queued command is accepted at once (the device's D2H FIS clears BSY
    // and the HBA clears the CI bit); it completes through PxSACT.
    if (e.cfis[0] == kFisH2d && IsNcq(e.cfis[2])) {
      p.ci &= ~(1u << slot);
      p.sact |= 1u << slot;  // a driver that forgot PxSACT still gets its SDB
    }
    queue_.push_back({port, slot, e.generation});
    queued = true;
  }
  if (queued) cv_.notify_one();
}

}  // namespace bulkhead::ahci
