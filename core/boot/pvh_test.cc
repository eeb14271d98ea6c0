#include "core/boot/pvh.h"

#include <gtest/gtest.h>

#include "core/boot/layout.h"
#include "core/boot/test_images.h"

namespace bulkhead::boot {
namespace {

using testing::ElfSegment;
using testing::MakePvhElf;

class Pvh : public ::testing::Test {
 protected:
  std::vector<uint8_t> mem_ = std::vector<uint8_t>(8 * MiB, 0xEE);
  RamView ram_{mem_};
};

TEST_F(Pvh, LoadsSegmentsAndZeroesBss) {
  const auto elf = MakePvhElf({{1 * MiB, {1, 2, 3, 4}, 0x100}, {3 * MiB, {9, 9}, 2}}, 0x1000123);
  auto k = LoadPvhElf(ram_, elf);
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->entry, 0x1000123u);
  EXPECT_EQ(k->end, 3 * MiB + 2);
  EXPECT_EQ(mem_[1 * MiB + 0], 1);
  EXPECT_EQ(mem_[1 * MiB + 3], 4);
  for (uint64_t a = 1 * MiB + 4; a < 1 * MiB + 0x100; ++a) ASSERT_EQ(mem_[a], 0) << a;
  EXPECT_EQ(mem_[1 * MiB + 0x100], 0xEE);  // nothing past memsz
  EXPECT_EQ(mem_[3 * MiB + 1], 9);
}

TEST_F(Pvh, AcceptsFourByteEntryNote) {
  auto k = LoadPvhElf(ram_, MakePvhElf({{1 * MiB, {1}, 1}}, 0x100040, 4));
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->entry, 0x100040u);
}

TEST_F(Pvh, RejectsBadImages) {
  auto err = [&](const std::vector<uint8_t>& elf) {
    auto k = LoadPvhElf(ram_, elf);
    return k ? std::string("(loaded)") : k.error().message;
  };
  EXPECT_NE(err(MakePvhElf({{1 * MiB, {1}, 1}}, 0)).find("no PVH entry note"), std::string::npos);
  EXPECT_NE(err(MakePvhElf({{0x8000, {1}, 1}}, 0x100000)).find("outside guest RAM"),
            std::string::npos);
  EXPECT_NE(err(MakePvhElf({{7 * MiB, {1}, 2 * MiB}}, 0x100000)).find("outside guest RAM"),
            std::string::npos);
  EXPECT_NE(err(MakePvhElf({{~0ull - 10, {1}, 100}}, 0x100000)).find("outside guest RAM"),
            std::string::npos);
  EXPECT_NE(err(MakePvhElf({{1 * MiB, {1, 2}, 1}}, 0x100000)).find("memsz < filesz"),
            std::string::npos);
  EXPECT_NE(err(MakePvhElf({{1 * MiB, {1}, 1}}, 0x1'0000'0000)).find("above 4 GiB"),
            std::string::npos);
  EXPECT_NE(err(MakePvhElf({{1 * MiB, {1}, 1}}, 0x100000, 2)).find("2-byte"), std::string::npos)
      << err(MakePvhElf({{1 * MiB, {1}, 1}}, 0x100000, 2));
  auto elf = MakePvhElf({{1 * MiB, {1}, 1}}, 0x100000);
  elf[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(err(elf).find("ELF64"), std::string::npos);
  EXPECT_NE(err({0x7F, 'E', 'L', 'F'}).find("not an ELF"), std::string::npos);
}

TEST_F(Pvh, FailedLoadLeavesRamUntouched) {
  // The second segment is bad: validation happens before any copy.
  const auto elf = MakePvhElf({{1 * MiB, {1, 2, 3}, 3}, {0x1000, {1}, 1}}, 0x100000);
  ASSERT_FALSE(LoadPvhElf(ram_, elf));
  EXPECT_EQ(mem_[1 * MiB], 0xEE);
}

TEST_F(Pvh, EveryTruncationIsAnErrorNotACrash) {
  const auto elf = MakePvhElf({{1 * MiB, std::vector<uint8_t>(64, 5), 64}}, 0x100000);
  ASSERT_TRUE(LoadPvhElf(ram_, elf));
  for (size_t len = 0; len < elf.size(); ++len) {
    std::vector<uint8_t> cut(elf.begin(), elf.begin() + static_cast<long>(len));
    EXPECT_FALSE(LoadPvhElf(ram_, cut)) << len;
  }
}

TEST_F(Pvh, StartInfoWithModuleAndMemmap) {
  const std::vector<E820Entry> map = {{0, 0x9FC00, E820Type::kRam},
                                      {0xE0000, 0x20000, E820Type::kAcpi},
                                      {1 * MiB, 7 * MiB, E820Type::kRam}};
  auto addr = WritePvhStartInfo(ram_, {.cmdline_addr = kCmdlineAddr,
                                       .initrd_addr = 6 * MiB,
                                       .initrd_size = 12345,
                                       .rsdp_addr = kAcpiStart,
                                       .memmap = map});
  ASSERT_TRUE(addr);
  EXPECT_EQ(*addr, kPvhStartInfoAddr);
  auto si = ram_.ReadObj<HvmStartInfo>(*addr);
  ASSERT_TRUE(si);
  EXPECT_EQ(si->magic, kHvmStartMagic);
  EXPECT_EQ(si->version, 1u);
  EXPECT_EQ(si->cmdline_paddr, kCmdlineAddr);
  EXPECT_EQ(si->rsdp_paddr, kAcpiStart);
  ASSERT_EQ(si->nr_modules, 1u);
  auto mod = ram_.ReadObj<HvmModlistEntry>(si->modlist_paddr);
  ASSERT_TRUE(mod);
  EXPECT_EQ(mod->paddr, 6 * MiB);
  EXPECT_EQ(mod->size, 12345u);
  ASSERT_EQ(si->memmap_entries, 3u);
  auto e = ram_.ReadObj<HvmMemmapEntry>(si->memmap_paddr + 2 * sizeof(HvmMemmapEntry));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->addr, 1 * MiB);
  EXPECT_EQ(e->size, 7 * MiB);
  EXPECT_EQ(e->type, 1u);
  auto acpi = ram_.ReadObj<HvmMemmapEntry>(si->memmap_paddr + sizeof(HvmMemmapEntry));
  EXPECT_EQ(acpi->type, 3u);
}

TEST_F(Pvh, NoInitrdMeansNoModules) {
  auto addr = WritePvhStartInfo(ram_, {.cmdline_addr = kCmdlineAddr});
  ASSERT_TRUE(addr);
  auto si = ram_.ReadObj<HvmStartInfo>(*addr);
  EXPECT_EQ(si->nr_modules, 0u);
  EXPECT_EQ(si->modlist_paddr, 0u);
}

}  // namespace
}  // namespace bulkhead::boot
