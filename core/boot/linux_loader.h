// Direct Linux boot: the one entry point the core calls after creating guest
// RAM and before starting vCPU 0.
//
// Low memory after LoadLinux (see layout.h for the constants):
//   0x00500  GDT            0x06000  PVH start info, module list, memmap
//   0x00540  IDT (empty)    0x07000  zero page (bzImage)
//   0x08FF0  boot stack top 0x09000  page tables (PML4, PDPT, 4 PDs) to 0xEFFF
//   0x20000  command line   0xE0000  ACPI tables (RSDP first)
//   0x100000 kernel; the initrd at the top of low RAM, page aligned.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/boot/cpu_state.h"
#include "core/boot/layout.h"
#include "ipc/result.h"

namespace bulkhead::boot {

// Highest initrd placement: the page-aligned address `size` bytes below
// `limit` (exclusive), not below `lowest`.
[[nodiscard]] Result<uint64_t> PlaceInitrd(uint64_t size, uint64_t lowest, uint64_t limit);

// Lays out the guest for a direct boot of `kernel` (a bzImage, or an ELF
// vmlinux with a PVH note) and returns the boot vCPU's initial state.
// `low_ram` is guest-physical [0, layout.low_ram_end). `kernel`, `initrd`
// and `cmdline` come from the user: anything that does not fit or does not
// parse is an Error, never a crash.
[[nodiscard]] Result<BootCpuState> LoadLinux(std::span<uint8_t> low_ram, const MemoryLayout& layout,
                                             std::span<const uint8_t> kernel,
                                             std::span<const uint8_t> initrd,
                                             std::string_view cmdline, int num_cpus);

}  // namespace bulkhead::boot
