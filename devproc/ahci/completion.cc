// Running one issued command (on the I/O thread) and completing it (under
// the lock): the FISes the device would send, PxTFD, PxIS, then PxCI or
// PxSACT and the journal, in that order (ahci_state.h explains why).
#include <cstring>

#include "devproc/ahci/hba.h"

namespace bulkhead::ahci {
namespace {

struct HeaderFields {
  bool atapi = false;
  uint32_t prdtl = 0;
  uint64_t ctba = 0;
};

HeaderFields ParseHeader(const uint8_t (&h)[32]) {
  HeaderFields f;
  f.atapi = (h[0] & 0x20) != 0;
  f.prdtl = static_cast<uint32_t>(h[2] | (h[3] << 8));
  std::memcpy(&f.ctba, h + 8, 8);
  f.ctba &= ~uint64_t{0x7F};
  return f;
}

CommandOutcome HostBusError(const DeviceSettings& s) {
  CommandOutcome o = AtaError(Protocol::kNonData, kErrAbrt, s);
  o.host_bus_error = true;
  return o;
}

}  // namespace

void AhciController::Execute(const WorkItem& item) {
  JournalEntry e;
  DeviceSettings settings;
  DeviceKind kind;
  {
    std::lock_guard lock(mu_);
    if (item.port >= abi::ahci::kNumPorts || item.slot >= kNumSlots) return;
    const PortState& p = r_.ports[item.port];
    e = p.journal[item.slot];
    if (e.state != kSlotIssued || e.generation != item.generation ||
        p.generation != item.generation) {
      ++stats_.cancelled;
      return;
    }
    settings = p.dev;
    kind = PortDevice(config_flags_, item.port);
  }

  // From here on no lock: the guest structures are the journal's copies and
  // the device touches only its backend and this command's buffers.
  const HeaderFields h = ParseHeader(e.header);
  const H2dFis fis = DecodeH2d(e.cfis);
  CommandRequest req;
  req.fis = fis;
  std::memcpy(req.acmd, e.acmd, sizeof req.acmd);
  req.tag = item.slot;
  req.ncq = fis.command_update && (fis.command == 0x60 || fis.command == 0x61);
  Prdt prdt;
  req.prdt = &prdt;

  CommandOutcome o;
  if (fis.type != kFisH2d) {
    o = AtaError(Protocol::kNonData, kErrAbrt, settings);  // not a command FIS
  } else if (!fis.command_update) {
    // Device control FIS: software reset. SRST set does nothing visible;
    // SRST cleared makes the device send its signature.
    o = (fis.control & 0x04) ? Good(Protocol::kNonData, settings)
                             : Signature(kind == DeviceKind::kDisk ? kSigDisk : kSigAtapi,
                                         settings);
  } else if (auto t = Prdt::Load(mem_, h.ctba, h.prdtl); !t) {
    o = HostBusError(settings);
  } else {
    prdt = std::move(*t);
    o = kind == DeviceKind::kDisk ? ExecuteAta(disk_, req, settings)
                                  : ExecuteAtapiPort(cdrom_, req, settings);
  }
  const bool prd_interrupt = prdt.InterruptWithin(o.bytes);

  std::lock_guard lock(mu_);
  Complete(item, o, req.ncq, prd_interrupt);
}

void AhciController::Complete(const WorkItem& item, const CommandOutcome& o, bool ncq,
                              bool prd_interrupt) {
  PortState& p = r_.ports[item.port];
  JournalEntry& e = p.journal[item.slot];
  if (e.state != kSlotIssued || p.generation != item.generation) {
    ++stats_.cancelled;  // the port stopped or reset while the command ran
    return;
  }
  const uint32_t bit = 1u << item.slot;
  const uint64_t fb = FisBase(item.port);
  const bool fre = (p.cmd & kCmdFre) != 0;
  TaskFile tf = o.tf;
  uint32_t is = 0;
  if (o.host_bus_error) is |= kIsHbfs;
  if (o.overflow) is |= kIsOfs;
  if (o.failed()) is |= kIsTfes;
  if (prd_interrupt && !o.failed()) is |= kIsDps;
  if (o.settings_changed) p.dev = o.settings;

  bool fis_ok = true;
  if (ncq) {
    if (o.failed()) {
      // The failed tag stays in PxSACT; libata stops the port and reads log
      // page 10h, which names it.
      p.dev.ncq_error_valid = 1;
      p.dev.ncq_error_tag = static_cast<uint8_t>(item.slot);
      p.dev.ncq_error_status = tf.status;
      p.dev.ncq_error_error = tf.error;
      if (fre) fis_ok = static_cast<bool>(WriteSdbFis(mem_, fb, tf.status, tf.error, 0, true));
    } else if (fre) {
      fis_ok = WriteDmaSetupFis(mem_, fb, item.slot, true, static_cast<uint32_t>(o.bytes), false) &&
               WriteSdbFis(mem_, fb, tf.status, 0, bit, true);
    }
    is |= kIsSdbs;
  } else {
    // PRDBC: bytes moved, which libata reads for ATAPI residuals.
    const uint64_t header_gpa = ClBase(item.port) + uint64_t{item.slot} * 32;
    (void)mem_.WriteObj(header_gpa + 4, static_cast<uint32_t>(o.bytes));
    const bool pio = o.protocol == Protocol::kPioIn || o.protocol == Protocol::kPioOut;
    if (pio && !o.failed()) {
      // A PIO data-in command ends with the PIO setup FIS (libahci reads its
      // E_Status); data-out ends with a D2H register FIS as well.
      if (fre) {
        fis_ok = static_cast<bool>(WritePioSetupFis(mem_, fb, tf, tf.status,
                                                    o.protocol == Protocol::kPioIn,
                                                    static_cast<uint16_t>(o.bytes), true));
      }
      is |= kIsPss;
    }
    // ATAPI PIO ends with a D2H register FIS (the status phase); libahci
    // reads a packet command's result from there.
    const bool atapi = PortDevice(config_flags_, item.port) == DeviceKind::kCdrom;
    if (!pio || o.failed() || o.protocol == Protocol::kPioOut || atapi) {
      if (fre) fis_ok = fis_ok && WriteD2hFis(mem_, fb, tf, true);
      is |= kIsDhrs;
    }
  }
  if (!fis_ok) {
    ++stats_.host_bus_errors;
    is |= kIsHbfs | kIsTfes;
  }
  if (o.signature) p.sig = static_cast<uint32_t>(tf.count & 0xFF) | static_cast<uint32_t>(tf.lba << 8);
  ++stats_.commands;
  if (o.failed() || !fis_ok) ++stats_.command_errors;
  if (o.host_bus_error) ++stats_.host_bus_errors;

  p.is |= is;
  p.tfd = (uint32_t{tf.error} << 8) | tf.status;
  if (ncq) {
    if (!o.failed()) p.sact &= ~bit;
  } else {
    p.ci &= ~bit;
  }
  e.state = kSlotFree;
  UpdateIrq((is & p.ie) != 0);
}

}  // namespace bulkhead::ahci
