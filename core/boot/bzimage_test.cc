#include "core/boot/bzimage.h"

#include <gtest/gtest.h>

#include <random>

#include "core/boot/test_images.h"
#include "core/boot/zero_page.h"

namespace bulkhead::boot {
namespace {

using testing::BzImageSpec;
using testing::MakeBzImage;

std::string ParseError(const std::vector<uint8_t>& img) {
  auto r = ParseBzImage(img);
  return r ? std::string("(parsed)") : r.error().message;
}

TEST(BzImage, ParsesAValidImage) {
  const auto img = MakeBzImage();
  auto bz = ParseBzImage(img);
  ASSERT_TRUE(bz) << bz.error().message;
  EXPECT_EQ(bz->setup_size, 5u * 512);
  EXPECT_EQ(bz->payload.size(), 64 * KiB);
  EXPECT_EQ(bz->payload.data(), img.data() + 5 * 512);
  EXPECT_EQ(bz->header_len, sizeof(setup_header));
  EXPECT_EQ(bz->header.version, 0x020F);
  EXPECT_EQ(bz->header.init_size, 8 * MiB);
}

TEST(BzImage, ZeroSetupSectsMeansFour) {
  BzImageSpec s;
  s.setup_sects = 0;
  auto bz = ParseBzImage(MakeBzImage(s));
  ASSERT_TRUE(bz);
  EXPECT_EQ(bz->setup_size, 5u * 512);
}

TEST(BzImage, ShorterHeaderIsCopiedOnlyAsFarAsItGoes) {
  BzImageSpec s;
  s.version = 0x020C;
  s.header_end_jump = 0x66;  // protocol 2.12 header ends at 0x268
  auto img = MakeBzImage(s);
  img[0x268] = 0x77;  // would be kernel_info_offset in a 2.15 header
  auto bz = ParseBzImage(img);
  ASSERT_TRUE(bz);
  EXPECT_EQ(bz->header_len, 0x268u - 0x1F1u);
  EXPECT_EQ(bz->header.kernel_info_offset, 0u);
}

TEST(BzImage, RejectsCorruptImagesWithClearMessages) {
  EXPECT_NE(ParseError(std::vector<uint8_t>(100)).find("too small"), std::string::npos);

  auto img = MakeBzImage();
  img[0x202] = 'X';
  EXPECT_NE(ParseError(img).find("HdrS"), std::string::npos);

  img = MakeBzImage();
  img[0x1FE] = 0;
  EXPECT_NE(ParseError(img).find("0xAA55"), std::string::npos);

  BzImageSpec old;
  old.version = 0x020B;
  EXPECT_NE(ParseError(MakeBzImage(old)).find("2.11 is too old"), std::string::npos);

  BzImageSpec no64;
  no64.xloadflags = 0;
  EXPECT_NE(ParseError(MakeBzImage(no64)).find("XLF_KERNEL_64"), std::string::npos);

  BzImageSpec zimage;
  zimage.loadflags = 0;
  EXPECT_NE(ParseError(MakeBzImage(zimage)).find("zImage"), std::string::npos);

  img = MakeBzImage();
  img.resize(img.size() - 4096);  // syssize still counts the cut part
  EXPECT_NE(ParseError(img).find("truncated"), std::string::npos);

  BzImageSpec bad_align;
  bad_align.kernel_alignment = 3 * MiB;
  EXPECT_NE(ParseError(MakeBzImage(bad_align)).find("power of two"), std::string::npos);

  BzImageSpec huge_setup;
  huge_setup.setup_sects = 200;
  huge_setup.payload_size = 0;
  img = MakeBzImage(huge_setup);
  img.resize(0x1000);
  EXPECT_NE(ParseError(img).find("truncated"), std::string::npos);
}

TEST(BzImage, EveryTruncationIsAnErrorNotACrash) {
  const auto img = MakeBzImage({.payload_size = 4096});
  for (size_t len = 0; len < img.size(); ++len) {
    std::vector<uint8_t> cut(img.begin(), img.begin() + static_cast<long>(len));
    EXPECT_FALSE(ParseBzImage(cut)) << len;
  }
}

TEST(BzImage, RandomHeaderCorruptionNeverCrashes) {
  const auto good = MakeBzImage({.payload_size = 4096});
  std::mt19937 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    auto img = good;
    for (int flips = 0; flips < 4; ++flips) {
      img[0x1F1 + rng() % 0x80] = static_cast<uint8_t>(rng());
    }
    auto bz = ParseBzImage(img);
    if (!bz) continue;
    // Whatever parses must describe a payload inside the image.
    EXPECT_GE(bz->payload.data(), img.data());
    EXPECT_LE(bz->payload.data() + bz->payload.size(), img.data() + img.size());
    (void)PlaceBzImage(*bz, 64 * MiB);
  }
}

TEST(BzImagePlacement, DecompressesAtPrefAddress) {
  const auto img = MakeBzImage();
  auto bz = ParseBzImage(img);
  ASSERT_TRUE(bz);
  auto p = PlaceBzImage(*bz, 64 * MiB);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->load_addr, 1 * MiB);
  EXPECT_EQ(p->entry, 1 * MiB + 0x200);
  EXPECT_EQ(p->end, 16 * MiB + 8 * MiB);
}

