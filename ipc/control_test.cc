// Control plane over a real socketpair: the device side runs in a second
// thread with its own KJ event loop, exactly as it would in its own process.
#include "ipc/control.h"

#include <capnp/rpc-twoparty.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "ipc/control_internal.h"

namespace bulkhead {
namespace {

using namespace std::chrono_literals;

// Records what it received and proves the fds work from the device's side.
class TestHandler : public DeviceControlHandler {
 public:
  Status Attach(DeviceAttachment a) override {
    std::lock_guard lock(mu);
    ++attach_calls;
    if (a.state_region) {
      auto map = Mapping::Map(*a.state_region);
      if (!map) return tl::unexpected(map.error());
      state_seen.assign(reinterpret_cast<const char*>(map->data()), 5);
      std::memcpy(map->data() + 8, "world", 5);
    }
    for (const auto& d : a.doorbells) {
      if (auto st = d.fd.Signal(d.queue + 1); !st) return st;
    }
    for (const auto& irq : a.irqs) {
      if (auto st = irq.trigger.Signal(); !st) return st;
      had_resample = irq.resample.has_value();
    }
    if (!a.rings.empty()) {
      auto consumer = ExitRingConsumer::Attach(std::move(a.rings[0].fds));
      if (!consumer) return tl::unexpected(consumer.error());
      ring.emplace(std::move(*consumer));
    }
    kind = a.kind;
    config = a.config;
    backend_count = a.backend.size();
    return {};
  }

  DeviceHealth Health() override {
    std::lock_guard lock(mu);
    DeviceHealth h;
    // Serve whatever the core put on the ring so far.
    while (ring) {
      auto r = ring->Peek();
      if (!r || !*r) break;
      if (!ring->Complete()) break;
      ++h.requests_served;
    }
    h.malformed_requests = 7;
    return h;
  }

  Status Reset() override { return MakeError("reset refused by test device"); }
  void Shutdown() override { shutdown_calls++; }

  std::mutex mu;
  int attach_calls = 0;
  int shutdown_calls = 0;
  std::string kind, state_seen;
  std::vector<uint8_t> config;
  size_t backend_count = 0;
  bool had_resample = false;
  std::optional<ExitRingConsumer> ring;
};

struct Connection {
  UniqueFd core_end, device_end;
};

Connection MakeSocketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

class DeviceThread {
 public:
  DeviceThread(UniqueFd socket, DeviceControlHandler& handler)
      : thread_([this, s = std::move(socket), &handler]() mutable {
          auto loop = ControlLoop::Create();
          ASSERT_TRUE(loop) << loop.error().message;
          end_ = ServeDeviceControl(**loop, std::move(s), handler);
        }) {}
  // Joins if the test did not; the socket must be closed first (declare the
  // DeviceThread before whatever holds the core's end).
  ~DeviceThread() {
    if (thread_.joinable()) thread_.join();
  }
  Result<ServeEnd> Join() {
    thread_.join();
    return std::move(end_);
  }

 private:
  Result<ServeEnd> end_ = MakeError("never ran");
  std::thread thread_;
};

TEST(Control, AttachPassesWorkingFdsAndCallsRoundTrip) {
  Connection c = MakeSocketPair();
  TestHandler handler;
  DeviceThread device(std::move(c.device_end), handler);
  auto loop = ControlLoop::Create();
  ASSERT_TRUE(loop);
  auto client = DeviceControlClient::Connect(**loop, std::move(c.core_end));
  ASSERT_TRUE(client) << client.error().message;

  DeviceAttachment a;
  a.kind = "serial";
  auto state = MemFd::Create("state", 4096);
  ASSERT_TRUE(state);
  ASSERT_EQ(::pwrite(state->fd(), "hello", 5, 0), 5);
  ASSERT_TRUE(state->Seal());
  a.state_region = std::move(*state);
  a.doorbells.push_back({.queue = 4, .fd = EventFd::Create().value()});
  a.irqs.push_back(
      {.gsi = 4, .trigger = EventFd::Create().value(), .resample = EventFd::Create().value()});
  auto ring = CreateExitRing(8);
  ASSERT_TRUE(ring);
  a.rings.push_back({.vcpu = 0, .fds = ring->Dup().value()});
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd pipe_read(p[0]);
  a.backend.emplace_back(p[1]);
  a.config = {1, 2, 3};
  EXPECT_EQ(a.fd_count(), 8u);

  auto attached = (*client)->Attach(a);
  ASSERT_TRUE(attached) << attached.error().message;
  {
    std::lock_guard lock(handler.mu);
    EXPECT_EQ(handler.kind, "serial");
    EXPECT_EQ(handler.state_seen, "hello");
    EXPECT_EQ(handler.config, (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(handler.backend_count, 1u);
    EXPECT_TRUE(handler.had_resample);
  }
  // The device's copies are the same kernel objects as the core's.
  EXPECT_EQ(a.doorbells[0].fd.TryConsume().value(), 5u);
  EXPECT_EQ(a.irqs[0].trigger.TryConsume().value(), 1u);
  char buf[5] = {};
  ASSERT_EQ(::pread(a.state_region->fd(), buf, 5, 8), 5);
  EXPECT_EQ(std::string(buf, 5), "world");

  // The ring passed through attach works: the device serves two posts.
  auto producer = ExitRingProducer::Attach(ring->Dup().value());
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 0x3f8}));
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 0x3f8}));
  auto health = (*client)->Health();
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->requests_served, 2u);
  EXPECT_EQ(health->malformed_requests, 7u);

  auto reset = (*client)->Reset();
  ASSERT_FALSE(reset);
  EXPECT_NE(reset.error().message.find("reset refused by test device"), std::string::npos);

  ASSERT_TRUE((*client)->Shutdown());
  client->reset();  // the core hangs up after the shutdown reply
  auto end = device.Join();
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_EQ(*end, ServeEnd::kShutdown);
  EXPECT_EQ(handler.shutdown_calls, 1);
}

