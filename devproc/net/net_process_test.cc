// The real bulkhead-net process through rings, doorbells and irqfds
// (net_process_fixture.h): data paths, jail, interrupts, restarts.
#include "devproc/net/net_process_fixture.h"

namespace bulkhead::net {
namespace {

using namespace bulkhead::net::process_test;
using ::testing::HasSubstr;
using virtio::testing::MockQueue;
using virtio::testing::TestGuest;
namespace abi = bulkhead::abi::virtio_net;

TEST_F(NetProcessTest, TransmitsAndReceivesJailed) {
  RunningDevice& d = StartDevice();
  BringUp();
  EXPECT_EQ(R(0x2000, 4), 0xabu << 24 | 0x005452u);

  Transmit("hello, network");
  EXPECT_EQ(NetRead(), Packet("hello, network"));
  EXPECT_TRUE(Interrupted(kTxQueue));
  EXPECT_EQ(tx_->used_idx(), 1);

  auto buf = rx_->Writable(2048);
  rx_->AddChain({buf});
  ASSERT_TRUE(doorbells_[kRxQueue].Signal());
  const std::string in = Packet("hello, guest");
  ASSERT_EQ(::write(net_.get(), in.data(), in.size()), static_cast<ssize_t>(in.size()));
  ASSERT_TRUE(Interrupted(kRxQueue));
  ASSERT_EQ(rx_->used_idx(), 1);
  EXPECT_EQ(rx_->used(0).len, in.size());
  auto got = guest_->Read(buf.addr + 12, in.size() - 12);
  EXPECT_EQ(std::string(got.begin(), got.end()), in.substr(12));
  EXPECT_EQ(guest_->Get<NetHeader>(buf.addr).num_buffers, 1);

  const std::string status = ProcStatus(d.child.pid);
  EXPECT_THAT(status, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000\n"));
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(d.child.pid) + "/task/")) {
    std::ifstream f(t.path() / "status");
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_THAT(ss.str(), HasSubstr("CapEff:\t0000000000000000\n")) << t.path();
    EXPECT_THAT(ss.str(), HasSubstr("Seccomp:\t2\n")) << t.path();
  }

  // A notify that reaches the device on the exit ring (BAR not yet decoded
  // for the ioeventfd) is the same kick.
  tx_->AddChain({tx_->Readable(Packet("by register"))});
  W(abi::kNotifyOffset + abi::kNotifyOffMultiplier * kTxQueue, 2, kTxQueue);
  EXPECT_EQ(NetRead(), Packet("by register"));

  // Out-of-BAR and wrong-space accesses are counted, not fatal.
  EXPECT_EQ(R(abi::kBar0Size, 4), 0u);
  EXPECT_EQ(producer_->Read(AccessSpace::kPio, 0x14, 1, kWait).value_or(99), 0u);
  auto health = d.client->Health();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->malformed_requests, 2u);

  ASSERT_TRUE(d.client->Shutdown());
  auto reason = WaitForExit(d.child.pidfd);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->kind, ExitReason::Kind::kExited);
  EXPECT_EQ(reason->code, 0);
  d.child.pidfd.reset();
}

TEST_F(NetProcessTest, IdleDeviceSleepsWithNoRxBuffers) {
  RunningDevice& d = StartDevice();
  BringUp();
  // Frames arrive, the guest has posted no buffers: the device must wait for
  // a kick, not spin on the readable socket.
  for (int i = 0; i < 3; ++i) {
    const std::string in = Packet("no room " + std::to_string(i));
    ASSERT_EQ(::write(net_.get(), in.data(), in.size()), static_cast<ssize_t>(in.size()));
  }
  const pid_t pid = d.child.pid;
  auto cpu_ticks = [pid] {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    uint64_t ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::stoull(field);
    }
    return ticks;
  };
  ::usleep(100 * 1000);
  const uint64_t before = cpu_ticks();
  ::usleep(500 * 1000);
  EXPECT_LE(cpu_ticks() - before, 2u) << "the device burns CPU while waiting for buffers";
  // Buffers and a kick: all three frames arrive.
  std::vector<virtio::testing::Buffer> bufs;
  for (int i = 0; i < 3; ++i) {
    bufs.push_back(rx_->Writable(2048));
    rx_->AddChain({bufs.back()});
  }
  ASSERT_TRUE(doorbells_[kRxQueue].Signal());
  ASSERT_TRUE(Interrupted(kRxQueue));
  for (int i = 0; i < 200 && rx_->used_idx() < 3; ++i) ::usleep(5000);
  ASSERT_EQ(rx_->used_idx(), 3);
  auto got = guest_->Read(bufs[2].addr + 26, 9);
  EXPECT_EQ(std::string(got.begin(), got.end()), "no room 2");
}

