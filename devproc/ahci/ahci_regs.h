// Register offsets and bit names of the AHCI 1.3.1 HBA (ABAR = BAR 5), and of
// the ATA/SATA pieces the model speaks (FIS types, status and error bits).
// Constants only: the behaviour is in hba.cc (generic host control) and
// port.cc (one port).
#pragma once

#include <cstdint>

namespace bulkhead::ahci {

// Generic host control (AHCI 1.3.1 §3.1).
inline constexpr uint32_t kCap = 0x00;
inline constexpr uint32_t kGhc = 0x04;
inline constexpr uint32_t kIs = 0x08;
inline constexpr uint32_t kPi = 0x0C;
inline constexpr uint32_t kVs = 0x10;
inline constexpr uint32_t kCccCtl = 0x14;
inline constexpr uint32_t kCccPorts = 0x18;
inline constexpr uint32_t kEmLoc = 0x1C;
inline constexpr uint32_t kEmCtl = 0x20;
inline constexpr uint32_t kCap2 = 0x24;
inline constexpr uint32_t kBohc = 0x28;

inline constexpr uint32_t kPortBase = 0x100;
inline constexpr uint32_t kPortStride = 0x80;

inline constexpr uint32_t kCapS64a = 1u << 31;
inline constexpr uint32_t kCapSncq = 1u << 30;
inline constexpr uint32_t kCapSsntf = 1u << 29;
inline constexpr uint32_t kCapSclo = 1u << 24;
inline constexpr uint32_t kCapIssGen2 = 2u << 20;
inline constexpr uint32_t kCapSam = 1u << 18;
inline constexpr uint32_t kCapNcsShift = 8;

inline constexpr uint32_t kGhcHr = 1u << 0;
inline constexpr uint32_t kGhcIe = 1u << 1;
inline constexpr uint32_t kGhcAe = 1u << 31;

inline constexpr uint32_t kVersion13 = 0x00010300;

// Port registers (§3.3), offsets inside a port's 0x80 bytes.
inline constexpr uint32_t kPxClb = 0x00;
inline constexpr uint32_t kPxClbu = 0x04;
inline constexpr uint32_t kPxFb = 0x08;
inline constexpr uint32_t kPxFbu = 0x0C;
inline constexpr uint32_t kPxIs = 0x10;
inline constexpr uint32_t kPxIe = 0x14;
inline constexpr uint32_t kPxCmd = 0x18;
inline constexpr uint32_t kPxTfd = 0x20;
inline constexpr uint32_t kPxSig = 0x24;
inline constexpr uint32_t kPxSsts = 0x28;
inline constexpr uint32_t kPxSctl = 0x2C;
inline constexpr uint32_t kPxSerr = 0x30;
inline constexpr uint32_t kPxSact = 0x34;
inline constexpr uint32_t kPxCi = 0x38;
inline constexpr uint32_t kPxSntf = 0x3C;
inline constexpr uint32_t kPxFbs = 0x40;
inline constexpr uint32_t kPxDevslp = 0x44;

// PxIS / PxIE bits.
inline constexpr uint32_t kIsDhrs = 1u << 0;   // D2H register FIS
inline constexpr uint32_t kIsPss = 1u << 1;    // PIO setup FIS
inline constexpr uint32_t kIsDss = 1u << 2;    // DMA setup FIS
inline constexpr uint32_t kIsSdbs = 1u << 3;   // set device bits FIS
inline constexpr uint32_t kIsDps = 1u << 5;    // PRD with I bit done
inline constexpr uint32_t kIsOfs = 1u << 24;   // overflow
inline constexpr uint32_t kIsHbfs = 1u << 29;  // host bus fatal error
inline constexpr uint32_t kIsTfes = 1u << 30;  // task file error
inline constexpr uint32_t kIsWritable = 0xFDC000AF;  // every RWC bit (PCS, PRCS are RO)

// PxCMD bits.
inline constexpr uint32_t kCmdSt = 1u << 0;
inline constexpr uint32_t kCmdSud = 1u << 1;
inline constexpr uint32_t kCmdPod = 1u << 2;
inline constexpr uint32_t kCmdClo = 1u << 3;
inline constexpr uint32_t kCmdFre = 1u << 4;
inline constexpr uint32_t kCmdFr = 1u << 14;
inline constexpr uint32_t kCmdCr = 1u << 15;
inline constexpr uint32_t kCmdAtapi = 1u << 24;
// Bits software can write and read back: ST, FRE, ATAPI, DLAE, ALPE, ASP.
inline constexpr uint32_t kCmdStored = kCmdSt | kCmdFre | (0xFu << 24);

inline constexpr uint32_t kSstsPresent = 0x123;  // IPM active, Gen2, DET 3
inline constexpr uint32_t kSigDisk = 0x00000101;
inline constexpr uint32_t kSigAtapi = 0xEB140101;

// Received-FIS area (§4.2.1): offsets from PxFB, 256 bytes in all.
inline constexpr uint64_t kRfisDsfis = 0x00;
inline constexpr uint64_t kRfisPsfis = 0x20;
inline constexpr uint64_t kRfisRfis = 0x40;
inline constexpr uint64_t kRfisSdbfis = 0x58;

// FIS types.
inline constexpr uint8_t kFisH2d = 0x27;
inline constexpr uint8_t kFisD2h = 0x34;
inline constexpr uint8_t kFisDmaSetup = 0x41;
inline constexpr uint8_t kFisPioSetup = 0x5F;
inline constexpr uint8_t kFisSdb = 0xA1;

// ATA status / error register bits.
inline constexpr uint8_t kStsErr = 0x01;
inline constexpr uint8_t kStsDrq = 0x08;
inline constexpr uint8_t kStsDsc = 0x10;
inline constexpr uint8_t kStsDrdy = 0x40;
inline constexpr uint8_t kStsBsy = 0x80;
inline constexpr uint8_t kStsGood = kStsDrdy | kStsDsc;
inline constexpr uint8_t kErrAbrt = 0x04;
inline constexpr uint8_t kErrIdnf = 0x10;

inline constexpr uint32_t kNumSlots = 32;

}  // namespace bulkhead::ahci
