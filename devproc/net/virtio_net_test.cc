// VirtioNet end to end at the model level: a driver (the mock queues and the
// transport registers, as Linux's virtio_net uses them) on one side, a fake
// backend on the other. No process, no fds.
#include "devproc/net/virtio_net.h"

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devproc/virtio/testing/mock_queue.h"
#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::net {
namespace {

using namespace virtio;
using virtio::testing::Buffer;
using virtio::testing::MockQueue;
using virtio::testing::TestGuest;

class FakeBackend final : public NetBackend {
 public:
  Result<std::optional<size_t>> Send(std::span<const iovec> frame) override {
    if (full) return std::optional<size_t>();
    std::string f;
    for (const iovec& v : frame) f.append(static_cast<const char*>(v.iov_base), v.iov_len);
    sent.push_back(f);
    return std::optional<size_t>(f.size());
  }
  Result<std::optional<size_t>> Receive(std::span<uint8_t> buf) override {
    if (incoming.empty()) return std::optional<size_t>();
    const std::string f = incoming.front();
    incoming.pop_front();
    const size_t n = std::min(f.size(), buf.size());
    std::memcpy(buf.data(), f.data(), n);
    return std::optional<size_t>(n);
  }
  Status SetOffload(unsigned flags) override {
    offloads.push_back(flags);
    if (refuse_ioctls) return MakeError("not a tap");
    return {};
  }
  Status SetVnetHeaderSize(int) override { return {}; }

