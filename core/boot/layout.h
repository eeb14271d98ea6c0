// Guest physical memory layout of the Bulkhead x86-64 platform.
//
// These constants are the contract between the boot code (which describes the
// platform to the guest in e820, ACPI and the zero page), the core (which maps
// RAM and routes MMIO/PIO) and the PCI code (which places BARs). Change one
// here and every description of the platform changes with it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ipc/result.h"

namespace bulkhead::boot {

inline constexpr uint64_t KiB = 1024;
inline constexpr uint64_t MiB = 1024 * KiB;
inline constexpr uint64_t GiB = 1024 * MiB;

// ---- Physical address map -------------------------------------------------
// RAM starts at GPA 0 and runs up to min(ram, 3 GiB); the rest of RAM is
// placed at 4 GiB. The gap holds the 32-bit PCI window and the interrupt
// controllers.
inline constexpr uint64_t kLowRamLimit = 0xC000'0000;     // 3 GiB
inline constexpr uint64_t kHighRamStart = 0x1'0000'0000;  // 4 GiB
inline constexpr uint64_t kPciMmio32Start = 0xC000'0000;
// KVM on Intel needs four guest-physical pages it owns: three for the
// real-mode TSS (KVM_SET_TSS_ADDR) and one for the EPT identity map
// (KVM_SET_IDENTITY_MAP_ADDR). They sit just below the IOAPIC, are marked
// reserved in e820 and are kept out of the PCI window.
inline constexpr uint64_t kKvmIdentityMapAddr = 0xFEBF'C000;
inline constexpr uint64_t kKvmTssAddr = kKvmIdentityMapAddr + 0x1000;
inline constexpr uint64_t kKvmReservedSize = 0x4000;
inline constexpr uint64_t kPciMmio32End = kKvmIdentityMapAddr;  // exclusive
inline constexpr uint64_t kIoApicBase = 0xFEC0'0000;
static_assert(kKvmIdentityMapAddr + kKvmReservedSize == kIoApicBase);
inline constexpr uint64_t kIoApicSize = 0x1000;
inline constexpr uint64_t kLocalApicBase = 0xFEE0'0000;
inline constexpr uint64_t kLocalApicSize = 0x1000;
// The 64-bit PCI window starts at the first 1 GiB boundary above high RAM.
// 64 GiB keeps its end below 2^39 (the smallest physical address width of
// current x86-64 hosts) for guests of up to ~440 GiB of RAM.
inline constexpr uint64_t kPciMmio64Alignment = 1 * GiB;
inline constexpr uint64_t kPciMmio64Size = 64 * GiB;

// ---- Legacy PC area below 1 MiB ------------------------------------------
// Everything the loader writes below 1 MiB has a fixed home. Nothing here may
// overlap: layout_test checks it.
inline constexpr uint64_t kGdtAddr = 0x500;  // 6 descriptors, 48 bytes
inline constexpr uint64_t kGdtSize = 0x30;
inline constexpr uint64_t kIdtAddr = 0x540;  // one null gate, limit 7
inline constexpr uint64_t kIdtSize = 0x8;
inline constexpr uint64_t kPvhStartInfoAddr = 0x6000;  // hvm_start_info (56 B)
inline constexpr uint64_t kPvhModlistAddr = 0x6040;    // one hvm_modlist_entry
inline constexpr uint64_t kPvhMemmapAddr = 0x6080;     // memmap up to 0x7000
inline constexpr uint64_t kPvhMemmapMaxEntries = (0x7000 - kPvhMemmapAddr) / 24;
inline constexpr uint64_t kZeroPageAddr = 0x7000;  // struct boot_params, 4 KiB
inline constexpr uint64_t kBootStackTop = 0x8FF0;  // stack 0x8000..0x8FFF
inline constexpr uint64_t kPml4Addr = 0x9000;      // 4-level identity map:
inline constexpr uint64_t kPdptAddr = 0xA000;      //   PML4, one PDPT and
inline constexpr uint64_t kPdAddr = 0xB000;        //   four PDs 0xB000..0xEFFF
inline constexpr uint64_t kIdentityMapPds = 4;     // 4 x 1 GiB = 4 GiB mapped
inline constexpr uint64_t kIdentityMapSize = kIdentityMapPds * GiB;
inline constexpr uint64_t kCmdlineAddr = 0x20000;
inline constexpr uint64_t kCmdlineMaxSize = 0x10000;  // including the NUL
inline constexpr uint64_t kEbdaStart = 0x9FC00;       // top of base memory
inline constexpr uint64_t kBiosAreaStart = 0xA0000;   // VGA hole, option ROMs
// ACPI tables live in the BIOS read-only area so that Linux also finds the
// RSDP by its legacy scan of 0xE0000..0xFFFFF.
inline constexpr uint64_t kAcpiStart = 0xE0000;
inline constexpr uint64_t kAcpiEnd = 0x100000;          // exclusive
inline constexpr uint64_t kHighMemoryStart = 0x100000;  // 1 MiB
inline constexpr uint64_t kKernelLoadAddr = 0x100000;   // bzImage protected-mode code

// ---- Interrupts ----------------------------------------------------------
inline constexpr uint32_t kIoApicPins = 24;
inline constexpr uint32_t kIoApicId = 0;  // LAPIC IDs are 0..n-1; xAPIC IDs are
                                          // per-type, so 0 does not clash
inline constexpr uint32_t kPciIntxFirstGsi = 16;
inline constexpr uint32_t kPciIntxGsiCount = 8;  // GSIs 16..23
inline constexpr int kMaxVcpus = 254;            // 8-bit xAPIC IDs, 0xFF is broadcast

// PCI INTx routing as declared in the DSDT _PRT: pin 0..3 = INTA..INTD of
// device `slot` on bus 0 is swizzled onto GSIs 16..23. The core programs the
// same mapping when a device raises INTx.
constexpr uint32_t PciIntxGsi(uint32_t slot, uint32_t pin) {
  return kPciIntxFirstGsi + (slot + pin) % kPciIntxGsiCount;
}

// ---- Legacy I/O ports ----------------------------------------------------
inline constexpr uint16_t kSerialPort = 0x3F8;
inline constexpr uint32_t kSerialIrq = 4;
inline constexpr uint16_t kPciConfigAddressPort = 0xCF8;
inline constexpr uint16_t kPciConfigDataPort = 0xCFC;

// Hardware-reduced ACPI power management (FADT SLEEP_CONTROL_REG,
// SLEEP_STATUS_REG, RESET_REG). All three are 8-bit I/O ports owned by the
// core. Linux powers off by writing 0x80 (WAK_STS clear) to the status port,
// then SLP_TYP << 2 | SLP_EN to the control port; it reboots by writing the
// reset value to the reset port.
inline constexpr uint16_t kAcpiSleepControlPort = 0x3C0;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x3C1;
inline constexpr uint16_t kAcpiResetPort = 0x3C2;
inline constexpr uint8_t kAcpiResetValue = 0x01;
inline constexpr uint8_t kAcpiS5SleepType = 5;  // value of \_S5_ in the DSDT
inline constexpr uint8_t kAcpiSleepEnable = 1 << 5;

// True when a byte written to kAcpiSleepControlPort requests S5 (power off).
constexpr bool IsAcpiPowerOffWrite(uint8_t value) {
  return (value & kAcpiSleepEnable) != 0 && ((value >> 2) & 0x7) == kAcpiS5SleepType;
}

// ---- Per-VM layout -------------------------------------------------------
struct MemoryLayout {
  uint64_t ram_size = 0;
  uint64_t low_ram_end = 0;   // exclusive; RAM is [0, low_ram_end)
  uint64_t high_ram_end = 0;  // exclusive; high RAM is [4 GiB, high_ram_end), empty if == 4 GiB
  uint64_t mmio64_start = 0;  // 64-bit PCI window [mmio64_start, +kPciMmio64Size)

