#include "core/boot/aml.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace bulkhead::boot::aml {
namespace {

Bytes B(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Aml, PkgLengthBoundaries) {
  EXPECT_EQ(PkgLength(0), B({0x01}));
  EXPECT_EQ(PkgLength(62), B({0x3F}));                // largest one-byte length
  EXPECT_EQ(PkgLength(63), B({0x41, 0x04}));          // total 65 = 0x041
  EXPECT_EQ(PkgLength(4093), B({0x4F, 0xFF}));        // total 0xFFF, largest two-byte
  EXPECT_EQ(PkgLength(4094), B({0x81, 0x00, 0x01}));  // total 0x1001
  EXPECT_EQ(PkgLength(0xFFFFF - 3), B({0x8F, 0xFF, 0xFF}));
  EXPECT_EQ(PkgLength(0xFFFFF - 2), B({0xC1, 0x00, 0x00, 0x01}));  // total 0x100001
  EXPECT_THROW(PkgLength(size_t{1} << 28), std::invalid_argument);
}

TEST(Aml, NameStrings) {
  EXPECT_EQ(NameString("PCI0"), Str("PCI0"));
  EXPECT_EQ(NameString("_S5"), Str("_S5_"));
  EXPECT_EQ(NameString("\\_S5"), Str("\\_S5_"));
  EXPECT_EQ(NameString("\\_SB.PCI0"), Cat({Str("\\"), B({0x2E}), Str("_SB_PCI0")}));
  EXPECT_EQ(NameString("\\_SB.PCI0.S08"), Cat({Str("\\"), B({0x2F, 3}), Str("_SB_PCI0S08_")}));
  EXPECT_EQ(NameString("^^FOO"), Str("^^FOO_"));
  EXPECT_EQ(NameString("\\"), B({'\\', 0x00}));
  EXPECT_THROW(NameString("pci0"), std::invalid_argument);
  EXPECT_THROW(NameString("TOOLONG"), std::invalid_argument);
  EXPECT_THROW(NameString("0ABC"), std::invalid_argument);
  EXPECT_THROW(NameString("A..B"), std::invalid_argument);
  EXPECT_THROW(NameString("AB."), std::invalid_argument);
}

TEST(Aml, Integers) {
  EXPECT_EQ(Integer(0), B({0x00}));
  EXPECT_EQ(Integer(1), B({0x01}));
  EXPECT_EQ(Integer(5), B({0x0A, 0x05}));
  EXPECT_EQ(Integer(0xFF), B({0x0A, 0xFF}));
  EXPECT_EQ(Integer(0x1234), B({0x0B, 0x34, 0x12}));
  EXPECT_EQ(Integer(0x12345678), B({0x0C, 0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(Integer(0x1'0000'0000), B({0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(DWord(0xFFFF), B({0x0C, 0xFF, 0xFF, 0, 0}));
}

TEST(Aml, StringsAndEisaIds) {
  EXPECT_EQ(String("ab"), B({0x0D, 'a', 'b', 0}));
  EXPECT_THROW(String(std::string_view("a\0b", 3)), std::invalid_argument);
  // Values every ACPI table dump shows for these IDs.
  EXPECT_EQ(EisaIdValue("PNP0A03"), 0x030AD041u);
  EXPECT_EQ(EisaIdValue("PNP0A08"), 0x080AD041u);
  EXPECT_EQ(EisaIdValue("PNP0501"), 0x0105D041u);
  EXPECT_EQ(EisaId("PNP0A03"), B({0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  EXPECT_THROW(EisaIdValue("PNP0A0"), std::invalid_argument);
  EXPECT_THROW(EisaIdValue("pnp0A03"), std::invalid_argument);
  EXPECT_THROW(EisaIdValue("PNP0A0G"), std::invalid_argument);
}

TEST(Aml, S5Package) {
  // The well-known encoding of Name(\_S5, Package(){5, 5, 0, 0}) minus the root.
  EXPECT_EQ(Name("_S5", Package({Integer(5), Integer(5), Integer(0), Integer(0)})),
            B({0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}));
  std::vector<Bytes> many(256, Integer(0));
  EXPECT_THROW(Package(many), std::invalid_argument);
}

TEST(Aml, LargePackageUsesTwoByteLength) {
  std::vector<Bytes> elems(100, Integer(0x1234));  // 300 bytes of elements
  const Bytes p = Package(elems);
  ASSERT_GE(p.size(), 3u);
  EXPECT_EQ(p[0], 0x12);
  EXPECT_EQ(p[1] >> 6, 1);  // one extra length byte
  const size_t len = (p[1] & 0xF) | (size_t{p[2]} << 4);
  EXPECT_EQ(len, p.size() - 1);  // PkgLength covers everything after the opcode
  EXPECT_EQ(p[3], 100);
}

TEST(Aml, DeviceAndScope) {
  EXPECT_EQ(Device("PCI0", {}), Cat({B({0x5B, 0x82, 0x05}), Str("PCI0")}));
  EXPECT_EQ(Scope("\\_SB", {Name("_UID", Integer(0))}),
            Cat({B({0x10, 0x0C}), Str("\\_SB_"), B({0x08}), Str("_UID"), B({0x00})}));
}

TEST(Aml, ResourceDescriptors) {
  EXPECT_EQ(IrqNoFlags(4), B({0x22, 0x10, 0x00}));
  EXPECT_EQ(IrqNoFlags(8), B({0x22, 0x00, 0x01}));
  EXPECT_THROW(IrqNoFlags(16), std::invalid_argument);
  EXPECT_EQ(IoPort(0xCF8, 0xCF8, 1, 8), B({0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08}));
  EXPECT_EQ(WordBusNumber(0, 0xFF),
            B({0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 1}));
  EXPECT_EQ(WordIo(0x0D00, 0xFFFF), B({0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0, 0, 0x00, 0x0D, 0xFF,
                                       0xFF, 0, 0, 0x00, 0xF3}));
  const Bytes d = DWordMemory(0xC0000000, 0xFEBFFFFF, false);
  ASSERT_EQ(d.size(), 3u + 23u - 3u + 3u);  // tag + 2-byte length + 23 bytes
  EXPECT_EQ(d[0], 0x87);
  EXPECT_EQ(d[1], 23);
  EXPECT_EQ(d[3], 0);     // memory
  EXPECT_EQ(d[5], 0x01);  // read-write, non-cacheable
  const Bytes q = QWordMemory(0x2'0000'0000, 0x3'FFFF'FFFF, true);
  ASSERT_EQ(q.size(), 46u);
  EXPECT_EQ(q[0], 0x8A);
  EXPECT_EQ(q[1], 43);
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= uint64_t{q[38 + i]} << (8 * i);
  EXPECT_EQ(length, 0x2'0000'0000u);
  EXPECT_EQ(ResourceTemplate({}), B({0x11, 0x05, 0x0A, 0x02, 0x79, 0x00}));
}

}  // namespace
}  // namespace bulkhead::boot::aml
