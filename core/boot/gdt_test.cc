#include "core/boot/gdt.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/boot/layout.h"

namespace bulkhead::boot {
namespace {

TEST(Gdt, KnownEncodings) {
  const auto gdt = BootGdt();
  EXPECT_EQ(gdt[0], 0u);
  EXPECT_EQ(gdt[1], 0x00CF9B000000FFFFull);  // 32-bit code, flat
  EXPECT_EQ(gdt[2], 0x00AF9B000000FFFFull);  // 64-bit code (L=1, D=0)
  EXPECT_EQ(gdt[3], 0x00CF93000000FFFFull);  // data, flat
  EXPECT_EQ(gdt[4], 0x00008B0000000067ull);  // busy TSS, 104 bytes
  EXPECT_EQ(gdt[5], 0u);
}

TEST(Gdt, EncodeDecodeRoundTrip) {
  Segment s;
  s.base = 0x12345678;
  s.limit = 0xABCDE;
  s.type = 0xA;
  s.present = 1;
  s.dpl = 3;
  s.s = 1;
  s.avl = 1;
  EXPECT_EQ(DecodeGdtEntry(EncodeGdtEntry(s)), s);
  s.g = 1;
  s.limit = 0x7FFF'FFFF;  // granular limits keep their low 12 bits set
  EXPECT_EQ(DecodeGdtEntry(EncodeGdtEntry(s)), s);
}

// What KVM will load into the hidden parts must match what the guest would
// load from the GDT in memory when it reloads a selector.
void ExpectMatchesMemory(const RamView& ram, const BootCpuState& st, const Segment& seg) {
  SCOPED_TRACE(seg.selector);
  ASSERT_LT(seg.selector + 8u, st.gdt.limit + 2u);
  auto raw = ram.ReadObj<uint64_t>(st.gdt.base + seg.selector);
  ASSERT_TRUE(raw);
  Segment decoded = DecodeGdtEntry(*raw);
  decoded.selector = seg.selector;
  EXPECT_EQ(decoded, seg);
}

TEST(Gdt, LongModeStateMatchesTableInMemory) {
  std::vector<uint8_t> mem(1 * MiB);
  RamView ram(mem);
  ASSERT_TRUE(WriteBootGdt(ram));
  BootCpuState st;
  SetLongModeSegments(st);
  EXPECT_EQ(st.gdt.base, kGdtAddr);
  EXPECT_EQ(st.gdt.limit, kGdtEntries * 8 - 1);
  EXPECT_EQ(st.cs.selector, 0x10);  // __BOOT_CS
  EXPECT_EQ(st.ds.selector, 0x18);  // __BOOT_DS
  EXPECT_EQ(st.cs.l, 1);
  EXPECT_EQ(st.cs.db, 0);
  for (const Segment* s : {&st.cs, &st.ds, &st.es, &st.fs, &st.gs, &st.ss, &st.tr}) {
    ExpectMatchesMemory(ram, st, *s);
  }
  EXPECT_EQ(st.ss.limit, 0xFFFFFFFFu);
  EXPECT_EQ(st.tr.s, 0);
  EXPECT_EQ(st.ldt.unusable, 1);
  // IDT is an empty (zero) gate.
  auto idt = ram.ReadObj<uint64_t>(st.idt.base);
  ASSERT_TRUE(idt);
  EXPECT_EQ(*idt, 0u);
}

TEST(Gdt, ProtectedModeUses32BitCode) {
  std::vector<uint8_t> mem(1 * MiB);
  RamView ram(mem);
  ASSERT_TRUE(WriteBootGdt(ram));
  BootCpuState st;
  SetProtectedModeSegments(st);
  EXPECT_EQ(st.cs.selector, 0x08);
  EXPECT_EQ(st.cs.db, 1);
  EXPECT_EQ(st.cs.l, 0);
  ExpectMatchesMemory(ram, st, st.cs);
  ExpectMatchesMemory(ram, st, st.ds);
}

TEST(Gdt, WriteFailsOnTooSmallRam) {
  std::vector<uint8_t> mem(0x510);
  EXPECT_FALSE(WriteBootGdt(RamView(mem)));
}

}  // namespace
}  // namespace bulkhead::boot
