// Frame Information Structures: decoding the command FIS the guest wrote
// (H2D register FIS) and writing the FISes a SATA device would send into the
// port's received-FIS area (AHCI §4.2.1), where the driver reads them.
//
// The HBA copies a received FIS into the area only while PxCMD.FRE is set;
// the port logic (port.cc) checks that, these functions just write bytes at
// PxFB through GuestMemory and report an address outside RAM as an Error.
#pragma once

#include <array>
#include <cstdint>

#include "devproc/common/guest_memory.h"
#include "ipc/result.h"

namespace bulkhead::ahci {

// The fields of an H2D register FIS (SATA 3.x §10.5.5), decoded once from
// the journal's copy of the command FIS.
struct H2dFis {
  uint8_t type = 0;
  bool command_update = false;  // C bit: 0 means a device control FIS (SRST)
  uint8_t command = 0;
  uint16_t features = 0;  // 15:8 from byte 11
  uint64_t lba = 0;       // 48 bits
  uint8_t device = 0;
  uint16_t count = 0;  // 15:8 from byte 13
  uint8_t control = 0;
};
[[nodiscard]] H2dFis DecodeH2d(const uint8_t (&cfis)[20]);

// What the device reports back in a register FIS.
struct TaskFile {
  uint8_t status = 0;
  uint8_t error = 0;
  uint8_t device = 0;
  uint64_t lba = 0;
  uint16_t count = 0;
};

// D2H register FIS at PxFB+0x40. `interrupt` is the FIS's I bit.
[[nodiscard]] Status WriteD2hFis(const GuestMemory& mem, uint64_t fb, const TaskFile& tf,
                                 bool interrupt);
// PIO setup FIS at PxFB+0x20: `e_status` is the status after the transfer
// (libahci takes a PIO data-in command's result from it), `to_host` the
// D bit, `bytes` the transfer count.
[[nodiscard]] Status WritePioSetupFis(const GuestMemory& mem, uint64_t fb, const TaskFile& tf,
                                      uint8_t e_status, bool to_host, uint16_t bytes,
                                      bool interrupt);
// DMA setup FIS at PxFB+0x00 (first-party DMA for an NCQ tag).
[[nodiscard]] Status WriteDmaSetupFis(const GuestMemory& mem, uint64_t fb, uint32_t tag,
                                      bool to_host, uint32_t bytes, bool interrupt);
// Set device bits FIS at PxFB+0x58: the tags in `done` completed.
[[nodiscard]] Status WriteSdbFis(const GuestMemory& mem, uint64_t fb, uint8_t status,
                                 uint8_t error, uint32_t done, bool interrupt);

// The H2D FIS bytes for a command (used by the driver model in tests).
[[nodiscard]] std::array<uint8_t, 20> EncodeH2d(const H2dFis& fis);

}  // namespace bulkhead::ahci
