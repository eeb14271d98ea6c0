// The fixture of the bulkhead-net process tests: the real process, driven as
// the core and a guest would drive it. Spawned with sandbox Spawn (fd 3 =
// control socket), attached with a memfd as guest RAM, a SOCK_SEQPACKET
// socketpair as "tap" (a test may put a real tap in device_net_ first), exit
// rings, doorbell and interrupt eventfds. The test plays the vCPU (register
// accesses on the exit ring), the guest driver (mock queues in the shared
// RAM, doorbells) and the network (the other end of the backend).
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "devproc/net/net_spec.h"
#include "devproc/net/net_state.h"
#include "devproc/net/net_worker.h"
#include "devproc/virtio/testing/mock_queue.h"
#include "devproc/virtio/virtio_spec.h"
#include "ipc/control.h"
#include "ipc/device_abi/virtio_net.h"
#include "ipc/exit_ring.h"
#include "sandbox/device_log.h"
#include "sandbox/exit_reason.h"
#include "sandbox/spawn.h"

namespace bulkhead::net::process_test {


using virtio::testing::MockQueue;
using virtio::testing::TestGuest;
namespace abi = bulkhead::abi::virtio_net;

constexpr auto kTimeout = std::chrono::milliseconds(5000);
const WaitOptions kWait{.timeout = kTimeout};
constexpr uint64_t kRamSize = 2 << 20;
constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

struct RunningDevice {
  Child child;
  std::unique_ptr<DeviceControlClient> client;
};

inline std::string Packet(const std::string& payload) {
  NetHeader hdr{};
  std::string p(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  p.append(reinterpret_cast<const char*>(kMac), 6);
  p.append("\x02\x00\x00\x00\x00\x01\x08\x00", 8);
  return p + payload;
}

class NetProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = ControlLoop::Create();
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
    auto state = MemFd::Create("net-state", (sizeof(NetStateRegion) + 4095) / 4096 * 4096);
    ASSERT_TRUE(state && state->Seal());
    state_ = std::move(*state);
    auto ram = MemFd::Create("guest-ram", kRamSize);
    ASSERT_TRUE(ram && ram->Seal());
    ram_ = std::move(*ram);
    auto map = Mapping::Map(ram_);
    ASSERT_TRUE(map);
    ram_map_ = std::move(*map);
    // SAFETY: the mapping is kRamSize bytes and outlives guest_.
    guest_ = std::make_unique<TestGuest>(
        std::span(reinterpret_cast<uint8_t*>(ram_map_.data()), kRamSize), 0, 0x1000);
    for (auto* q : {&rx_, &tx_, &ctrl_}) *q = std::make_unique<MockQueue>(*guest_, 64);

    auto ring = CreateExitRing(64);
    ASSERT_TRUE(ring);
    auto dup = ring->Dup();
    ASSERT_TRUE(dup);
    auto producer = ExitRingProducer::Attach(std::move(*dup));
    ASSERT_TRUE(producer);
    ring_ = std::move(*ring);
    producer_.emplace(std::move(*producer));
    for (int i = 0; i < 3; ++i) doorbells_.push_back(*EventFd::Create(0, EFD_NONBLOCK));
    for (int i = 0; i < abi::kNumVectors + 1; ++i) irqs_.push_back(*EventFd::Create(0, EFD_NONBLOCK));
    resample_ = *EventFd::Create(0, EFD_NONBLOCK);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    net_.reset(sv[0]);
    device_net_.reset(sv[1]);
  }

  void TearDown() override {
    for (auto& d : devices_) {
      if (d.child.pidfd) {
        (void)SignalChild(d.child, SIGKILL);
        (void)WaitForExit(d.child.pidfd);
      }
      DumpLog(d.child);
    }
  }

  RunningDevice& StartDevice() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd core_end(sv[0]), device_end(sv[1]);
    SpawnSpec spec;
    spec.name = "net";
    spec.binary = BULKHEAD_NET_DEVICE;
    spec.argv = {spec.binary};
    spec.fds = {{device_end.get(), 3}};
    auto child = Spawn(spec);
    EXPECT_TRUE(child) << child.error().message;
    auto client = DeviceControlClient::Connect(*loop_, std::move(core_end));
    EXPECT_TRUE(client);
    devices_.push_back({std::move(*child), std::move(*client)});
    RunningDevice& d = devices_.back();

