// Producer and consumer in different processes, including a consumer that is
// SIGKILLed in the middle of a request and replaced.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <gtest/gtest.h>

#include "ipc/exit_ring.h"

namespace bulkhead {
namespace {

using namespace std::chrono_literals;

// Runs body in a forked child that exits with body's return value. The child
// only touches the ring and raw fds. It is forked before any thread starts.
template <class Body>
pid_t ForkChild(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Child consumer: reply = addr + 1000 to reads; for writes, adds data into a
// checksum; exits with (checksum & 0x7f) on a write to addr 0xdead.
int ServeUntilDead(ExitRingFds fds) {
  auto c = ExitRingConsumer::Attach(std::move(fds));
  if (!c) return 100;
  uint64_t sum = 0;
  for (;;) {
    if (!c->WaitForWork()) return 101;
    auto r = c->Peek();
    if (!r) return 102;
    if (!*r) continue;
    const ExitRequest req = **r;
    if (req.is_write) sum += req.data;
    if (!c->Complete(req.addr + 1000)) return 103;
    if (req.is_write && req.addr == 0xdead) return static_cast<int>(sum & 0x7f);
  }
}

TEST(ExitRingProcess, ChildConsumerServesWritesAndReads) {
  auto fds = CreateExitRing(8);
  ASSERT_TRUE(fds);
  const pid_t child = ForkChild([&] { return ServeUntilDead(fds->Dup().value()); });
  ASSERT_GT(child, 0);
  auto producer = ExitRingProducer::Attach(fds->Dup().value());
  ASSERT_TRUE(producer);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < 3000; ++i) {
    if (i % 3 == 0) {
      auto v = producer->Read(AccessSpace::kMmio, i, 4);
      ASSERT_TRUE(v) << v.error().message;
      ASSERT_EQ(*v, i + 1000);
    } else {
      ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = i, .data = i}));
      sum += i & 0xff;
    }
  }
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 0xdead, .data = 0}));
  EXPECT_EQ(WaitExit(child), static_cast<int>(sum & 0x7f));
}

TEST(ExitRingProcess, KilledConsumerMidRequestIsReplacedAndReplyArrives) {
  auto fds = CreateExitRing(4);
  ASSERT_TRUE(fds);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd report_read(pipefd[0]), report_write(pipefd[1]);

  auto producer = ExitRingProducer::Attach(fds->Dup().value());
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 1, .data = 10}));
  ASSERT_TRUE(producer->Post(ExitRequest{.size = 1, .is_write = true, .addr = 2, .data = 20}));
  ASSERT_TRUE(producer->Submit(AccessSpace::kPio, 0x3fd, 1));

  // First consumer: completes write 1, starts on write 2, reports and hangs
  // "mid-request" until it is killed.
  const pid_t first = ForkChild([&] {
    auto c = ExitRingConsumer::Attach(fds->Dup().value());
    if (!c) return 1;
    auto r1 = c->Peek();
    if (!r1 || !*r1 || (*r1)->addr != 1 || !c->Complete()) return 2;
    auto r2 = c->Peek();
    if (!r2 || !*r2 || (*r2)->addr != 2) return 3;
    const char mark = 'm';
    if (::write(report_write.get(), &mark, 1) != 1) return 4;
    for (;;) ::pause();
  });
  ASSERT_GT(first, 0);
  char mark = 0;
  ASSERT_EQ(::read(report_read.get(), &mark, 1), 1);

  // The producer neither hangs nor gets a reply while the consumer is stuck.
  auto stuck = producer->WaitReply(WaitOptions{.timeout = 30ms});
  ASSERT_FALSE(stuck);
  EXPECT_EQ(stuck.error().errnum, ETIMEDOUT);

  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_EQ(WaitExit(first), 128 + SIGKILL);

  // Second consumer: must see write 2 (at-least-once) and then the read, with
  // the seq numbers the first one saw, and reply to the read.
  const pid_t second = ForkChild([&] {
    auto c = ExitRingConsumer::Attach(fds->Dup().value());
    if (!c) return 1;
    std::vector<ExitRequest> seen;
    while (seen.size() < 2) {
      if (!c->WaitForWork()) return 2;
      auto r = c->Peek();
      if (!r) return 3;
      if (!*r) continue;
      seen.push_back(**r);
      if (!c->Complete((*r)->is_write ? 0 : 0x55)) return 4;
    }
    if (seen[0].addr != 2 || seen[0].seq != 1 || !seen[0].is_write) return 5;
    if (seen[1].addr != 0x3fd || seen[1].seq != 2 || seen[1].is_write) return 6;
    return 0;
  });
  ASSERT_GT(second, 0);
  auto v = producer->WaitReply(WaitOptions{.timeout = 5000ms});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 0x55u);
  EXPECT_EQ(WaitExit(second), 0);
}

}  // namespace
}  // namespace bulkhead
