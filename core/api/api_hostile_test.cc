// Hostile bytes on the API socket: each bad connection is dropped (or
// answered with an error) while the server keeps serving a good client.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "core/api/api_client.h"
#include "core/api/api_server.h"
#include "core/api/api_socket.h"
#include "core/api/fake_vm_control.h"

namespace bulkhead {
namespace {

using testing::FakeVmControl;
using testing::TempDir;

class ApiHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ApiServer::Start(dir_ / "api.sock", vm_);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    auto c = ApiClient::Connect(dir_ / "api.sock");
    ASSERT_TRUE(c) << c.error().message;
    good_ = std::move(*c);
  }

  UniqueFd RawConnection() {
    auto fd = ConnectApiSocket(dir_ / "api.sock");
    EXPECT_TRUE(fd);
    return fd ? std::move(*fd) : UniqueFd();
  }

  static void Send(const UniqueFd& fd, const std::vector<uint32_t>& words) {
    ASSERT_EQ(::send(fd.get(), words.data(), words.size() * 4, MSG_NOSIGNAL),
              static_cast<ssize_t>(words.size() * 4));
  }

  // True when the server closed (or reset) the connection within 3 s; what it
  // sent before closing (an abort message) is read and ignored.
  // Used where the framing itself is bad: nothing else is acceptable.
  static bool ServerHangsUp(const UniqueFd& fd) {
    char buf[4096];
    for (;;) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 3000) != 1) return false;
      const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
  }

  // A well-framed message that is no valid RPC message: Cap'n Proto either
  // answers (an error) or hangs up. Either is fine; silence is not.
  static bool ServerAnswersOrHangsUp(const UniqueFd& fd) {
    pollfd p{fd.get(), POLLIN, 0};
    return ::poll(&p, 1, 3000) == 1;
  }

  void ExpectStillServing() {
    auto s = good_->Status();
    EXPECT_TRUE(s) << s.error().message;
    auto d = good_->Devices();
    EXPECT_TRUE(d && d->size() == 2);
  }

  TempDir dir_;
  FakeVmControl vm_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<ApiClient> good_;
};

TEST_F(ApiHostile, GarbageBytes) {
  UniqueFd fd = RawConnection();
  // Segment count 1, a segment of 3 words that are no RPC message.
  Send(fd, {0, 3, 0xdeadbeef, 0xffffffff, 0x12345678, 0x9abcdef0, 0xffffffff, 0xfffffffe});
  EXPECT_TRUE(ServerAnswersOrHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, RandomBytes) {
  UniqueFd fd = RawConnection();
  std::vector<uint32_t> words(256);
  uint32_t x = 12345;
  for (auto& w : words) w = x = x * 1103515245u + 12345u;
  words[0] = 0;  // one segment...
  words[1] = 127;  // ...of 127 words: the rest, exactly
  Send(fd, words);
  EXPECT_TRUE(ServerAnswersOrHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, TruncatedMessage) {
  UniqueFd fd = RawConnection();
  // Announces 100 words, sends 3, stops writing.
  Send(fd, {0, 100, 1, 2, 3, 4, 5, 6});
  // While it waits for the rest, others are served.
  ExpectStillServing();
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_TRUE(ServerHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, HugeSegmentLengthIsRefusedUpFront) {
  UniqueFd fd = RawConnection();
  // One segment of 2^28 words (2 GiB): refused from the header alone,
  // without waiting for (or allocating) the body.
  Send(fd, {0, 1u << 28});
  EXPECT_TRUE(ServerHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, JustOverTheApiLimitIsRefused) {
  UniqueFd fd = RawConnection();
  // 64 KiB + 1 word: within Cap'n Proto's default limit (64 MiB), over the
  // API's own. The server must hang up without waiting for the body.
  Send(fd, {0, 64 * 1024 / 8 + 1});
  EXPECT_TRUE(ServerHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, HugeSegmentCount) {
  UniqueFd fd = RawConnection();
  Send(fd, {0x7fffffff, 1});
  EXPECT_TRUE(ServerHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, ManySmallSegmentsOverTheLimit) {
  UniqueFd fd = RawConnection();
  // 500 segments of 100 words: 50,000 words in total, over the limit.
  std::vector<uint32_t> header = {499};
  for (int i = 0; i < 500; ++i) header.push_back(100);
  if (header.size() % 2) header.push_back(0);
  Send(fd, header);
  EXPECT_TRUE(ServerHangsUp(fd));
  ExpectStillServing();
}

TEST_F(ApiHostile, HangUpMidCallAndFdsPassedAnyway) {
  // A client that passes an fd (SCM_RIGHTS) with garbage: the fd is not kept,
  // the connection dropped.
  UniqueFd fd = RawConnection();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  uint32_t words[2] = {0, 0};
  iovec iov{words, sizeof(words)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pipefd[1], sizeof(int));
  ASSERT_EQ(::sendmsg(fd.get(), &msg, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof(words)));
  ::close(pipefd[1]);
  Send(fd, {0xffffffff, 0xffffffff});
  fd.reset();
  // The pipe's write end is gone everywhere: the server kept no copy.
  char b;
  pollfd p{pipefd[0], POLLIN, 0};
  bool eof = false;
  for (int i = 0; i < 30 && !eof; ++i) {
    if (::poll(&p, 1, 100) == 1 && ::read(pipefd[0], &b, 1) == 0) eof = true;
  }
  ::close(pipefd[0]);
  EXPECT_TRUE(eof) << "the server holds a passed fd";
  ExpectStillServing();
}

}  // namespace
}  // namespace bulkhead
