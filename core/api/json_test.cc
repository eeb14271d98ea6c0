#include "core/api/json.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace bulkhead::json {
namespace {

TEST(Json, QuotesAndEscapes) {
  EXPECT_EQ(Quote(""), R"("")");
  EXPECT_EQ(Quote("serial"), R"("serial")");
  EXPECT_EQ(Quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quote("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(Quote(std::string_view("\x00\x1b\x7f", 3)), R"("\u0000\u001b\u007f")");
}

TEST(Json, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5\"");
  EXPECT_EQ(Quote("\xff"), R"("\ufffd")");
  EXPECT_EQ(Quote("\xc3"), R"("\ufffd")");            // truncated sequence at the end
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\ufffd\ufffd")");  // overlong '/'
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(Quote("a\xe2\x82z"), R"("a\ufffd\ufffdz")");
}

TEST(Json, Numbers) {
  EXPECT_EQ(Number(0), "0");
  EXPECT_EQ(Number(12.5), "12.5");
  EXPECT_EQ(Number(-3), "-3");
  EXPECT_EQ(Number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(Number(std::nan("")), "null");
}

}  // namespace
}  // namespace bulkhead::json