    DeviceAttachment a;
    a.kind = "net";
    a.state_region = *state_.Dup();
    a.rings.push_back({0, *ring_.Dup()});
    for (uint32_t q = 0; q < 3; ++q) a.doorbells.push_back({q, *doorbells_[q].Dup()});
    for (size_t i = 0; i < irqs_.size(); ++i) {
      std::optional<EventFd> resample;
      if (i == abi::kNumVectors) resample = *resample_.Dup();
      a.irqs.push_back({static_cast<uint32_t>(40 + i), *irqs_[i].Dup(), std::move(resample)});
    }
    a.backend.push_back(UniqueFd(::dup(device_net_.get())));
    a.guest_ram = *ram_.Dup();
    a.ram_regions.push_back({0, kRamSize, 0});
    abi::NetConfigBlob blob{};
    std::memcpy(blob.mac, kMac, 6);
    a.config.assign(reinterpret_cast<uint8_t*>(&blob), reinterpret_cast<uint8_t*>(&blob) + sizeof blob);
    auto st = d.client->Attach(a);
    EXPECT_TRUE(st) << st.error().message;
    return d;
  }

  void W(uint64_t off, uint8_t size, uint64_t v) {
    ExitRequest r{.space = AccessSpace::kMmio, .size = size, .is_write = true, .addr = off, .data = v};
    auto st = producer_->Post(r, kWait);
    ASSERT_TRUE(st) << st.error().message;
  }
  uint64_t R(uint64_t off, uint8_t size) {
    auto v = producer_->Read(AccessSpace::kMmio, off, size, kWait);
    EXPECT_TRUE(v) << v.error().message;
    return v ? *v : 0xdead;
  }

  // `vector_of(q)`: the MSI-X vector the driver gives queue q.
  void BringUp(uint16_t (*vector_of)(uint16_t) = [](uint16_t q) { return q; }) {
    using namespace virtio;
    W(0x14, 1, 0);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver);
    W(0x00, 4, 0);
    const uint64_t lo = R(0x04, 4);
    W(0x00, 4, 1);
    const uint64_t hi = R(0x04, 4);
    ASSERT_EQ(hi & 1, 1u) << "VERSION_1 offered";
    W(0x08, 4, 0);
    W(0x0c, 4, lo);
    W(0x08, 4, 1);
    W(0x0c, 4, hi);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_TRUE(R(0x14, 1) & kStatusFeaturesOk);
    MockQueue* qs[3] = {rx_.get(), tx_.get(), ctrl_.get()};
    for (uint16_t q = 0; q < 3; ++q) {
      W(0x16, 2, q);
      W(0x18, 2, 64);
      W(0x1a, 2, vector_of(q));
      W(0x20, 8, qs[q]->layout().desc);
      W(0x28, 8, qs[q]->layout().avail);
      W(0x30, 8, qs[q]->layout().used);
      W(0x1c, 2, 1);
    }
    W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ASSERT_TRUE(R(0x14, 1) & kStatusDriverOk);
  }

  // Waits for an interrupt on vector fd `v`.
  bool Interrupted(size_t v) {
    auto r = irqs_[v].WaitFor(kTimeout);
    return r && r->has_value();
  }

  std::string NetRead() {
    pollfd p{net_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(kTimeout.count())) != 1) return "(timeout)";
    char buf[4096];
    const ssize_t n = ::read(net_.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "(error)";
  }

  void Transmit(const std::string& payload) {
    tx_->AddChain({tx_->Readable(Packet(payload))});
    ASSERT_TRUE(doorbells_[kTxQueue].Signal());
  }

  static std::string ProcStatus(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  static void DumpLog(const Child& c) {
    if (!c.stderr_pipe) return;
    ::fcntl(c.stderr_pipe.get(), F_SETFL, O_NONBLOCK);
    DeviceLog log("net", [](std::string_view, std::string_view line) {
      std::cerr << "  [device] " << line << "\n";
    });
    while (true) {
      auto more = log.ReadFrom(c.stderr_pipe);
      if (!more || !*more) break;
    }
  }

  std::unique_ptr<ControlLoop> loop_;
  MemFd state_, ram_;
  Mapping ram_map_;
  std::unique_ptr<TestGuest> guest_;
  std::unique_ptr<MockQueue> rx_, tx_, ctrl_;
  ExitRingFds ring_;
  std::optional<ExitRingProducer> producer_;
  std::vector<EventFd> doorbells_, irqs_;
  EventFd resample_;
  UniqueFd net_, device_net_;
  std::deque<RunningDevice> devices_;
};

}  // namespace bulkhead::net::process_test
