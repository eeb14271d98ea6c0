// The AHCI controller as the core exposes it and the device process serves it
// (see pci_device.h for the general contract).
//
// An Intel ICH9 AHCI function (so Linux's `ahci` driver binds with its ICH9
// quirks), ABAR in BAR 5 (32-bit memory, kAbarSize), forwarded on the exit
// rings. The core holds config space with an MSI capability (one vector,
// 64-bit address, no per-vector masking) and INTA.
//
// Attachment:
//  * irqs: exactly one, the "line" fd with its resample fd (MSI or INTx,
//    chosen by the core: pci_device.h).
//  * backend: the disk image fd if kHasDisk, then the CD-ROM image fd if
//    kHasCdrom, opened by the core (O_RDWR, or O_RDONLY for read-only disks
//    and CD-ROMs).
//  * guestRam + ramRegions.
//  * config: AhciConfigBlob.
// Port 0 holds the disk, port 1 the CD-ROM; a port without a device shows no
// device present (PxSSTS.DET = 0).
#pragma once

#include <cstdint>

namespace bulkhead::abi::ahci {

inline constexpr uint16_t kPciVendor = 0x8086;
inline constexpr uint16_t kPciDevice = 0x2922;   // ICH9 6-port SATA AHCI controller
inline constexpr uint32_t kPciClass = 0x010601;  // mass storage, SATA, AHCI 1.0
inline constexpr uint8_t kRevision = 0x02;
inline constexpr int kAbarBar = 5;
inline constexpr uint64_t kAbarSize = 0x1000;
inline constexpr uint32_t kNumPorts = 2;

inline constexpr uint32_t kHasDisk = 1u << 0;
inline constexpr uint32_t kDiskReadOnly = 1u << 1;
inline constexpr uint32_t kHasCdrom = 1u << 2;

struct AhciConfigBlob {
  uint32_t flags;
  uint32_t reserved;
  char disk_serial[20];   // ATA IDENTIFY serial number, space padded
  char cdrom_serial[20];
};
static_assert(sizeof(AhciConfigBlob) == 48);

}  // namespace bulkhead::abi::ahci
