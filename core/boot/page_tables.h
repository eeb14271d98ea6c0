// Identity-mapped page tables for the 64-bit Linux boot protocol, which wants
// paging on and the kernel, zero page and command line mapped 1:1. The map
// covers the first 4 GiB with 2 MiB pages: PML4 at kPml4Addr, one PDPT at
// kPdptAddr, four page directories from kPdAddr.
#pragma once

#include <cstdint>
#include <optional>

#include "core/boot/cpu_state.h"
#include "core/boot/ram_view.h"

namespace bulkhead::boot {

inline constexpr uint64_t kPtePresent = 1ull << 0;
inline constexpr uint64_t kPteWritable = 1ull << 1;
inline constexpr uint64_t kPteLargePage = 1ull << 7;

// Writes the tables and returns the CR3 value.
[[nodiscard]] Result<uint64_t> WriteIdentityPageTables(const RamView& ram);

// Translates a linear address by walking 4-level tables rooted at `cr3` in
// `ram` (honours 1 GiB, 2 MiB and 4 KiB pages). nullopt when not mapped or a
// table lies outside RAM. Used by tests and by diagnostics.
std::optional<uint64_t> WalkPageTables(const RamView& ram, uint64_t cr3, uint64_t linear);

// Control registers and EFER for 64-bit long mode with paging on.
void SetLongModeControlRegisters(BootCpuState& state, uint64_t cr3);

}  // namespace bulkhead::boot
