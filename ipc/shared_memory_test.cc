#include "ipc/shared_memory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <gtest/gtest.h>

namespace bulkhead {
namespace {

TEST(MemFd, CreateHasSizeAndCloexec) {
  auto m = MemFd::Create("test", 8192);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->size(), 8192u);
  EXPECT_TRUE(::fcntl(m->fd(), F_GETFD) & FD_CLOEXEC);
}

TEST(MemFd, SealPreventsResize) {
  auto m = MemFd::Create("sealed", 4096);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->RequireSeals());
  ASSERT_TRUE(m->Seal());
  EXPECT_TRUE(m->RequireSeals());
  EXPECT_EQ(m->Seals().value() & kSealSize, kSealSize);
  EXPECT_NE(::ftruncate(m->fd(), 0), 0);
  EXPECT_NE(::ftruncate(m->fd(), 8192), 0);
}

TEST(MemFd, AdoptReadsSizeAndRejectsNonFiles) {
  auto m = MemFd::Create("adopt", 12288);
  ASSERT_TRUE(m);
  auto d = m->Dup();
  ASSERT_TRUE(d);
  auto adopted = MemFd::Adopt(d->release());
  ASSERT_TRUE(adopted);
  EXPECT_EQ(adopted->size(), 12288u);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd w(p[1]);
  EXPECT_FALSE(MemFd::Adopt(UniqueFd(p[0])));
}

TEST(Mapping, TwoMappingsShareContents) {
  auto m = MemFd::Create("share", 4096);
  ASSERT_TRUE(m);
  auto a = Mapping::Map(*m);
  auto b = Mapping::Map(*m);
  ASSERT_TRUE(a && b);
  std::memcpy(a->data(), "hello", 5);
  EXPECT_EQ(std::memcmp(b->data(), "hello", 5), 0);
}

TEST(Mapping, SharedAcrossFork) {
  auto m = MemFd::Create("fork", 4096);
  ASSERT_TRUE(m);
  auto map = Mapping::Map(*m);
  ASSERT_TRUE(map);
  auto counter = map->as<std::atomic<uint64_t>>(64);
  ASSERT_TRUE(counter);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    (*counter)->store(42);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ((*counter)->load(), 42u);
}

TEST(Mapping, RefusesToMapBeyondEndOfFile) {
  auto m = MemFd::Create("short", 4096);
  ASSERT_TRUE(m);
  EXPECT_FALSE(Mapping::Map(m->fd(), 8192));
  EXPECT_FALSE(Mapping::Map(m->fd(), 4096, 4096));
  EXPECT_FALSE(Mapping::Map(m->fd(), 0));
  EXPECT_FALSE(Mapping::Map(m->fd(), 100, 100));  // unaligned offset
}

TEST(Mapping, AsChecksBoundsAndAlignment) {
  auto m = MemFd::Create("as", 4096);
  ASSERT_TRUE(m);
  auto map = Mapping::Map(*m);
  ASSERT_TRUE(map);
  EXPECT_TRUE(map->as<uint64_t>(4088));
  EXPECT_FALSE(map->as<uint64_t>(4089));      // runs past the end
  EXPECT_FALSE(map->as<uint64_t>(4));         // misaligned
  EXPECT_FALSE(map->as<uint64_t>(SIZE_MAX));  // offset overflow
  EXPECT_TRUE(map->as<uint8_t>(4095));
}

TEST(Mapping, MoveTransfersOwnership) {
  auto m = MemFd::Create("move", 4096);
  ASSERT_TRUE(m);
  auto a = Mapping::Map(*m);
  ASSERT_TRUE(a);
  std::byte* p = a->data();
  Mapping b = std::move(*a);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(a->data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.size(), 4096u);
}

}  // namespace
}  // namespace bulkhead
