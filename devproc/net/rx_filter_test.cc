// Which frames the guest gets under each RX mode and MAC table, as Linux's
// virtnet_set_rx_mode programs them.
#include "devproc/net/rx_filter.h"

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace bulkhead::net {
namespace {

using Mac = std::array<uint8_t, 6>;
constexpr Mac kOwn = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kOther = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
constexpr Mac kListedUc = {0x02, 0x00, 0x00, 0x00, 0x00, 0x07};
constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Mac kListedMc = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
constexpr Mac kOtherMc = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};

std::vector<uint8_t> Frame(const Mac& dst) {
  std::vector<uint8_t> f(60, 0);
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, kOther.data(), 6);
  return f;
}

class RxFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uint8_t mac[6];
    std::memcpy(mac, kOwn.data(), 6);
    ResetNetState(s_, mac);
    s_.promisc = 0;
    std::memcpy(s_.uc[0], kListedUc.data(), 6);
    s_.uc_count = 1;
    std::memcpy(s_.mc[0], kListedMc.data(), 6);
    s_.mc_count = 1;
  }
  bool Accepts(const Mac& dst) { return AcceptFrame(s_, Frame(dst)); }

  NetState s_{};
};

TEST_F(RxFilterTest, PowerOnIsPromiscuous) {
  NetState fresh{};
  uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
  ResetNetState(fresh, mac);
  EXPECT_TRUE(AcceptFrame(fresh, Frame(kOther)));
  EXPECT_TRUE(AcceptFrame(fresh, Frame(kOtherMc)));
}

TEST_F(RxFilterTest, DefaultFilteredMode) {
  EXPECT_TRUE(Accepts(kOwn));
  EXPECT_TRUE(Accepts(kListedUc));
  EXPECT_FALSE(Accepts(kOther));
  EXPECT_TRUE(Accepts(kBroadcast));
  EXPECT_TRUE(Accepts(kListedMc));
  EXPECT_FALSE(Accepts(kOtherMc));
}

TEST_F(RxFilterTest, Promiscuous) {
  s_.promisc = 1;
  s_.nouni = s_.nomulti = s_.nobcast = 1;  // promisc wins
  for (const Mac& m : {kOwn, kOther, kBroadcast, kOtherMc}) EXPECT_TRUE(Accepts(m));
}

TEST_F(RxFilterTest, AllMulticastAndNoMulticast) {
  s_.allmulti = 1;
  EXPECT_TRUE(Accepts(kOtherMc));
  EXPECT_FALSE(Accepts(kOther));
  s_.nomulti = 1;  // no-multicast beats all-multicast
  EXPECT_FALSE(Accepts(kOtherMc));
  EXPECT_FALSE(Accepts(kListedMc));
  EXPECT_TRUE(Accepts(kBroadcast)) << "broadcast is not multicast here";
}

TEST_F(RxFilterTest, AllUnicastAndNoUnicast) {
  s_.alluni = 1;
  EXPECT_TRUE(Accepts(kOther));
  EXPECT_FALSE(Accepts(kOtherMc));
  s_.nouni = 1;
  EXPECT_FALSE(Accepts(kOther));
  EXPECT_FALSE(Accepts(kOwn)) << "no-unicast refuses even the device's own address";
  EXPECT_TRUE(Accepts(kListedMc));
}

TEST_F(RxFilterTest, NoBroadcast) {
  s_.nobcast = 1;
  EXPECT_FALSE(Accepts(kBroadcast));
  EXPECT_TRUE(Accepts(kOwn));
}

TEST_F(RxFilterTest, TableOverflowAcceptsItsKind) {
  s_.uni_overflow = 1;
  EXPECT_TRUE(Accepts(kOther));
  EXPECT_FALSE(Accepts(kOtherMc));
  s_.uni_overflow = 0;
  s_.multi_overflow = 1;
  EXPECT_TRUE(Accepts(kOtherMc));
  EXPECT_FALSE(Accepts(kOther));
}

TEST_F(RxFilterTest, CountsBeyondTheTableAreClamped) {
  // A region left by a compromised predecessor: the count is not trusted.
  s_.uc_count = 0xffffffff;
  EXPECT_FALSE(Accepts(kOther));
  EXPECT_TRUE(Accepts(kListedUc));
}

TEST_F(RxFilterTest, RuntsAreRefused) {
  const std::vector<uint8_t> runt(5, 0xff);
  s_.promisc = 1;
  EXPECT_FALSE(AcceptFrame(s_, runt));
}

}  // namespace
}  // namespace bulkhead::net
