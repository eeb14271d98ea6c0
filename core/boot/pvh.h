// PVH direct boot: an uncompressed ELF vmlinux that carries the
// XEN_ELFNOTE_PHYS32_ENTRY note (Linux with CONFIG_PVH). Its PT_LOAD segments
// are copied to their physical addresses and the kernel is entered in 32-bit
// protected mode, paging off, with EBX pointing at an hvm_start_info.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/boot/e820.h"
#include "core/boot/ram_view.h"

namespace bulkhead::boot {

inline constexpr uint32_t kXenElfNotePhys32Entry = 18;
inline constexpr uint32_t kHvmStartMagic = 0x336EC578;

// Layouts from Xen's public/arch-x86/hvm/start_info.h (version 1).
struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // e820 type
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

bool IsElf(std::span<const uint8_t> image);

struct PvhKernel {
  uint32_t entry = 0;  // 32-bit physical entry point from the note
  uint64_t end = 0;    // exclusive end of the highest PT_LOAD segment
};

// Validates the ELF and copies its PT_LOAD segments into `ram`. Segments must
// lie in [1 MiB, ram.size()) so they cannot clobber the loader's structures.
[[nodiscard]] Result<PvhKernel> LoadPvhElf(const RamView& ram, std::span<const uint8_t> elf);

struct PvhStartInputs {
  uint64_t cmdline_addr = 0;
  uint64_t initrd_addr = 0;
  uint64_t initrd_size = 0;  // 0: no module
  uint64_t rsdp_addr = 0;
  std::span<const E820Entry> memmap = {};
};

// Writes hvm_start_info at kPvhStartInfoAddr with its module list and memmap;
// returns its address (the kernel's EBX).
[[nodiscard]] Result<uint64_t> WritePvhStartInfo(const RamView& ram, const PvhStartInputs& in);

}  // namespace bulkhead::boot
