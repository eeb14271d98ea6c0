// AhciStateRegion: every piece of the controller's architectural state, as a
// fixed-layout struct in the state region memfd the core created and keeps.
// A bulkhead-ahci process is a worker over it: killed at any instruction, its
// successor attaches to the same region and carries on.
//
// Three parts:
//  * registers: the generic host control and the two ports' registers, plus
//    what the devices behind them remember (write cache, ATAPI sense, tray);
//  * the in-flight journal: per port and command slot, the command header and
//    command FIS copied from guest memory when the guest issued the slot. A
//    slot is in flight while its journal entry says kIssued AND its bit is
//    still set in PxCI or PxSACT. A successor re-executes every such slot
//    (Recover in hba.h). That is exact because every command the model runs
//    can run twice: READ/WRITE put the same bytes at the same LBAs, FLUSH
//    flushes again, TRIM punches the same holes again, IDENTIFY and the
//    ATAPI queries answer the same. Completion sets PxIS first and clears
//    CI/SACT and the entry last, so a crash in between re-executes (harmless)
//    rather than losing the completion;
//  * one record per exit ring: the id of the last register write applied and
//    its reply. The ring is at-least-once; a write replayed after a crash is
//    answered from the record, not applied again (a replayed PxCI write would
//    re-issue a slot that already completed). The record is written at the
//    end of the same critical section as the write's effect, and no other
//    thread can change the registers in between, so "recorded" means
//    "applied" and "not recorded" means "apply again" (the effects of a
//    register write are idempotent when nothing ran in between).
//
// Only one process uses the region at a time and one mutex in that process
// orders its threads, so the fields are plain integers. A successor validates
// what it cannot trust (ValidateAhciState): the region is the core's memory,
// but the dead process may have been compromised by the guest.
#pragma once

#include <cstdint>
#include <type_traits>

#include "devproc/ahci/ahci_regs.h"
#include "ipc/device_abi/ahci.h"

namespace bulkhead::ahci {

inline constexpr uint32_t kStateMagic = 0x49434841;  // "AHCI"
inline constexpr uint32_t kStateVersion = 1;
inline constexpr uint32_t kMaxRings = 256;  // exit rings (vCPUs) the region has records for

enum JournalState : uint32_t { kSlotFree = 0, kSlotIssued = 1 };

struct JournalEntry {
  uint32_t state;       // JournalState
  uint32_t generation;  // PortState::generation when issued; older entries are void
  uint8_t header[32];   // command header (§4.2.2), as read from the command list
  uint8_t cfis[20];     // the H2D register FIS at the start of the command table
  uint8_t acmd[16];     // the ATAPI command, for PACKET
  uint32_t reserved;
};
static_assert(sizeof(JournalEntry) == 80);

// ATAPI media state bits (PortState::atapi_flags).
inline constexpr uint32_t kMediaPresent = 1u << 0;
inline constexpr uint32_t kMediaLocked = 1u << 1;
inline constexpr uint32_t kMediaChanged = 1u << 2;  // GESN reports "new media" once

struct DeviceSettings {
  uint32_t write_cache;  // SET FEATURES 02h / 82h
  uint32_t multiple;     // SET MULTIPLE MODE sectors per block (0: off)
  uint32_t xfer_mode;    // SET FEATURES 03h value
  uint32_t atapi_flags;
  uint8_t sense_key, asc, ascq, pad;
  // READ LOG EXT page 10h: the NCQ command that failed.
  uint32_t ncq_error_valid;
  uint8_t ncq_error_tag, ncq_error_status, ncq_error_error, pad2;
};

struct PortState {
  uint32_t clb, clbu, fb, fbu, is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci, sntf;
  uint32_t generation;  // bumped whenever in-flight commands are cancelled
  DeviceSettings dev;
  JournalEntry journal[kNumSlots];
};

struct RingRecord {
  uint64_t applied_id;  // (seq + 1) of the last write applied; 0: none
  uint64_t reply;
};

struct AhciStateRegion {
  uint32_t magic;
  uint32_t version;
  uint32_t size;
  uint32_t config_flags;  // AhciConfigBlob::flags the region was formatted for
  uint32_t ghc;
  uint32_t irq_asserted;  // the line was last raised and not yet seen low
  uint64_t reserved;
  PortState ports[abi::ahci::kNumPorts];
  RingRecord rings[kMaxRings];
};
static_assert(std::is_standard_layout_v<AhciStateRegion>);
static_assert(std::is_trivially_copyable_v<AhciStateRegion>);

// Power-on state of one port for the device behind it (or none).
enum class DeviceKind : uint8_t { kNone, kDisk, kCdrom };
void ResetPort(PortState& port, DeviceKind kind);
// Power-on state of the whole HBA (journal emptied, ring records kept: they
// belong to the rings, not to the controller).
void ResetHba(AhciStateRegion& region, uint32_t config_flags);

// Formats a blank or foreign region; otherwise validates the one a previous
// process left. Returns true when the region was reformatted.
[[nodiscard]] bool AttachAhciState(AhciStateRegion& region, uint32_t config_flags);

[[nodiscard]] inline DeviceKind PortDevice(uint32_t config_flags, uint32_t port) {
  if (port == 0 && (config_flags & abi::ahci::kHasDisk)) return DeviceKind::kDisk;
  if (port == 1 && (config_flags & abi::ahci::kHasCdrom)) return DeviceKind::kCdrom;
  return DeviceKind::kNone;
}

}  // namespace bulkhead::ahci
