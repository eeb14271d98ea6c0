// ApiServer and ApiClient end to end over a real socket in a temp dir,
// against a fake VmControl.
#include "core/api/api_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/api/api_client.h"
#include "core/api/api_socket.h"
#include "core/api/fake_vm_control.h"

namespace bulkhead {
namespace {

using testing::FakeVmControl;
using testing::TempDir;

std::unique_ptr<ApiClient> MustConnect(const std::string& path) {
  auto c = ApiClient::Connect(path);
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

TEST(ApiServer, EveryCallEndToEnd) {
  TempDir dir;
  FakeVmControl vm;
  auto server = ApiServer::Start(dir / "api.sock", vm);
  ASSERT_TRUE(server) << server.error().message;
  auto client = MustConnect(dir / "api.sock");
  ASSERT_TRUE(client);

  auto status = client->Status();
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_FALSE(status->paused);
  EXPECT_EQ(status->uptime_seconds, 12.25);
  EXPECT_EQ(status->vcpus, 2u);
  EXPECT_EQ(status->memory_bytes, 512ull << 20);

  auto devices = client->Devices();
  ASSERT_TRUE(devices) << devices.error().message;
  ASSERT_EQ(devices->size(), 2u);
  const DeviceInfo& net = (*devices)[1];
  EXPECT_EQ(net.name, "net");
  EXPECT_EQ(net.kind, "virtio-net");
  EXPECT_EQ(net.pid, -1);
  EXPECT_EQ(net.state, "restarting");
  EXPECT_EQ(net.restarts, 2u);
  EXPECT_EQ(net.last_exit, "killed by SIGSYS (Bad system call)");
  EXPECT_EQ(net.blocked_syscall, "openat (257)");
  EXPECT_EQ(net.last_recovery_ms, 3.5);
  EXPECT_EQ(net.requests_served, 10u);
  EXPECT_EQ(net.requests_replayed, 3u);
  EXPECT_EQ(net.malformed_requests, 1u);
  ASSERT_EQ(net.counters.size(), 1u);
  EXPECT_EQ(net.counters[0], (std::pair<std::string, uint64_t>{"rx_frames", 7}));
  EXPECT_EQ((*devices)[0].pid, 4242);
  EXPECT_EQ((*devices)[0].counters.size(), 2u);

  EXPECT_TRUE(client->RestartDevice("serial"));
  auto unknown = client->RestartDevice("floppy");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "restart: no device named 'floppy'");

  ASSERT_TRUE(client->Pause());
  EXPECT_TRUE(client->Status()->paused);
  auto again = client->Pause();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "pause: already paused");
  ASSERT_TRUE(client->Resume());
  EXPECT_FALSE(client->Status()->paused);
  EXPECT_TRUE(client->PowerOff());

  EXPECT_EQ(vm.Calls(), (std::vector<std::string>{"status", "devices", "restart serial",
                                                  "restart floppy", "pause", "status", "pause",
                                                  "resume", "status", "poweroff"}));
  // Every call ran on the server's own thread.
  EXPECT_EQ(vm.threads.size(), 1u);
  EXPECT_EQ(vm.threads.count(std::this_thread::get_id()), 0u);
}

TEST(ApiServer, RejectsBadDeviceNamesBeforeTheVm) {
  TempDir dir;
  FakeVmControl vm;
  auto server = ApiServer::Start(dir / "api.sock", vm);
  ASSERT_TRUE(server) << server.error().message;
  auto client = MustConnect(dir / "api.sock");
  ASSERT_TRUE(client);
  EXPECT_EQ(client->RestartDevice("").error().message, "restart: no device name given");
  EXPECT_EQ(client->RestartDevice(std::string(65, 'a')).error().message,
            "restart: device name longer than 64 bytes");
  EXPECT_EQ(client->RestartDevice("se\nrial").error().message,
            "restart: device name has non-printable characters");
  EXPECT_TRUE(vm.Calls().empty());
}

TEST(ApiServer, SocketIsMode0600OwnedByUsAndRemovedOnStop) {
  TempDir dir;
  FakeVmControl vm;
  const std::string path = dir / "api.sock";
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the umask
  auto server = ApiServer::Start(path, vm);
  ::umask(old_umask);
  ASSERT_TRUE(server) << server.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());