  uint64_t high_ram_size() const { return high_ram_end - kHighRamStart; }
  uint64_t mmio64_end() const { return mmio64_start + kPciMmio64Size; }  // exclusive

  // Splits `ram_size` bytes of RAM around the 32-bit hole. Rejects sizes that
  // are not page multiples or too small to hold the fixed low-memory area and
  // a kernel (16 MiB).
  [[nodiscard]] static Result<MemoryLayout> ForRamSize(uint64_t ram_size);
};

inline constexpr uint64_t kMinRamSize = 16 * MiB;
inline constexpr uint64_t kMaxRamSize = 1024 * GiB;

inline Result<MemoryLayout> MemoryLayout::ForRamSize(uint64_t ram_size) {
  if (ram_size % (4 * KiB) != 0) {
    return MakeError("guest RAM size {:#x} is not a multiple of 4 KiB", ram_size);
  }
  if (ram_size < kMinRamSize) {
    return MakeError("guest RAM size {} MiB is below the minimum of {} MiB", ram_size / MiB,
                     kMinRamSize / MiB);
  }
  if (ram_size > kMaxRamSize) {
    return MakeError("guest RAM size {} GiB is above the maximum of {} GiB", ram_size / GiB,
                     kMaxRamSize / GiB);
  }
  MemoryLayout l;
  l.ram_size = ram_size;
  l.low_ram_end = std::min(ram_size, kLowRamLimit);
  l.high_ram_end = kHighRamStart + (ram_size - l.low_ram_end);
  const uint64_t a = kPciMmio64Alignment;
  l.mmio64_start = (l.high_ram_end + a - 1) / a * a;
  return l;
}

}  // namespace bulkhead::boot
