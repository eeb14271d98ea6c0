// Control-queue commands as Linux sends them, and malformed ones: every bad
// command is VIRTIO_NET_ERR and leaves the state unchanged.
#include "devproc/net/ctrl_command.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "devproc/net/net_spec.h"
#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::net {
namespace {

using virtio::Bit;

constexpr uint64_t kAll = Bit(kFCtrlVq) | Bit(kFCtrlRx) | Bit(kFCtrlRxExtra) | Bit(kFCtrlMacAddr);

std::vector<uint8_t> Cmd(uint8_t cls, uint8_t cmd, std::vector<uint8_t> data = {}) {
  // push_back rather than insert: GCC 12 warns (falsely) on the insert.
  std::vector<uint8_t> v;
  v.push_back(cls);
  v.push_back(cmd);
  for (uint8_t b : data) v.push_back(b);
  return v;
}

// le32 count + entries, as virtnet_set_rx_mode lays out each table.
void AppendTable(std::vector<uint8_t>& v, const std::vector<std::vector<uint8_t>>& macs,
                 uint32_t claimed) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(claimed >> (8 * i)));
  for (const auto& m : macs) v.insert(v.end(), m.begin(), m.end());
}

class CtrlCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 1};
    ResetNetState(s_, mac);
  }
  uint8_t Run(const std::vector<uint8_t>& c, uint64_t f = kAll) {
    return HandleCtrlCommand(s_, f, c).ack;
  }
  NetState s_{};
};

TEST_F(CtrlCommandTest, RxModes) {
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxPromisc, {0})), kAckOk);
  EXPECT_EQ(s_.promisc, 0);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxAllmulti, {1})), kAckOk);
  EXPECT_EQ(s_.allmulti, 1);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxAlluni, {1})), kAckOk);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxNomulti, {1})), kAckOk);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxNouni, {1})), kAckOk);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxNobcast, {1})), kAckOk);
  EXPECT_EQ(s_.alluni + s_.nomulti + s_.nouni + s_.nobcast, 4);
}

TEST_F(CtrlCommandTest, BadRxCommands) {
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxPromisc, {2})), kAckErr);    // not 0/1
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxPromisc, {0, 0})), kAckErr); // too long
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxPromisc)), kAckErr);         // no data
  EXPECT_EQ(Run(Cmd(kCtrlRx, 6, {1})), kAckErr);                 // no such command
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxAlluni, {1}), kAll & ~Bit(kFCtrlRxExtra)), kAckErr);
  EXPECT_EQ(Run(Cmd(kCtrlRx, kCtrlRxPromisc, {0}), Bit(kFCtrlVq)), kAckErr);
  EXPECT_EQ(Run({kCtrlRx}), kAckErr);
  EXPECT_EQ(Run({}), kAckErr);
  EXPECT_EQ(Run(Cmd(2, 0, {0, 0})), kAckErr);  // VLAN: not offered
  EXPECT_EQ(s_.promisc, 1) << "nothing changed";
  EXPECT_EQ(s_.alluni, 0);
}

TEST_F(CtrlCommandTest, MacTableSet) {
  auto c = Cmd(kCtrlMac, kCtrlMacTableSet);
  AppendTable(c, {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}}, 2);
  AppendTable(c, {{1, 0, 0x5e, 0, 0, 1}}, 1);
  EXPECT_EQ(Run(c), kAckOk);
  EXPECT_EQ(s_.uc_count, 2u);
  EXPECT_EQ(s_.mc_count, 1u);
  EXPECT_EQ(s_.uc[1][5], 2);
  EXPECT_EQ(s_.mc[0][2], 0x5e);
  EXPECT_EQ(s_.uni_overflow + s_.multi_overflow, 0);

  // Empty tables clear.
  auto e = Cmd(kCtrlMac, kCtrlMacTableSet);
  AppendTable(e, {}, 0);
  AppendTable(e, {}, 0);
  EXPECT_EQ(Run(e), kAckOk);
  EXPECT_EQ(s_.uc_count + s_.mc_count, 0u);
}

TEST_F(CtrlCommandTest, MacTableOverflow) {
  std::vector<std::vector<uint8_t>> many;
  for (uint32_t i = 0; i < kMacTableEntries + 3; ++i) {
    many.push_back({1, 0, 0x5e, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
  }
  auto c = Cmd(kCtrlMac, kCtrlMacTableSet);
  AppendTable(c, {}, 0);
  AppendTable(c, many, static_cast<uint32_t>(many.size()));
  EXPECT_EQ(Run(c), kAckOk);
  EXPECT_EQ(s_.mc_count, kMacTableEntries);
  EXPECT_EQ(s_.multi_overflow, 1);
  EXPECT_EQ(s_.uni_overflow, 0);
}

TEST_F(CtrlCommandTest, MalformedMacTables) {
  // Count larger than the data (and one that would overflow count*6).
  for (uint32_t claimed : {2u, 0x2aaaaaabu, 0xffffffffu}) {
    auto c = Cmd(kCtrlMac, kCtrlMacTableSet);
    AppendTable(c, {{2, 0, 0, 0, 0, 1}}, claimed);
    AppendTable(c, {}, 0);
    EXPECT_EQ(Run(c), kAckErr) << claimed;
  }
  // Missing second table, trailing bytes, truncated count.
  auto one = Cmd(kCtrlMac, kCtrlMacTableSet);
  AppendTable(one, {{2, 0, 0, 0, 0, 1}}, 1);
  EXPECT_EQ(Run(one), kAckErr);
  auto trailing = one;
  AppendTable(trailing, {}, 0);
  trailing.push_back(0);
  EXPECT_EQ(Run(trailing), kAckErr);
  auto truncated = Cmd(kCtrlMac, kCtrlMacTableSet, {0, 0, 0, 0, 0, 0});
  EXPECT_EQ(Run(truncated), kAckErr);
  // Without CTRL_RX the table command is not offered.
  auto ok = Cmd(kCtrlMac, kCtrlMacTableSet);
  AppendTable(ok, {}, 0);
  AppendTable(ok, {}, 0);
  EXPECT_EQ(Run(ok, Bit(kFCtrlVq) | Bit(kFCtrlMacAddr)), kAckErr);
  EXPECT_EQ(s_.uc_count + s_.mc_count, 0u);
}

TEST_F(CtrlCommandTest, MacAddrSet) {
  auto r = HandleCtrlCommand(s_, kAll, Cmd(kCtrlMac, kCtrlMacAddrSet, {2, 1, 2, 3, 4, 5}));
  EXPECT_EQ(r.ack, kAckOk);
  EXPECT_TRUE(r.mac_changed);
  EXPECT_EQ(s_.mac[0], 2);
  EXPECT_EQ(s_.mac[5], 5);
  EXPECT_EQ(Run(Cmd(kCtrlMac, kCtrlMacAddrSet, {3, 1, 2, 3, 4, 5})), kAckErr);  // multicast
  EXPECT_EQ(Run(Cmd(kCtrlMac, kCtrlMacAddrSet, {2, 1, 2, 3, 4})), kAckErr);     // short
  EXPECT_EQ(Run(Cmd(kCtrlMac, kCtrlMacAddrSet, {2, 9, 9, 9, 9, 9}), kAll & ~Bit(kFCtrlMacAddr)),
            kAckErr);
  EXPECT_EQ(Run(Cmd(kCtrlMac, 2, {})), kAckErr);
  EXPECT_EQ(s_.mac[1], 1);
}

}  // namespace
}  // namespace bulkhead::net