TEST_F(NetProcessTest, IntxWithIsrAndResample) {
  StartDevice();
  BringUp([](uint16_t) { return virtio::kNoVector; });  // as after an MSI-X fallback
  const size_t intx = abi::kNumVectors;
  Transmit("legacy");
  EXPECT_EQ(NetRead(), Packet("legacy"));
  ASSERT_TRUE(Interrupted(intx));
  // The guest EOIs before reading the ISR: the line must come back.
  ASSERT_TRUE(resample_.Signal());
  ASSERT_TRUE(Interrupted(intx));
  EXPECT_EQ(R(abi::kIsrOffset, 1), virtio::kIsrQueue);
  EXPECT_EQ(R(abi::kIsrOffset, 1), 0u);
  // ISR read: a resample now raises nothing.
  ASSERT_TRUE(resample_.Signal());
  auto none = irqs_[intx].WaitFor(std::chrono::milliseconds(200));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  for (size_t v = 0; v < abi::kNumVectors; ++v) EXPECT_EQ(*irqs_[v].TryConsume(), 0u) << v;
}

TEST_F(NetProcessTest, NegotiatedStateSurvivesSigkill) {
  RunningDevice& first = StartDevice();
  BringUp();
  Transmit("before");
  EXPECT_EQ(NetRead(), Packet("before"));
  // Killed only once the chain is completed: a device killed between its
  // writev and the completion sends the frame again (net_state.h).
  ASSERT_TRUE(Interrupted(kTxQueue));
  EXPECT_EQ(tx_->used_idx(), 1);
  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  ASSERT_TRUE(WaitForExit(first.child.pidfd));
  first.child.pidfd.reset();

  // The guest goes on while no device runs: a chain and its doorbell wait.
  Transmit("during");
  StartDevice();
  EXPECT_EQ(NetRead(), Packet("during"));
  // No new negotiation: the queues and features came from the state region.
  EXPECT_TRUE(R(0x14, 1) & virtio::kStatusDriverOk);
  Transmit("after");
  EXPECT_EQ(NetRead(), Packet("after"));
  for (int i = 0; i < 200 && tx_->used_idx() < 3; ++i) ::usleep(5000);
  EXPECT_EQ(tx_->used_idx(), 3);
}

// The worst moment to die: after an ISR read was applied (the bits cleared)
// and recorded, before it was completed on the ring. The test plays that
// process, then starts the real device, which must answer the pending read
// from the region (re-applying it would read 0: a lost interrupt reason).
TEST_F(NetProcessTest, ReplaysAnAccessAppliedButNotCompleted) {
  RunningDevice& first = StartDevice();
  BringUp();
  ASSERT_TRUE(SignalChild(first.child, SIGKILL));
  ASSERT_TRUE(WaitForExit(first.child.pidfd));
  first.child.pidfd.reset();

  ASSERT_TRUE(producer_->Submit(AccessSpace::kMmio, abi::kIsrOffset, 1, kWait));
  {
    auto fds = ring_.Dup();
    ASSERT_TRUE(fds);
    auto dying = ExitRingConsumer::Attach(std::move(*fds));
    ASSERT_TRUE(dying) << dying.error().message;
    auto req = dying->Peek();
    ASSERT_TRUE(req && req->has_value());
    auto map = Mapping::Map(state_);
    ASSERT_TRUE(map);
    auto region = map->as<NetStateRegion>(0);
    ASSERT_TRUE(region);
    // ISR was 1; the read cleared it and recorded its reply ... and died.
    (*region)->transport.isr.store(0);
    (*region)->reply = virtio::kIsrQueue;
    (*region)->applied_id.store(NetRequestId(0, (*req)->seq));
  }

  RunningDevice& second = StartDevice();
  auto reply = producer_->WaitReply(kWait);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(*reply, virtio::kIsrQueue);
  EXPECT_EQ(R(abi::kIsrOffset, 1), 0u);
  auto health = second.client->Health();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->requests_replayed, 1u);
}

// The jailed device on a real tap, in a private network namespace: the
// kernel side is an AF_PACKET socket on the tap's interface. TX frames must
// reach the interface, frames sent on the interface must reach the guest, and
// the device's TUNSETVNETHDRSZ / TUNSETOFFLOAD must have passed the filter.
}  // namespace
}  // namespace bulkhead::net