TEST(BzImagePlacement, KernelBiggerThanRamIsRejected) {
  BzImageSpec s;
  s.init_size = 100 * MiB;
  auto bz = ParseBzImage(MakeBzImage(s));
  ASSERT_TRUE(bz);
  auto p = PlaceBzImage(*bz, 64 * MiB);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("needs 116 MiB of low RAM"), std::string::npos)
      << p.error().message;
}

TEST(ZeroPage, CopiesHeaderAndSetsLoaderFields) {
  const auto img = MakeBzImage();
  auto bz = ParseBzImage(img);
  ASSERT_TRUE(bz);
  const std::vector<E820Entry> e820 = {{0, 0x9FC00, E820Type::kRam},
                                       {1 * MiB, 63 * MiB, E820Type::kRam},
                                       {4 * GiB, 1 * GiB, E820Type::kRam}};
  auto zp = BuildZeroPage(*bz, {.cmdline_addr = 0x20000,
                                .initrd_addr = 0x1'2345'6000,
                                .initrd_size = 0x1'0000'1000,
                                .rsdp_addr = 0xE0000,
                                .e820 = e820});
  ASSERT_TRUE(zp) << zp.error().message;
  EXPECT_EQ(zp->hdr.header, 0x53726448u);
  EXPECT_EQ(zp->hdr.version, 0x020F);
  EXPECT_EQ(zp->hdr.init_size, 8 * MiB);
  EXPECT_EQ(zp->hdr.type_of_loader, 0xFF);
  EXPECT_TRUE(zp->hdr.loadflags & CAN_USE_HEAP);
  EXPECT_TRUE(zp->hdr.loadflags & LOADED_HIGH);
  EXPECT_EQ(zp->hdr.cmd_line_ptr, 0x20000u);
  EXPECT_EQ(zp->hdr.ramdisk_image, 0x23456000u);
  EXPECT_EQ(zp->ext_ramdisk_image, 1u);
  EXPECT_EQ(zp->hdr.ramdisk_size, 0x1000u);
  EXPECT_EQ(zp->ext_ramdisk_size, 1u);
  EXPECT_EQ(zp->acpi_rsdp_addr, 0xE0000u);
  ASSERT_EQ(zp->e820_entries, 3);
  EXPECT_EQ(zp->e820_table[2].addr, 4 * GiB);
  EXPECT_EQ(zp->e820_table[2].size, 1 * GiB);
  EXPECT_EQ(zp->e820_table[2].type, 1u);
  EXPECT_EQ(zp->sentinel, 0);
}

TEST(ZeroPage, RejectsTooManyE820Entries) {
  auto bz = ParseBzImage(MakeBzImage());
  ASSERT_TRUE(bz);
  std::vector<E820Entry> e820(129, {0, 4096, E820Type::kRam});
  EXPECT_FALSE(BuildZeroPage(*bz, {.e820 = e820}));
}

}  // namespace
}  // namespace bulkhead::boot
