#include "core/backends/device_options.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/backends/disk_image.h"

namespace bulkhead {
namespace {

TEST(DeviceOptions, Net) {
  auto n = ParseNetOptions("tap=bh0,mac=02:00:00:aa:bb:cc");
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->tap, "bh0");
  EXPECT_EQ(n->mac, (MacAddress{0x02, 0, 0, 0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(ParseNetOptions("tap=bh0")->mac, kDefaultMac);
  EXPECT_FALSE(ParseNetOptions("mac=02:00:00:aa:bb:cc"));          // no tap
  EXPECT_FALSE(ParseNetOptions("tap=averyveryverylongname"));        // > 15 chars
  EXPECT_FALSE(ParseNetOptions("tap=bh0,mac=02:00:00:aa:bb"));       // short
  EXPECT_FALSE(ParseNetOptions("tap=bh0,mac=02:00:00:aa:bb:zz"));    // not hex
  EXPECT_FALSE(ParseNetOptions("tap=bh0,mac=01:00:5e:00:00:01"));    // multicast
  EXPECT_FALSE(ParseNetOptions("tap=bh0,vhost=on"));                 // unknown
  auto err = ParseNetOptions("tap=bh0,mac=nonsense");
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("nonsense"), std::string::npos);
}

TEST(DeviceOptions, Disk) {
  auto d = ParseDiskOptions("path=/tmp/x.img,readonly", false);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, "/tmp/x.img");
  EXPECT_TRUE(d->readonly);
  EXPECT_FALSE(ParseDiskOptions("readonly", false));
  EXPECT_FALSE(ParseDiskOptions("path=/x,readonly", true)) << "a CD-ROM takes path= only";
  EXPECT_TRUE(ParseDiskOptions("path=/x.iso", true)->readonly);
  EXPECT_FALSE(ParseDiskOptions("path=/x,cache=none", false));
}

class DiskImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bulkhead-disk-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::string File(const char* name, off_t size) {
    const std::string path = dir_ + "/" + name;
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::ftruncate(fd, size), 0);
    ::close(fd);
    return path;
  }
  std::string dir_;
};

TEST_F(DiskImageTest, OpensGoodImagesAndNamesEveryProblem) {
  auto ok = OpenDiskImage({File("ok.img", 1 << 20), false}, false);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->size, 1u << 20);
  auto second = OpenDiskImage({dir_ + "/ok.img", false}, false);
  ASSERT_FALSE(second) << "a second writer is refused";
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);

  auto odd = OpenDiskImage({File("odd.img", 1000), false}, false);
  ASSERT_FALSE(odd);
  EXPECT_NE(odd.error().message.find("not a multiple of 512"), std::string::npos);
  auto dir = OpenDiskImage({dir_, false}, false);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message.find("is a directory"), std::string::npos);
  auto missing = OpenDiskImage({dir_ + "/missing.img", false}, false);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);
  EXPECT_FALSE(OpenDiskImage({File("cd.iso", 2048 * 3 + 512), true}, true));
  EXPECT_TRUE(OpenDiskImage({File("cd2.iso", 2048 * 3), true}, true));
}

}  // namespace
}  // namespace bulkhead
