// FdNetBackend over a SOCK_SEQPACKET socketpair (the framing of a tap with
// IFF_VNET_HDR): one frame per call both ways, EAGAIN as "try later", end of
// file as an error, and the tap ioctls failing cleanly on a non-tap.
#include "devproc/net/net_backend.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bulkhead::net {
namespace {

class NetBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    // Blocking on purpose: Adopt must make the device's end non-blocking.
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    peer_.reset(sv[0]);
    auto b = FdNetBackend::Adopt(UniqueFd(sv[1]));
    ASSERT_TRUE(b) << b.error().message;
    backend_.emplace(std::move(*b));
  }
  UniqueFd peer_;
  std::optional<FdNetBackend> backend_;
};

TEST_F(NetBackendTest, AdoptMakesTheFdNonBlocking) {
  EXPECT_TRUE(::fcntl(backend_->fd(), F_GETFL) & O_NONBLOCK);
}

TEST_F(NetBackendTest, OneFramePerCallBothWays) {
  std::string a = "header-and-", b = "frame";
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  auto sent = backend_->Send(iov);
  ASSERT_TRUE(sent && *sent);
  EXPECT_EQ(**sent, a.size() + b.size());
  char buf[64];
  ASSERT_EQ(::read(peer_.get(), buf, sizeof buf), static_cast<ssize_t>(a.size() + b.size()));
  EXPECT_EQ(std::string(buf, a.size() + b.size()), a + b);

  ASSERT_EQ(::write(peer_.get(), "one", 3), 3);
  ASSERT_EQ(::write(peer_.get(), "second", 6), 6);
  std::vector<uint8_t> in(64);
  auto got = backend_->Receive(in);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, 3u);
  got = backend_->Receive(in);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, 6u);
  got = backend_->Receive(in);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got) << "nothing there: try later";
}

TEST_F(NetBackendTest, FullBackendSaysTryLater) {
  std::string frame(4096, 'x');
  iovec iov{frame.data(), frame.size()};
  bool full = false;
  for (int i = 0; i < 100000 && !full; ++i) {
    auto sent = backend_->Send({&iov, 1});
    ASSERT_TRUE(sent);
    full = !sent->has_value();
  }
  EXPECT_TRUE(full);
}

TEST_F(NetBackendTest, PeerGoneIsAnError) {
  peer_.reset();
  std::vector<uint8_t> in(64);
  EXPECT_FALSE(backend_->Receive(in));
  std::string frame = "x";
  iovec iov{frame.data(), frame.size()};
  EXPECT_FALSE(backend_->Send({&iov, 1}));
}

TEST_F(NetBackendTest, TapIoctlsFailOnASocket) {
  EXPECT_FALSE(backend_->SetOffload(1));
  EXPECT_FALSE(backend_->SetVnetHeaderSize(12));
}

}  // namespace
}  // namespace bulkhead::net
