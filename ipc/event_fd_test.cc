#include "ipc/event_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace bulkhead {
namespace {

using namespace std::chrono_literals;

TEST(EventFd, SignalThenTryConsumeReturnsSum) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd) << efd.error().message;
  EXPECT_EQ(efd->TryConsume().value(), 0u);
  ASSERT_TRUE(efd->Signal());
  ASSERT_TRUE(efd->Signal(4));
  EXPECT_EQ(efd->TryConsume().value(), 5u);
  EXPECT_EQ(efd->TryConsume().value(), 0u);  // counter was reset
}

TEST(EventFd, IsCloseOnExec) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  EXPECT_TRUE(::fcntl(efd->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(EventFd, RejectsZeroAndMaxIncrement) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  EXPECT_FALSE(efd->Signal(0));
  EXPECT_FALSE(efd->Signal(UINT64_MAX));
}

TEST(EventFd, WaitBlocksUntilAnotherThreadSignals) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  auto copy = efd->Dup();
  ASSERT_TRUE(copy);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(copy->Signal(7));
  });
  const auto start = std::chrono::steady_clock::now();
  auto v = efd->Wait();
  const auto waited = std::chrono::steady_clock::now() - start;
  t.join();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 7u);
  EXPECT_GE(waited, 15ms);
}

TEST(EventFd, WaitForTimesOut) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  auto v = efd->WaitFor(10ms);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->has_value());
  ASSERT_TRUE(efd->Signal(3));
  v = efd->WaitFor(10ms);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value_or(0), 3u);
}

TEST(EventFd, WorksOnNonBlockingFdAndSemaphoreMode) {
  auto efd = EventFd::Create(2, EFD_NONBLOCK | EFD_SEMAPHORE);
  ASSERT_TRUE(efd);
  EXPECT_EQ(efd->Wait().value(), 1u);
  EXPECT_EQ(efd->TryConsume().value(), 1u);
  EXPECT_EQ(efd->TryConsume().value(), 0u);
}

TEST(EventFd, AdoptAcceptsEventFdAndRejectsOthers) {
  auto efd = EventFd::Create();
  ASSERT_TRUE(efd);
  auto adopted = EventFd::Adopt(efd->release());
  ASSERT_TRUE(adopted) << adopted.error().message;
  ASSERT_TRUE(adopted->Signal());
  EXPECT_EQ(adopted->TryConsume().value(), 1u);

  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd read_end(pipefd[0]);
  EXPECT_FALSE(EventFd::Adopt(UniqueFd(pipefd[1])));
  EXPECT_FALSE(EventFd::Adopt(UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC))));
  EXPECT_FALSE(EventFd::Adopt(UniqueFd()));
}

}  // namespace
}  // namespace bulkhead