  auto client = MustConnect(path);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Status());
  (*server)->Stop();
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
  // The connection went with the server.
  EXPECT_FALSE(client->Status());
  (*server)->Stop();  // idempotent
}

TEST(ApiServer, ManyConcurrentClients) {
  TempDir dir;
  FakeVmControl vm;
  auto server = ApiServer::Start(dir / "api.sock", vm);
  ASSERT_TRUE(server) << server.error().message;
  // An idle client holds its connection throughout: it must not block others.
  auto idle = MustConnect(dir / "api.sock");
  ASSERT_TRUE(idle);
  constexpr int kThreads = 4, kCalls = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto c = ApiClient::Connect(dir / "api.sock");
      if (!c) return;
      for (int i = 0; i < kCalls; ++i) {
        auto d = (*c)->Devices();
        if (d && d->size() == 2) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kThreads * kCalls);
  EXPECT_FALSE(vm.overlapped) << "VmControl calls overlapped";
  EXPECT_TRUE(idle->Status());
}

TEST(ApiServer, ClientsBeyondTheLimitAreClosedOthersServed) {
  TempDir dir;
  FakeVmControl vm;
  auto server = ApiServer::Start(dir / "api.sock", vm);
  ASSERT_TRUE(server) << server.error().message;
  // Raw connections that never send anything hold every slot (an ApiClient
  // has its own KJ loop, so one thread holds one ApiClient at a time).
  std::vector<UniqueFd> held;
  for (size_t i = 0; i < kMaxApiClients; ++i) {
    auto fd = ConnectApiSocket(dir / "api.sock");
    ASSERT_TRUE(fd) << fd.error().message;
    held.push_back(std::move(*fd));
  }
  {
    auto extra = MustConnect(dir / "api.sock");
    ASSERT_TRUE(extra);
    EXPECT_FALSE(extra->Status()) << "a client beyond the limit was served";
  }
  held.pop_back();  // one leaves: a newcomer gets its place
  for (int i = 0; i < 100; ++i) {
    auto next = ApiClient::Connect(dir / "api.sock");
    if (next && (*next)->Status()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no client served after one left";
}

TEST(ApiServer, RefusesAPathThatIsNotASocket) {
  TempDir dir;
  FakeVmControl vm;
  const std::string path = dir / "precious";
  std::ofstream(path) << "data";
  auto server = ApiServer::Start(path, vm);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("not a socket"), std::string::npos)
      << server.error().message;
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "data");
}

TEST(ApiServer, ReplacesAStaleSocketButNotALiveOne) {
  TempDir dir;
  FakeVmControl vm;
  const std::string path = dir / "api.sock";
  {
    // A socket file whose owner died: bound, never unlinked.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto first = ApiServer::Start(path, vm);
  ASSERT_TRUE(first) << first.error().message;

  auto second = ApiServer::Start(path, vm);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("another process is serving"), std::string::npos)
      << second.error().message;
  auto client = MustConnect(path);  // the first one still serves
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->Status());
}

TEST(ApiServer, RefusesAPathTooLongForAUnixSocket) {
  FakeVmControl vm;
  auto server = ApiServer::Start("/tmp/" + std::string(200, 'x'), vm);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("longer than"), std::string::npos);
}

TEST(ApiServer, StopRightAfterStart) {
  TempDir dir;
  FakeVmControl vm;
  for (int i = 0; i < 20; ++i) {
    auto server = ApiServer::Start(dir / "api.sock", vm);
    ASSERT_TRUE(server) << server.error().message;
  }  // each destructor stops its server and frees the path for the next
}

}  // namespace
}  // namespace bulkhead
