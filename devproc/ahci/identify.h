// IDENTIFY DEVICE (ATA8-ACS §7.16) and IDENTIFY PACKET DEVICE (§7.17) data:
// the 256 words a driver configures the device from. Linux's libata reads
// LBA48 and the sector count (words 60-61, 83, 100-103), NCQ and its depth
// (76, 75), write cache (82, 85), FLUSH CACHE EXT (83), DSM TRIM (169, with
// the major version in word 80 >= ATA8), DMA modes (63, 88) and the
// checksum (255); for ATAPI the packet size and DRQ type in word 0.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "devproc/ahci/ahci_state.h"

namespace bulkhead::ahci {

using IdentifyData = std::array<uint16_t, 256>;

struct DriveIdentity {
  std::string serial;    // 20 characters at most, space padded
  std::string model;     // 40
  std::string firmware;  // 8
};

struct DiskGeometry {
  uint64_t sectors = 0;  // 512-byte sectors
  bool trim = false;     // DSM TRIM supported (the backend punches holes)
};

[[nodiscard]] IdentifyData AtaIdentify(const DriveIdentity& id, const DiskGeometry& disk,
                                       const DeviceSettings& settings);
[[nodiscard]] IdentifyData AtapiIdentify(const DriveIdentity& id, const DeviceSettings& settings);

// The identify words as the 512 bytes a PIO data-in transfer carries.
[[nodiscard]] std::array<uint8_t, 512> IdentifyBytes(const IdentifyData& words);

// The ATA string convention: two characters per word, the first in the high
// byte. (Exposed for tests.)
void PutAtaString(IdentifyData& id, size_t first_word, size_t words, const std::string& s);

}  // namespace bulkhead::ahci
