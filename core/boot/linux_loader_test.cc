#include "core/boot/linux_loader.h"

#include <asm/bootparam.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/boot/gdt.h"
#include "core/boot/page_tables.h"
#include "core/boot/pvh.h"
#include "core/boot/ram_view.h"
#include "core/boot/test_images.h"

namespace bulkhead::boot {
namespace {

using testing::BzImageSpec;
using testing::MakeBzImage;
using testing::MakePvhElf;

class LinuxLoader : public ::testing::Test {
 protected:
  void SetUpRam(uint64_t size) {
    layout_ = *MemoryLayout::ForRamSize(size);
    ram_.assign(layout_.low_ram_end, 0);
  }

  Result<BootCpuState> Load(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd = {},
                            std::string_view cmdline = "console=ttyS0", int cpus = 2) {
    return LoadLinux(ram_, layout_, kernel, initrd, cmdline, cpus);
  }

  boot_params ZeroPage() const {
    boot_params bp;
    std::memcpy(&bp, ram_.data() + kZeroPageAddr, sizeof(bp));
    return bp;
  }

  std::string ErrorOf(const Result<BootCpuState>& r) const {
    return r ? std::string("(loaded)") : r.error().message;
  }

  MemoryLayout layout_;
  std::vector<uint8_t> ram_;
};

TEST_F(LinuxLoader, BzImageEndToEnd) {
  SetUpRam(64 * MiB);
  const auto kernel = MakeBzImage();
  const std::vector<uint8_t> initrd(100'000, 0x42);
  auto st = Load(kernel, initrd, "console=ttyS0 root=/dev/sda");
  ASSERT_TRUE(st) << st.error().message;

  // 64-bit boot protocol register state.
  EXPECT_EQ(st->rip, 1 * MiB + 0x200);
  EXPECT_EQ(st->rsi, kZeroPageAddr);
  EXPECT_EQ(st->cs.selector, 0x10);
  EXPECT_EQ(st->ds.selector, 0x18);
  EXPECT_EQ(st->ss.selector, 0x18);
  EXPECT_EQ(st->cs.l, 1);
  EXPECT_TRUE(st->cr0 & kCr0Pg);
  EXPECT_TRUE(st->efer & kEferLma);
  EXPECT_EQ(st->rflags, 2u);

  // Payload at 1 MiB.
  EXPECT_EQ(0,
            std::memcmp(ram_.data() + 1 * MiB, kernel.data() + 5 * 512, kernel.size() - 5 * 512));

  // Zero page.
  const boot_params bp = ZeroPage();
  EXPECT_EQ(bp.hdr.header, 0x53726448u);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xFF);
  EXPECT_EQ(bp.hdr.cmd_line_ptr, kCmdlineAddr);
  EXPECT_STREQ(reinterpret_cast<const char*>(ram_.data() + kCmdlineAddr),
               "console=ttyS0 root=/dev/sda");
  EXPECT_EQ(bp.acpi_rsdp_addr, kAcpiStart);
  EXPECT_EQ(0, std::memcmp(ram_.data() + kAcpiStart, "RSD PTR ", 8));
  EXPECT_EQ(bp.e820_entries, 7);

  // Initrd: at the top of low RAM, page aligned, intact, above the kernel.
  const uint64_t initrd_addr = bp.hdr.ramdisk_image | uint64_t{bp.ext_ramdisk_image} << 32;
  EXPECT_EQ(bp.hdr.ramdisk_size, initrd.size());
  EXPECT_EQ(initrd_addr % 4096, 0u);
  EXPECT_LE(initrd_addr + initrd.size(), 64 * MiB);
  EXPECT_GT(initrd_addr + initrd.size(), 64 * MiB - 4096);
  EXPECT_GE(initrd_addr, 24 * MiB);  // pref_address + init_size
  EXPECT_EQ(0, std::memcmp(ram_.data() + initrd_addr, initrd.data(), initrd.size()));

  // Identity map covers entry, zero page, command line and the initrd.
  RamView view(ram_);
  for (uint64_t a : {st->rip, st->rsi, uint64_t{kCmdlineAddr}, initrd_addr, 24 * MiB - 1}) {
    EXPECT_EQ(WalkPageTables(view, st->cr3, a), a) << std::hex << a;
  }
  // The GDT in memory agrees with the segment registers.
  auto cs = view.ReadObj<uint64_t>(st->gdt.base + st->cs.selector);
  ASSERT_TRUE(cs);
  Segment decoded = DecodeGdtEntry(*cs);
  decoded.selector = st->cs.selector;
  EXPECT_EQ(decoded, st->cs);
}

TEST_F(LinuxLoader, InitrdRespectsInitrdAddrMax) {
  SetUpRam(64 * MiB);
  BzImageSpec s;
  s.initrd_addr_max = 40 * MiB - 1;
  const std::vector<uint8_t> initrd(5000, 1);
  auto st = Load(MakeBzImage(s), initrd);
  ASSERT_TRUE(st) << st.error().message;
  const boot_params bp = ZeroPage();
  EXPECT_EQ(bp.hdr.ramdisk_image, 40 * MiB - 8192);  // 5000 bytes rounded down to a page
}

TEST_F(LinuxLoader, InitrdThatDoesNotFitIsRejected) {
  SetUpRam(64 * MiB);
  const std::vector<uint8_t> big(41 * MiB, 0);  // kernel owns up to 24 MiB
  EXPECT_NE(ErrorOf(Load(MakeBzImage(), big)).find("initrd of 41 MiB does not fit"),
            std::string::npos);
  BzImageSpec s;
  s.initrd_addr_max = 25 * MiB - 1;  // 1 MiB between kernel end and the limit
  const std::vector<uint8_t> two_mib(2 * MiB, 0);
  EXPECT_NE(ErrorOf(Load(MakeBzImage(s), two_mib)).find("initrd"), std::string::npos);
}

TEST_F(LinuxLoader, CommandLineChecks) {
  SetUpRam(64 * MiB);
  BzImageSpec s;
  s.cmdline_size = 16;
  const auto kernel = MakeBzImage(s);
  EXPECT_TRUE(Load(kernel, {}, std::string(16, 'x')));
  EXPECT_NE(ErrorOf(Load(kernel, {}, std::string(17, 'x'))).find("at most 16"), std::string::npos);
  EXPECT_NE(ErrorOf(Load(kernel, {}, std::string_view("a\0b", 3))).find("NUL"), std::string::npos);
}

TEST_F(LinuxLoader, KernelBiggerThanRam) {
  SetUpRam(16 * MiB);
  EXPECT_NE(
      ErrorOf(Load(MakeBzImage())).find("needs 24 MiB of low RAM to boot but the guest has 16"),
      std::string::npos);
  BzImageSpec s;
  s.payload_size = 40 * MiB;
  s.init_size = 0;
  EXPECT_NE(ErrorOf(Load(MakeBzImage(s))).find("of low RAM"), std::string::npos);
}

TEST_F(LinuxLoader, GarbageKernelAndBadArguments) {
  SetUpRam(32 * MiB);
  std::vector<uint8_t> garbage(1 * MiB, 0x90);
  EXPECT_NE(ErrorOf(Load(garbage)).find("0xAA55"), std::string::npos);
  EXPECT_FALSE(Load({}));
  EXPECT_NE(ErrorOf(Load(MakeBzImage(), {}, "", 0)).find("vCPUs"), std::string::npos);
  std::vector<uint8_t> small(1 * MiB);
  EXPECT_FALSE(LoadLinux(small, layout_, MakeBzImage(), {}, "", 1));
}

TEST_F(LinuxLoader, PvhEndToEnd) {
  SetUpRam(32 * MiB);
  const auto elf =
      MakePvhElf({{16 * MiB, std::vector<uint8_t>(4096, 0xC3), 8 * MiB}}, 16 * MiB + 0x40);
  const std::vector<uint8_t> initrd(3000, 7);
  auto st = Load(elf, initrd, "console=hvc0");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->rip, 16 * MiB + 0x40);
  EXPECT_EQ(st->rbx, kPvhStartInfoAddr);
  EXPECT_EQ(st->cs.selector, kCode32Selector);
  EXPECT_EQ(st->cs.db, 1);
  EXPECT_EQ(st->cr0 & (kCr0Pe | kCr0Pg), kCr0Pe);
  EXPECT_EQ(st->efer, 0u);
  EXPECT_EQ(st->cr4, 0u);
  RamView view(ram_);
  auto si = view.ReadObj<HvmStartInfo>(kPvhStartInfoAddr);
  ASSERT_TRUE(si);
  EXPECT_EQ(si->magic, kHvmStartMagic);
  EXPECT_EQ(si->rsdp_paddr, kAcpiStart);
  EXPECT_STREQ(reinterpret_cast<const char*>(ram_.data() + si->cmdline_paddr), "console=hvc0");
  auto mod = view.ReadObj<HvmModlistEntry>(si->modlist_paddr);
  ASSERT_TRUE(mod);
  EXPECT_EQ(mod->size, 3000u);
  EXPECT_GE(mod->paddr, 24 * MiB);  // above the kernel's bss
  EXPECT_EQ(mod->paddr % 4096, 0u);
  EXPECT_EQ(ram_[mod->paddr], 7);
  EXPECT_EQ(si->memmap_entries, 7u);
}

TEST(PlaceInitrd, Arithmetic) {
  EXPECT_EQ(PlaceInitrd(1, 0, 8192), 4096u);
  EXPECT_EQ(PlaceInitrd(4096, 0, 8192), 4096u);
  EXPECT_EQ(PlaceInitrd(4097, 0, 8192), 0u);
  EXPECT_FALSE(PlaceInitrd(4097, 1, 8192));
  EXPECT_FALSE(PlaceInitrd(8193, 0, 8192));
  EXPECT_FALSE(PlaceInitrd(~0ull, 0, 8192));
}

// Smoke test against a real distribution kernel, when this machine has one.
TEST_F(LinuxLoader, RealDebianKernel) {
  const char* path = "/tmp/k/root/boot/vmlinuz-6.1.0-57-amd64";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  std::vector<uint8_t> kernel(std::filesystem::file_size(path));
  std::ifstream(path, std::ios::binary)
      .read(reinterpret_cast<char*>(kernel.data()), static_cast<std::streamsize>(kernel.size()));
  SetUpRam(256 * MiB);
  const std::vector<uint8_t> initrd(4 * MiB, 0x5A);
  auto st = Load(kernel, initrd, "console=ttyS0 panic=-1", 4);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->rip, 1 * MiB + 0x200);
  const boot_params bp = ZeroPage();
  EXPECT_EQ(bp.hdr.version, 0x020F);
  EXPECT_EQ(bp.hdr.type_of_loader, 0xFF);
  EXPECT_GE(bp.hdr.ramdisk_image, 16 * MiB + bp.hdr.init_size);
  // Too little RAM for its 64 MiB decompression buffer above 16 MiB.
  SetUpRam(64 * MiB);
  auto small = Load(kernel);
  ASSERT_FALSE(small);
  EXPECT_NE(small.error().message.find("needs"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::boot
