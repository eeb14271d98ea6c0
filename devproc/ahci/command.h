// What a device (the ATA disk, ata.cc, or the ATAPI CD-ROM, atapi.cc) gets to
// run one command, and what it hands back for the port to complete it.
//
// Devices run on the I/O thread without the controller's lock: they touch
// only the backend, the guest buffers of this command's PRDT and a private
// copy of the device's settings. Everything guest-visible (FISes, PxTFD,
// PxIS, PxCI/PxSACT) is done by the port at completion, under the lock
// (port.cc), so a device never races a register access.
#pragma once

#include <cstdint>

#include "devproc/ahci/ahci_state.h"
#include "devproc/ahci/backend.h"
#include "devproc/ahci/fis.h"
#include "devproc/ahci/identify.h"
#include "devproc/ahci/prdt.h"

namespace bulkhead::ahci {

// How the result reaches the guest (which FISes the port writes).
enum class Protocol : uint8_t {
  kNonData,  // D2H register FIS
  kPioIn,    // PIO setup FIS (with the final status) + D2H register FIS
  kPioOut,
  kDma,      // D2H register FIS
  kNcq,      // DMA setup FIS + set device bits FIS
};

struct CommandRequest {
  H2dFis fis;
  uint8_t acmd[16] = {};  // ATAPI packet
  const Prdt* prdt = nullptr;
  bool ncq = false;
  uint32_t tag = 0;  // NCQ tag (the command slot)
};

struct CommandOutcome {
  Protocol protocol = Protocol::kNonData;
  TaskFile tf;             // status, error and the registers for the D2H FIS
  uint64_t bytes = 0;      // moved through the PRDT (PRDBC)
  bool host_bus_error = false;  // the PRDT is unusable: PxIS.HBFS
  bool overflow = false;        // the PRDT is shorter than the transfer: PxIS.OFS
  bool signature = false;  // a reset: tf holds the device signature, PxSIG too
  bool settings_changed = false;
  DeviceSettings settings;  // the device's settings after the command

  [[nodiscard]] bool failed() const { return (tf.status & kStsErrBit) != 0; }
  static constexpr uint8_t kStsErrBit = 0x01;
};

struct DiskDevice {
  const BlockBackend* backend = nullptr;
  DriveIdentity identity;
};

struct CdromDevice {
  const BlockBackend* backend = nullptr;
  DriveIdentity identity;
};

// The disk (port 0) and the CD-ROM (port 1).
[[nodiscard]] CommandOutcome ExecuteAta(const DiskDevice& disk, const CommandRequest& req,
                                        const DeviceSettings& settings);
[[nodiscard]] CommandOutcome ExecuteAtapiPort(const CdromDevice& cd, const CommandRequest& req,
                                              const DeviceSettings& settings);

// Helpers shared by both.
[[nodiscard]] CommandOutcome Good(Protocol p, const DeviceSettings& s);
[[nodiscard]] CommandOutcome AtaError(Protocol p, uint8_t error, const DeviceSettings& s);
// A software reset / DEVICE RESET: the signature in the task file.
[[nodiscard]] CommandOutcome Signature(uint32_t sig, const DeviceSettings& s);

}  // namespace bulkhead::ahci