TEST(Control, DeviceRejectsFdOfTheWrongKind) {
  Connection c = MakeSocketPair();
  TestHandler handler;
  DeviceThread device(std::move(c.device_end), handler);
  auto loop = ControlLoop::Create();
  ASSERT_TRUE(loop);
  // The typed client cannot send a wrong fd (EventFd checks its fd), so play
  // a hostile sender with raw Cap'n Proto: a pipe where an eventfd belongs.
  auto& io = (*loop)->impl().io;
  auto stream = control_internal::WrapSocket(**loop, std::move(c.core_end));
  capnp::TwoPartyClient rpc(*stream, kMaxFdsPerMessage);
  auto device_cap = rpc.bootstrap().castAs<schema::DeviceControl>();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd pipe_read(p[0]), pipe_write(p[1]);
  auto request = device_cap.attachRequest();
  auto attachment = request.initAttachment();
  attachment.setKind("serial");
  auto doorbells = attachment.initDoorbells(1);
  doorbells[0].setFd(control_internal::OfferFd(pipe_write.get()));
  bool failed = false;
  std::string message;
  try {
    request.send().wait(io.waitScope);
  } catch (const kj::Exception& e) {
    failed = true;
    message = e.getDescription().cStr();
  }
  EXPECT_TRUE(failed);
  EXPECT_NE(message.find("doorbell"), std::string::npos) << message;
  {
    std::lock_guard lock(handler.mu);
    EXPECT_EQ(handler.attach_calls, 0);
  }

  // A message that claims an fd but carries none (sent without fd passing)
  // is refused too: a client with maxFdsPerMessage = 0 drops its fds.
  Connection c2 = MakeSocketPair();
  TestHandler handler2;
  DeviceThread device2(std::move(c2.device_end), handler2);
  auto stream2 = control_internal::WrapSocket(**loop, std::move(c2.core_end));
  capnp::TwoPartyClient rpc2(*stream2, 0);
  auto device2_cap = rpc2.bootstrap().castAs<schema::DeviceControl>();
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  auto request2 = device2_cap.attachRequest();
  request2.initAttachment().initDoorbells(1)[0].setFd(control_internal::OfferFd(efd->fd()));
  std::string message2;
  try {
    request2.send().wait(io.waitScope);
  } catch (const kj::Exception& e) {
    message2 = e.getDescription().cStr();
  }
  EXPECT_NE(message2.find("no fd received"), std::string::npos) << message2;
  EXPECT_EQ(handler2.attach_calls, 0);

  device_cap = nullptr;
  device2_cap = nullptr;
}

TEST(Control, UnresponsiveDeviceTimesOut) {
  Connection c = MakeSocketPair();  // nobody serves device_end
  auto loop = ControlLoop::Create();
  ASSERT_TRUE(loop);
  auto client = DeviceControlClient::Connect(**loop, std::move(c.core_end));
  ASSERT_TRUE(client);
  const auto start = std::chrono::steady_clock::now();
  auto health = (*client)->Health(50ms);
  ASSERT_FALSE(health);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(Control, ClientRefusesOversizedAttachment) {
  Connection c = MakeSocketPair();
  auto loop = ControlLoop::Create();
  ASSERT_TRUE(loop);
  auto client = DeviceControlClient::Connect(**loop, std::move(c.core_end));
  ASSERT_TRUE(client);
  DeviceAttachment a;
  a.config.resize(kMaxConfigBytes + 1);
  EXPECT_FALSE((*client)->Attach(a, 50ms));
  a.config.clear();
  for (size_t i = 0; i <= kMaxFdsPerMessage; ++i) {
    a.doorbells.push_back({.queue = 0, .fd = EventFd::Create().value()});
  }
  EXPECT_FALSE((*client)->Attach(a, 50ms));
}

}  // namespace
}  // namespace bulkhead
