#include "core/size_parser.h"

#include <gtest/gtest.h>

namespace bulkhead {
namespace {

TEST(ParseSize, UnitsAndBareMiB) {
  EXPECT_EQ(*ParseSize("512M"), 512ull << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("64k"), 64ull << 10);
  EXPECT_EQ(*ParseSize("256"), 256ull << 20);
}

TEST(ParseSize, RejectsGarbage) {
  for (const char* bad : {"", "M", "12X", "1.5G", "-1G", "0", "12MB", "99999999999999999999G", "20000000T"}) {
    EXPECT_FALSE(ParseSize(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace bulkhead
