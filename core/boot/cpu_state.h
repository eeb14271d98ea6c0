// The register state a vCPU starts a guest kernel with. Plain integers, no
// KVM headers: the core copies these into kvm_regs/kvm_sregs (field names
// match kvm_segment and kvm_dtable one to one).
#pragma once

#include <cstdint>

namespace bulkhead::boot {

struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0;  // byte granular: 0xFFFFFFFF for a 4 GiB flat segment
  uint16_t selector = 0;
  uint8_t type = 0;  // 4-bit descriptor type
  uint8_t present = 0;
  uint8_t dpl = 0;
  uint8_t db = 0;  // default operation size (32-bit)
  uint8_t s = 0;   // 1 = code/data, 0 = system
  uint8_t l = 0;   // 64-bit code
  uint8_t g = 0;   // 4 KiB granularity
  uint8_t avl = 0;
  uint8_t unusable = 0;

  friend bool operator==(const Segment&, const Segment&) = default;
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;

  friend bool operator==(const DescriptorTable&, const DescriptorTable&) = default;
};

// Control register bits the loader uses.
inline constexpr uint64_t kCr0Pe = 1ull << 0;
inline constexpr uint64_t kCr0Et = 1ull << 4;
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kEferLme = 1ull << 8;
inline constexpr uint64_t kEferLma = 1ull << 10;
inline constexpr uint64_t kRflagsReserved1 = 1ull << 1;  // bit 1 always reads 1

struct BootCpuState {
  // General registers (kvm_regs). Everything not listed is zero.
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t rbp = 0;
  uint64_t rsi = 0;  // 64-bit Linux boot protocol: zero page address
  uint64_t rbx = 0;  // PVH: hvm_start_info address
  uint64_t rflags = kRflagsReserved1;

  // System state (kvm_sregs).
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t efer = 0;

  // Only the boot processor starts here; application processors wait for
  // INIT/SIPI from the guest.
};

}  // namespace bulkhead::boot
