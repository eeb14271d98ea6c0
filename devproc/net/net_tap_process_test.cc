// The jailed bulkhead-net on a real tap. A separate binary: the test moves
// its process into a private network namespace.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "devproc/net/net_process_fixture.h"

namespace bulkhead::net {
namespace {

using namespace bulkhead::net::process_test;

TEST_F(NetProcessTest, RealTapBothWays) {
  if (::unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "no network namespace";
  UniqueFd tap(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!tap) GTEST_SKIP() << "no /dev/net/tun";
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "bh-net0");
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(tap.get(), TUNSETIFF, &ifr) != 0) GTEST_SKIP() << "TUNSETIFF refused";
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::ioctl(sock.get(), SIOCGIFFLAGS, &ifr), 0);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ASSERT_EQ(::ioctl(sock.get(), SIOCSIFFLAGS, &ifr), 0);
  const int ifindex = static_cast<int>(::if_nametoindex("bh-net0"));
  ASSERT_GT(ifindex, 0);
  constexpr uint16_t kEthertype = 0x88b5;  // local experimental
  UniqueFd pkt(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEthertype)));
  ASSERT_TRUE(pkt);
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(kEthertype);
  addr.sll_ifindex = ifindex;
  ASSERT_EQ(::bind(pkt.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  device_net_ = std::move(tap);

  StartDevice();
  BringUp();
  // TX: a frame of our ethertype, seen on the interface.
  std::string frame(reinterpret_cast<const char*>(kMac), 6);
  frame.append("\x02\x00\x00\x00\x00\x01\x88\xb5", 8);
  frame += "over a real tap";
  NetHeader zero{};
  tx_->AddChain({tx_->Readable(std::string(reinterpret_cast<const char*>(&zero), sizeof zero) + frame)});
  ASSERT_TRUE(doorbells_[kTxQueue].Signal());
  pollfd p{pkt.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(kTimeout.count())), 1);
  char buf[2048];
  ssize_t n = ::recv(pkt.get(), buf, sizeof buf, 0);
  ASSERT_EQ(n, static_cast<ssize_t>(frame.size()));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), frame);

  // RX: sent on the interface, delivered to the guest (among whatever else
  // the kernel sends on a fresh interface, e.g. IPv6 neighbour discovery).
  std::vector<virtio::testing::Buffer> bufs;
  for (int i = 0; i < 16; ++i) {
    bufs.push_back(rx_->Writable(2048));
    rx_->AddChain({bufs.back()});
  }
  ASSERT_TRUE(doorbells_[kRxQueue].Signal());
  std::string in(reinterpret_cast<const char*>(kMac), 6);
  in.append("\x02\x00\x00\x00\x00\x02\x88\xb5", 8);
  in += "from the wire";
  ASSERT_EQ(::send(pkt.get(), in.data(), in.size(), 0), static_cast<ssize_t>(in.size()));
  bool found = false;
  for (int tries = 0; tries < 400 && !found; ++tries) {
    for (const auto& b : bufs) {
      auto got = guest_->Read(b.addr + kNetHeaderSize, in.size());
      if (std::string(got.begin(), got.end()) == in) found = true;
    }
    if (!found) ::usleep(5000);
  }
  EXPECT_TRUE(found) << "frame from the interface never reached the guest; used idx "
                     << rx_->used_idx();
}


}  // namespace
}  // namespace bulkhead::net
