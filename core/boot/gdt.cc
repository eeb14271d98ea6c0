#include "core/boot/gdt.h"

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

Segment Flat(uint8_t type, uint8_t s, uint8_t db, uint8_t l) {
  Segment seg;
  seg.base = 0;
  seg.limit = 0xFFFF'FFFF;
  seg.type = type;
  seg.present = 1;
  seg.dpl = 0;
  seg.db = db;
  seg.s = s;
  seg.l = l;
  seg.g = 1;
  return seg;
}

// Type nibbles (Intel SDM vol. 3, 3.4.5.1). The accessed bit is preset so
// that the CPU never writes to the GDT in guest memory.
constexpr uint8_t kTypeCodeExecReadAccessed = 0xB;
constexpr uint8_t kTypeDataReadWriteAccessed = 0x3;
constexpr uint8_t kTypeTssBusy = 0xB;  // 64-bit (or 32-bit) busy TSS
constexpr uint8_t kTypeLdt = 0x2;

Segment Descriptor(int index) {
  switch (index) {
    case 1:
      return Flat(kTypeCodeExecReadAccessed, 1, /*db=*/1, /*l=*/0);
    case 2:
      return Flat(kTypeCodeExecReadAccessed, 1, /*db=*/0, /*l=*/1);
    case 3:
      return Flat(kTypeDataReadWriteAccessed, 1, /*db=*/1, /*l=*/0);
    case 4: {
      Segment tss;
      tss.limit = 0x67;  // minimal 104-byte TSS; never switched to
      tss.type = kTypeTssBusy;
      tss.present = 1;
      return tss;
    }
    default:
      return Segment{};
  }
}

}  // namespace

uint64_t EncodeGdtEntry(const Segment& seg) {
  const uint64_t limit = seg.g ? (seg.limit >> 12) : seg.limit;
  uint64_t e = 0;
  e |= limit & 0xFFFF;
  e |= (seg.base & 0xFF'FFFF) << 16;
  e |= uint64_t{seg.type & 0xFu} << 40;
  e |= uint64_t{seg.s & 1u} << 44;
  e |= uint64_t{seg.dpl & 3u} << 45;
  e |= uint64_t{seg.present & 1u} << 47;
  e |= ((limit >> 16) & 0xF) << 48;
  e |= uint64_t{seg.avl & 1u} << 52;
  e |= uint64_t{seg.l & 1u} << 53;
  e |= uint64_t{seg.db & 1u} << 54;
  e |= uint64_t{seg.g & 1u} << 55;
  e |= ((seg.base >> 24) & 0xFF) << 56;
  return e;
}

Segment DecodeGdtEntry(uint64_t e) {
  Segment seg;
  seg.base = ((e >> 16) & 0xFF'FFFF) | (((e >> 56) & 0xFF) << 24);
  uint32_t limit = static_cast<uint32_t>((e & 0xFFFF) | (((e >> 48) & 0xF) << 16));
  seg.type = static_cast<uint8_t>((e >> 40) & 0xF);
  seg.s = static_cast<uint8_t>((e >> 44) & 1);
  seg.dpl = static_cast<uint8_t>((e >> 45) & 3);
  seg.present = static_cast<uint8_t>((e >> 47) & 1);
  seg.avl = static_cast<uint8_t>((e >> 52) & 1);
  seg.l = static_cast<uint8_t>((e >> 53) & 1);
  seg.db = static_cast<uint8_t>((e >> 54) & 1);
  seg.g = static_cast<uint8_t>((e >> 55) & 1);
  seg.limit = seg.g ? (limit << 12) | 0xFFF : limit;
  return seg;
}

Segment BootSegment(uint16_t selector) {
  Segment seg = Descriptor(selector >> 3);
  seg.selector = selector;
  return seg;
}

std::array<uint64_t, kGdtEntries> BootGdt() {
  std::array<uint64_t, kGdtEntries> gdt{};
  for (size_t i = 1; i <= 4; ++i) gdt[i] = EncodeGdtEntry(Descriptor(static_cast<int>(i)));
  gdt[5] = 0;  // TSS descriptor high half: base bits 63..32 = 0
  return gdt;
}

Status WriteBootGdt(const RamView& ram) {
  static_assert(kGdtEntries * 8 == kGdtSize);
  if (auto s = ram.WriteObj(kGdtAddr, BootGdt()); !s) return s;
  return ram.Fill(kIdtAddr, kIdtSize, 0);
}

namespace {

void SetCommon(BootCpuState& state, uint16_t code_selector) {
  state.cs = BootSegment(code_selector);
  state.ds = state.es = state.fs = state.gs = state.ss = BootSegment(kDataSelector);
  state.tr = BootSegment(kTssSelector);
  state.ldt = Segment{};
  state.ldt.type = kTypeLdt;
  state.ldt.unusable = 1;
  state.gdt = {kGdtAddr, static_cast<uint16_t>(kGdtSize - 1)};
  state.idt = {kIdtAddr, static_cast<uint16_t>(kIdtSize - 1)};
}

}  // namespace

void SetLongModeSegments(BootCpuState& state) { SetCommon(state, kCode64Selector); }

void SetProtectedModeSegments(BootCpuState& state) { SetCommon(state, kCode32Selector); }

}  // namespace bulkhead::boot
