#include "core/boot/page_tables.h"

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

constexpr uint64_t kAddrMask = 0x000F'FFFF'FFFF'F000ull;
constexpr uint64_t kTableFlags = kPtePresent | kPteWritable;

}  // namespace

Result<uint64_t> WriteIdentityPageTables(const RamView& ram) {
  static_assert(kPdAddr + kIdentityMapPds * 0x1000 <= kCmdlineAddr);
  // Clear everything first: entries beyond the map must read as not present.
  if (auto s = ram.Fill(kPml4Addr, 0x1000, 0); !s) return tl::unexpected(s.error());
  if (auto s = ram.Fill(kPdptAddr, 0x1000, 0); !s) return tl::unexpected(s.error());
  if (auto s = ram.WriteObj<uint64_t>(kPml4Addr, kPdptAddr | kTableFlags); !s) {
    return tl::unexpected(s.error());
  }
  for (uint64_t pd = 0; pd < kIdentityMapPds; ++pd) {
    const uint64_t pd_addr = kPdAddr + pd * 0x1000;
    if (auto s = ram.WriteObj<uint64_t>(kPdptAddr + pd * 8, pd_addr | kTableFlags); !s) {
      return tl::unexpected(s.error());
    }
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t phys = (pd * 512 + i) * (2 * MiB);
      if (auto s = ram.WriteObj<uint64_t>(pd_addr + i * 8, phys | kTableFlags | kPteLargePage);
          !s) {
        return tl::unexpected(s.error());
      }
    }
  }
  return kPml4Addr;
}

std::optional<uint64_t> WalkPageTables(const RamView& ram, uint64_t cr3, uint64_t linear) {
  uint64_t table = cr3 & kAddrMask;
  // Shift of each level's index: PML4 39, PDPT 30, PD 21, PT 12.
  for (int shift = 39; shift >= 12; shift -= 9) {
    const uint64_t index = (linear >> shift) & 0x1FF;
    auto entry = ram.ReadObj<uint64_t>(table + index * 8);
    if (!entry || !(*entry & kPtePresent)) return std::nullopt;
    const bool leaf = shift == 12 || ((shift == 30 || shift == 21) && (*entry & kPteLargePage));
    if (leaf) {
      const uint64_t page_mask = (1ull << shift) - 1;
      return (*entry & kAddrMask & ~page_mask) | (linear & page_mask);
    }
    table = *entry & kAddrMask;
  }
  return std::nullopt;  // unreachable: shift 12 is always a leaf
}

void SetLongModeControlRegisters(BootCpuState& state, uint64_t cr3) {
  state.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
  state.cr3 = cr3;
  state.cr4 = kCr4Pae;
  state.efer = kEferLme | kEferLma;
}

}  // namespace bulkhead::boot
