// The boot GDT and the segment state that goes with it.
//
// One table serves both entry paths:
//   0x00 null
//   0x08 32-bit flat code   (PVH entry, CS)
//   0x10 64-bit code        (__BOOT_CS of the 64-bit Linux boot protocol)
//   0x18 flat data          (__BOOT_DS)
//   0x20 64-bit busy TSS    (16 bytes; VMX requires a usable TR)
#pragma once

#include <array>
#include <cstdint>

#include "core/boot/cpu_state.h"
#include "core/boot/ram_view.h"

namespace bulkhead::boot {

inline constexpr uint16_t kCode32Selector = 0x08;
inline constexpr uint16_t kCode64Selector = 0x10;
inline constexpr uint16_t kDataSelector = 0x18;
inline constexpr uint16_t kTssSelector = 0x20;
inline constexpr int kGdtEntries = 6;

// Descriptor <-> segment conversion for code/data (and the low half of
// system) descriptors. `selector` and `unusable` are not part of a descriptor:
// Encode ignores them, Decode leaves them zero.
uint64_t EncodeGdtEntry(const Segment& seg);
Segment DecodeGdtEntry(uint64_t entry);

// The segment the CPU caches after loading `selector` from BootGdt().
Segment BootSegment(uint16_t selector);

// The full table, 6 x 8 bytes, in order.
std::array<uint64_t, kGdtEntries> BootGdt();

// Writes the GDT at kGdtAddr and an empty IDT at kIdtAddr.
[[nodiscard]] Status WriteBootGdt(const RamView& ram);

// Segments, GDTR and IDTR for a given mode; control registers are left to
// the caller.
void SetLongModeSegments(BootCpuState& state);
void SetProtectedModeSegments(BootCpuState& state);

}  // namespace bulkhead::boot