  std::vector<std::string> sent;
  std::deque<std::string> incoming;
  std::vector<unsigned> offloads;
  bool full = false;
  bool refuse_ioctls = false;
};

class FakeIrq final : public InterruptSink {
 public:
  void SignalVector(uint16_t v) override { ++vectors[v]; }
  void SignalIntx() override { ++intx; }
  int vectors[4] = {};
  int intx = 0;
};

constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint64_t kDriverFeatures =
    Bit(kFVersion1) | Bit(kFIndirectDesc) | Bit(kFCsum) | Bit(kFGuestCsum) | Bit(kFMac) |
    Bit(kFGuestTso4) | Bit(kFGuestTso6) | Bit(kFGuestEcn) | Bit(kFHostTso4) | Bit(kFHostTso6) |
    Bit(kFHostEcn) | Bit(kFMrgRxbuf) | Bit(kFStatus) | Bit(kFCtrlVq) | Bit(kFCtrlRx) |
    Bit(kFCtrlRxExtra) | Bit(kFCtrlMacAddr);

// A 12-byte header then an Ethernet frame to `dst` with `payload`.
std::string Packet(const uint8_t* dst, const std::string& payload, NetHeader hdr = {}) {
  std::string p(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  p.append(reinterpret_cast<const char*>(dst), 6);
  p.append(reinterpret_cast<const char*>(kMac), 6);
  p.append("\x08\x00", 2);
  p += payload;
  return p;
}

class VirtioNetTest : public ::testing::Test {
 protected:
  void SetUp() override { net_.InitRegion(); }

  void W(uint64_t off, uint8_t size, uint64_t v) { net_.transport().Write(off, size, v); }
  uint64_t R(uint64_t off, uint8_t size) { return net_.transport().Read(off, size); }

  // virtio_pci_modern probe + virtnet_probe, abridged.
  void BringUp(uint64_t features = kDriverFeatures) {
    W(0x14, 1, 0);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver);
    W(0x08, 4, 0);
    W(0x0c, 4, features & 0xffffffff);
    W(0x08, 4, 1);
    W(0x0c, 4, features >> 32);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_TRUE(R(0x14, 1) & kStatusFeaturesOk);
    MockQueue* qs[3] = {&rx_, txq_, &ctrl_};
    for (uint16_t q = 0; q < 3; ++q) {
      W(0x16, 2, q);
      W(0x18, 2, qs[q]->layout().size);
      W(0x1a, 2, q);
      W(0x20, 8, qs[q]->layout().desc);
      W(0x28, 8, qs[q]->layout().avail);
      W(0x30, 8, qs[q]->layout().used);
      W(0x1c, 2, 1);
    }
    W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  std::string UsedBytes(MockQueue&, uint64_t addr, uint32_t len) {
    auto b = guest_.Read(addr, len);
    return {b.begin(), b.end()};
  }

  // One control command as virtnet_send_command lays it out: header, data
  // (if any), ack. Returns the ack byte (0xee if the device wrote none).
  uint8_t Ctrl(std::vector<uint8_t> cmd) {
    auto ack = ctrl_.Writable(1);
    guest_.Put<uint8_t>(ack.addr, 0xee);
    const std::string c(cmd.begin(), cmd.end());
    std::vector<Buffer> bufs{ctrl_.Readable(c.substr(0, 2))};
    if (c.size() > 2) bufs.push_back(ctrl_.Readable(c.substr(2)));
    bufs.push_back(ack);
    ctrl_.AddChain(bufs);
    net_.Kick(kCtrlQueue);
    return guest_.Get<uint8_t>(ack.addr);
  }

  TestGuest guest_{4 << 20};
  MockQueue rx_{guest_, 16}, tx_{guest_, 16}, ctrl_{guest_, 16};
  MockQueue* txq_ = &tx_;  // the TX queue BringUp programs
  NetStateRegion region_{};
  FakeBackend backend_;
  FakeIrq irq_;
  VirtioNet net_{region_, guest_.memory(), backend_, irq_, kMac};
};

TEST_F(VirtioNetTest, ConfigSpaceAndOffloads) {
  EXPECT_EQ(R(0x2000, 4), 0x12005452u);
  EXPECT_EQ(R(0x2004, 2), 0x5634u);
  EXPECT_EQ(R(0x2006, 2), kStatusLinkUp);
  EXPECT_EQ(R(0x2008, 2), 1u);
  EXPECT_EQ(R(0x200a, 2), 0u) << "beyond the config structure";
  backend_.refuse_ioctls = true;
  BringUp();
  ASSERT_FALSE(backend_.offloads.empty());
  EXPECT_EQ(backend_.offloads.back(), kTunFCsum | kTunFTso4 | kTunFTso6 | kTunFTsoEcn);
  // Two refusals: the reset BringUp starts with clears offloads, FEATURES_OK sets them.
  EXPECT_EQ(region_.net.counters.offload_errors, 2u);
  EXPECT_TRUE(net_.transport().driver_ok()) << "a refused ioctl is not fatal";
  W(0x14, 1, 0);
  EXPECT_EQ(backend_.offloads.back(), 0u);
}

TEST_F(VirtioNetTest, FeatureDependenciesEnforced) {
  W(0x14, 1, kStatusAcknowledge | kStatusDriver);
  W(0x08, 4, 0);
  W(0x0c, 4, Bit(kFGuestTso4));  // without GUEST_CSUM
  W(0x08, 4, 1);
  W(0x0c, 4, 1);
  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  EXPECT_FALSE(R(0x14, 1) & kStatusFeaturesOk);
}

TEST_F(VirtioNetTest, TransmitDirectAndIndirect) {
  BringUp();
  const std::string p1 = Packet(kMac, "first");
  const std::string p2 = Packet(kMac, "second, split");
  tx_.AddChain({tx_.Readable(p1.substr(0, 12)), tx_.Readable(p1.substr(12))});
  tx_.AddIndirectChain({tx_.Readable(p2.substr(0, 5)), tx_.Readable(p2.substr(5, 20)),
                        tx_.Readable(p2.substr(25))});
  net_.Kick(kTxQueue);
  ASSERT_EQ(backend_.sent.size(), 2u);
  EXPECT_EQ(backend_.sent[0], p1);
  EXPECT_EQ(backend_.sent[1], p2);
  EXPECT_EQ(tx_.used_idx(), 2);
  EXPECT_EQ(irq_.vectors[kTxQueue], 1);
  EXPECT_EQ(region_.net.counters.tx_packets, 2u);
}

TEST_F(VirtioNetTest, TransmitRefusesUnnegotiatedOffloadsAndRunts) {
  BringUp(kDriverFeatures & ~Bit(kFHostTso4) & ~Bit(kFHostEcn));
  NetHeader tso{};
  tso.gso_type = kGsoTcpv4;
  NetHeader ufo{};
  ufo.gso_type = kGsoUdp;
  NetHeader junk{};
  junk.flags = 0x80;
  NetHeader nb{};
  nb.num_buffers = 7;  // the device zeroes it
  tx_.AddChain({tx_.Readable(Packet(kMac, "tso", tso))});
  tx_.AddChain({tx_.Readable(Packet(kMac, "ufo", ufo))});
  tx_.AddChain({tx_.Readable(Packet(kMac, "junk", junk))});
  tx_.AddChain({tx_.Readable("short")});
  tx_.AddChain({tx_.Readable(Packet(kMac, "x")), tx_.Writable(4)});
  tx_.AddChain({tx_.Readable(Packet(kMac, "ok", nb))});
  net_.Kick(kTxQueue);
  ASSERT_EQ(backend_.sent.size(), 1u);
  EXPECT_EQ(backend_.sent[0], Packet(kMac, "ok"));
  EXPECT_EQ(region_.net.counters.tx_dropped, 5u);
  EXPECT_EQ(tx_.used_idx(), 6) << "dropped chains are still returned";
}

TEST_F(VirtioNetTest, TransmitWaitsWhileTheBackendIsFull) {
  BringUp();
  backend_.full = true;
  tx_.AddChain({tx_.Readable(Packet(kMac, "later"))});
  net_.Kick(kTxQueue);
  EXPECT_TRUE(net_.wants_backend_write());
  EXPECT_EQ(tx_.used_idx(), 0);
  backend_.full = false;
  net_.BackendWritable();
  EXPECT_FALSE(net_.wants_backend_write());
  EXPECT_EQ(backend_.sent.size(), 1u);
  EXPECT_EQ(tx_.used_idx(), 1);
}

TEST_F(VirtioNetTest, ReceiveIntoOneBufferWithoutMergeable) {
  BringUp(kDriverFeatures & ~Bit(kFMrgRxbuf));
  auto big = rx_.Writable(2048);
  rx_.AddChain({big});
  const std::string pkt = Packet(kMac, "hello");
  backend_.incoming.push_back(pkt);
  net_.BackendReadable();
  ASSERT_EQ(rx_.used_idx(), 1);
  EXPECT_EQ(rx_.used(0).len, pkt.size());
  EXPECT_EQ(guest_.Get<NetHeader>(big.addr).num_buffers, 1);
  EXPECT_EQ(UsedBytes(rx_, big.addr + 12, static_cast<uint32_t>(pkt.size() - 12)), pkt.substr(12));
  // A buffer that can never hold the frame: the frame is dropped (counted),
  // the buffer stays with the device for smaller frames.
  rx_.AddChain({rx_.Writable(20)});
  backend_.incoming.push_back(pkt);
  net_.BackendReadable();
  EXPECT_EQ(region_.net.counters.rx_dropped, 1u);
  EXPECT_EQ(rx_.used_idx(), 1);
  EXPECT_EQ(region_.net.counters.rx_packets, 1u);
}

TEST_F(VirtioNetTest, RuntsAndPossiblyTruncatedFramesAreDropped) {
  BringUp();
  for (int i = 0; i < 4; ++i) rx_.AddChain({rx_.Writable(4096)});
  backend_.incoming.push_back(std::string(kNetHeaderSize + 13, '\xff'));
  backend_.incoming.push_back(std::string(kRxBounce, '\xff'));  // fills the bounce buffer
  backend_.incoming.push_back(Packet(kMac, "fine"));
  net_.BackendReadable();
  EXPECT_EQ(region_.net.counters.rx_dropped, 2u);
  EXPECT_EQ(region_.net.counters.rx_packets, 1u);
  EXPECT_EQ(rx_.used_idx(), 1);
}

TEST_F(VirtioNetTest, MergeableBuffersAndNumBuffers) {
  BringUp();
  std::vector<Buffer> bufs;
  for (int i = 0; i < 4; ++i) {
    bufs.push_back(rx_.Writable(32));
    rx_.AddChain({bufs.back()});
  }
  const std::string payload(60, 'z');
  const std::string pkt = Packet(kMac, payload);  // 12 + 14 + 60 = 86 bytes: 3 buffers
  backend_.incoming.push_back(pkt);
  net_.BackendReadable();
  ASSERT_EQ(rx_.used_idx(), 3);
  EXPECT_EQ(rx_.used(0).len, 32u);
  EXPECT_EQ(rx_.used(1).len, 32u);
  EXPECT_EQ(rx_.used(2).len, 22u);
  const auto hdr = guest_.Get<NetHeader>(bufs[0].addr);
  EXPECT_EQ(hdr.num_buffers, 3);
  std::string got = UsedBytes(rx_, bufs[0].addr, 32) + UsedBytes(rx_, bufs[1].addr, 32) +
                    UsedBytes(rx_, bufs[2].addr, 22);
  EXPECT_EQ(got.substr(12), pkt.substr(12));
  EXPECT_EQ(irq_.vectors[kRxQueue], 1);
}

TEST_F(VirtioNetTest, NoBuffersMeansWaitForAKickNotBusyPolling) {
  BringUp();
  backend_.incoming.push_back(Packet(kMac, "waiting"));
  backend_.incoming.push_back(Packet(kMac, "queued"));
  net_.BackendReadable();
  EXPECT_FALSE(net_.wants_backend_read()) << "no buffers: stop reading the backend";
  EXPECT_EQ(backend_.incoming.size(), 1u) << "one frame waits in the device, one in the backend";
  EXPECT_EQ(region_.net.counters.rx_no_buffers, 1u);
  EXPECT_EQ(rx_.avail_event(), 0) << "EVENT_IDX: kick me at the next buffer";
  auto b1 = rx_.Writable(2048);
  auto b2 = rx_.Writable(2048);
  rx_.AddChain({b1});
  rx_.AddChain({b2});
  net_.Kick(kRxQueue);
  EXPECT_EQ(rx_.used_idx(), 2);
  EXPECT_EQ(UsedBytes(rx_, b1.addr + 26, 7), "waiting");
  EXPECT_EQ(UsedBytes(rx_, b2.addr + 26, 6), "queued");
  EXPECT_TRUE(net_.wants_backend_read());
}

TEST_F(VirtioNetTest, ControlQueueDrivesTheRxFilter) {
  BringUp();
  const uint8_t other[6] = {0x52, 0x54, 0, 0xaa, 0xbb, 0xcc};
  const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
  for (int i = 0; i < 8; ++i) rx_.AddChain({rx_.Writable(2048)});
  auto deliver = [&](const uint8_t* dst) {
    const uint16_t before = rx_.used_idx();
    backend_.incoming.push_back(Packet(dst, "p"));
    net_.BackendReadable();
    return rx_.used_idx() != before;
  };
  EXPECT_TRUE(deliver(other)) << "promiscuous until the driver says otherwise";
  EXPECT_EQ(Ctrl({kCtrlRx, kCtrlRxPromisc, 0}), kAckOk);
  EXPECT_FALSE(deliver(other));
  EXPECT_TRUE(deliver(kMac));
  EXPECT_FALSE(deliver(mcast));
  // virtnet_set_rx_mode: one unicast, one multicast entry.
  std::vector<uint8_t> table{kCtrlMac, kCtrlMacTableSet, 1, 0, 0, 0};
  table.insert(table.end(), other, other + 6);
  table.insert(table.end(), {1, 0, 0, 0});
  table.insert(table.end(), mcast, mcast + 6);
  EXPECT_EQ(Ctrl(table), kAckOk);
  EXPECT_TRUE(deliver(other));
  EXPECT_TRUE(deliver(mcast));
  EXPECT_EQ(Ctrl({kCtrlRx, kCtrlRxNomulti, 1}), kAckOk);
  EXPECT_FALSE(deliver(mcast));
  EXPECT_EQ(Ctrl({kCtrlMac, kCtrlMacAddrSet, 0x02, 1, 2, 3, 4, 5}), kAckOk);
  EXPECT_EQ(R(0x2000, 1), 0x02u) << "the config space shows the new MAC";
  EXPECT_FALSE(deliver(kMac));
  EXPECT_EQ(Ctrl({kCtrlRx, 9, 1}), kAckErr);
  EXPECT_EQ(region_.net.counters.ctrl_err, 1u);
  EXPECT_EQ(region_.net.counters.rx_filtered, 4u);
}

TEST_F(VirtioNetTest, MalformedTxChainStopsOnlyTx) {
  BringUp();
  const uint64_t buf = guest_.Alloc(64);
  const uint16_t d = tx_.AllocDescriptor();
  tx_.SetDescriptor(d, {buf, 16, kDescNext, d});  // a loop
  tx_.PushAvail(d);
  net_.Kick(kTxQueue);
  EXPECT_EQ(region_.transport.queues[kTxQueue].broken.load(), 1u);
  EXPECT_EQ(region_.transport.queues[kTxQueue].broken_events, 1u);
  // Later TX chains are not served; RX and control still are.
  tx_.AddChain({tx_.Readable(Packet(kMac, "ignored"))});
  net_.Kick(kTxQueue);
  EXPECT_TRUE(backend_.sent.empty());
  rx_.AddChain({rx_.Writable(2048)});
  backend_.incoming.push_back(Packet(kMac, "still"));
  net_.BackendReadable();
  EXPECT_EQ(rx_.used_idx(), 1);
  EXPECT_EQ(Ctrl({kCtrlRx, kCtrlRxPromisc, 0}), kAckOk);
  // A reset and a new bring-up serve TX again.
  MockQueue fresh{guest_, 16};
  txq_ = &fresh;
  BringUp();
  fresh.AddChain({fresh.Readable(Packet(kMac, "again"))});
  net_.Kick(kTxQueue);
  EXPECT_EQ(backend_.sent.size(), 1u);
}

TEST_F(VirtioNetTest, ResetClearsRxModeAndQueues) {
  BringUp();
  EXPECT_EQ(Ctrl({kCtrlRx, kCtrlRxPromisc, 0}), kAckOk);
  EXPECT_EQ(Ctrl({kCtrlMac, kCtrlMacAddrSet, 0x02, 1, 2, 3, 4, 5}), kAckOk);
  W(0x14, 1, 0);
  EXPECT_EQ(region_.net.promisc, 1);
  EXPECT_EQ(std::memcmp(region_.net.mac, kMac, 6), 0);
  EXPECT_EQ(region_.transport.queues[kCtrlQueue].enabled, 0);
  EXPECT_EQ(region_.transport.queues[kCtrlQueue].progress.load(), 0u);
  EXPECT_EQ(region_.net.counters.ctrl_ok, 2u) << "counters survive a reset";
}

TEST_F(VirtioNetTest, ResumeInANewModelCarriesOn) {
  BringUp();
  EXPECT_EQ(Ctrl({kCtrlRx, kCtrlRxPromisc, 0}), kAckOk);
  tx_.AddChain({tx_.Readable(Packet(kMac, "one"))});
  net_.Kick(kTxQueue);
  // "The process died": a new model over the same region and guest memory.
  tx_.AddChain({tx_.Readable(Packet(kMac, "two"))});
  FakeBackend backend2;
  FakeIrq irq2;
  VirtioNet next(region_, guest_.memory(), backend2, irq2, kMac);
  next.Resume();
  ASSERT_EQ(backend2.sent.size(), 1u) << "the chain queued while no device ran";
  EXPECT_EQ(backend2.sent[0], Packet(kMac, "two"));
  EXPECT_EQ(tx_.used_idx(), 2);
  EXPECT_EQ(region_.net.promisc, 0);
  EXPECT_EQ(backend2.offloads.back(), kTunFCsum | kTunFTso4 | kTunFTso6 | kTunFTsoEcn);
}

}  // namespace
}  // namespace bulkhead::net
