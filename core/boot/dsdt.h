// The DSDT's AML: the PCI host bridge and the S5 sleep object.
#pragma once

#include "core/boot/aml.h"
#include "core/boot/layout.h"

namespace bulkhead::boot {

inline constexpr uint32_t kPciSlots = 32;

// AML body (no table header) of:
//   Scope(\_SB) { Device(PCI0) { _HID PNP0A08, _CID PNP0A03, _ADR 0, _SEG 0,
//                                _BBN 0, _UID 0, _CRS, _PRT } }
//   Name(\_S5, Package { 5, 5, 0, 0 })
aml::Bytes BuildDsdtAml(const MemoryLayout& layout);

// _CRS of PCI0: bus numbers 0..255, the 0xCF8 config ports (consumed), I/O
// windows 0x0000-0x0CF7 and 0x0D00-0xFFFF, the 32-bit window
// [kPciMmio32Start, kPciMmio32End)
// (0xC0000000..0xFEBFBFFF) and the 64-bit window of `layout`.
aml::Bytes PciHostBridgeCrs(const MemoryLayout& layout);

// _PRT: INTA..INTD of each of the 32 slots on bus 0 to GSI PciIntxGsi(slot, pin).
aml::Bytes PciRoutingTable();

}  // namespace bulkhead::boot
