// FdNetBackend over a SOCK_SEQPACKET socketpair (the framing of a tap with
// IFF_VNET_HDR): one frame per call both ways, EAGAIN as "try later", end of
// file as an error, and the tap ioctls failing cleanly on a non-tap.
#include "devproc/net/net_backend.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devproc/net/net_spec.h"

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

// The real thing, where the test may create one: a tap in a private network
// namespace, opened as the core opens it. Proves the ioctl encodings and that
// the kernel parses our header as 12 bytes (see the checksum requests below).
TEST(NetBackendTapTest, RealTapTakesOurHeaderAndOffloads) {
  if (::unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "no network namespace: " << std::strerror(errno);
  UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!tun) GTEST_SKIP() << "no /dev/net/tun: " << std::strerror(errno);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "bh-test0");
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(tun.get(), TUNSETIFF, &ifr) != 0) GTEST_SKIP() << "TUNSETIFF: " << std::strerror(errno);
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock);
  ASSERT_EQ(::ioctl(sock.get(), SIOCGIFFLAGS, &ifr), 0);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ASSERT_EQ(::ioctl(sock.get(), SIOCSIFFLAGS, &ifr), 0);

  auto b = FdNetBackend::Adopt(std::move(tun));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->SetVnetHeaderSize(kNetHeaderSize));
  EXPECT_TRUE(b->SetOffload(kTunFCsum | kTunFTso4 | kTunFTso6 | kTunFTsoEcn));
  EXPECT_FALSE(b->SetOffload(kTunFTso4)) << "the kernel refuses TSO without CSUM";
  EXPECT_TRUE(b->SetOffload(0));

  // A broadcast frame after a zero header: accepted whole.
  std::vector<uint8_t> frame(kNetHeaderSize + 60, 0);
  std::memset(frame.data() + kNetHeaderSize, 0xff, 6);
  frame[kNetHeaderSize + 12] = 0x08;
  iovec iov{frame.data(), frame.size()};
  auto sent = b->Send({&iov, 1});
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(*sent);
  EXPECT_EQ(**sent, frame.size());
  // A checksum request whose last byte is the frame's last byte is taken, one
  // two bytes further is refused: true only if the kernel sees a 60-byte
  // frame, i.e. it skips exactly our 12-byte header (with 10 it would see 62).
  NetHeader h{};
  h.flags = kHdrFNeedsCsum;
  h.csum_start = 42;
  h.csum_offset = 16;
  std::memcpy(frame.data(), &h, sizeof h);
  auto fits = b->Send({&iov, 1});
  EXPECT_TRUE(fits) << fits.error().message;
  h.csum_start = 44;
  std::memcpy(frame.data(), &h, sizeof h);
  EXPECT_FALSE(b->Send({&iov, 1})) << "the kernel read a header of another size";
}

}  // namespace
}  // namespace bulkhead::net
