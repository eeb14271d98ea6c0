// The data blocks of the ATAPI CD-ROM's SCSI/MMC answers (SPC-4, MMC-6):
// sense data, INQUIRY, MODE SENSE pages, the TOC in its three formats, GET
// CONFIGURATION features and media events. Pure functions of the CDB and the
// medium, so they are tested byte by byte (atapi_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "devproc/ahci/ahci_state.h"
#include "devproc/ahci/identify.h"

namespace bulkhead::ahci {

inline constexpr uint8_t kSenseNone = 0x0;
inline constexpr uint8_t kSenseNotReady = 0x2;
inline constexpr uint8_t kSenseMediumError = 0x3;
inline constexpr uint8_t kSenseIllegalRequest = 0x5;
inline constexpr uint8_t kSenseUnitAttention = 0x6;

inline constexpr uint8_t kAscUnrecoveredReadError = 0x11;
inline constexpr uint8_t kAscInvalidOpcode = 0x20;
inline constexpr uint8_t kAscLbaOutOfRange = 0x21;
inline constexpr uint8_t kAscInvalidFieldInCdb = 0x24;
inline constexpr uint8_t kAscSavingNotSupported = 0x39;
inline constexpr uint8_t kAscMediumNotPresent = 0x3A;
inline constexpr uint8_t kAscMediumRemovalPrevented = 0x53;

// Fixed-format sense data (response code 70h), 18 bytes.
[[nodiscard]] std::vector<uint8_t> FixedSense(uint8_t key, uint8_t asc, uint8_t ascq);
// INQUIRY: standard data, or the VPD pages 00h and 80h; nullopt for a bad CDB.
[[nodiscard]] std::optional<std::vector<uint8_t>> Inquiry(const uint8_t* cdb,
                                                          const DriveIdentity& id);
// MODE SENSE(10) of page 01h, 2Ah or 3Fh (all), current values.
[[nodiscard]] std::optional<std::vector<uint8_t>> ModeSense10(uint8_t page,
                                                              const DeviceSettings& s);
// READ TOC formats 0 (TOC), 1 (session info), 2 (raw TOC) of a one-track
// data disc with `sectors` 2048-byte sectors.
[[nodiscard]] std::optional<std::vector<uint8_t>> ReadToc(const uint8_t* cdb, uint64_t sectors);
// GET CONFIGURATION: profile list (CD-ROM), core, morphing, removable medium,
// random readable, CD read, honouring RT and the starting feature.
[[nodiscard]] std::optional<std::vector<uint8_t>> GetConfiguration(const uint8_t* cdb,
                                                                   bool media);
// GET EVENT STATUS NOTIFICATION (polled) for the classes in `request`.
[[nodiscard]] std::vector<uint8_t> EventStatus(uint8_t request, bool media, bool changed);

// LBA to the MSF address of MMC (LBA 0 = 00:02:00).
void PutMsf(uint8_t* out, uint64_t lba);

}  // namespace bulkhead::ahci
