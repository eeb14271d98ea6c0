#include "ipc/event_fd.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <fcntl.h>
#include <sys/stat.h>

namespace bulkhead {

Result<EventFd> EventFd::Create(unsigned int initval, int flags) {
  const int fd = ::eventfd(initval, flags | EFD_CLOEXEC);
  if (fd < 0) return ErrnoError("eventfd");
  return EventFd(UniqueFd(fd));
}

Result<EventFd> EventFd::Adopt(UniqueFd fd) {
  if (!fd.valid()) return MakeError("EventFd::Adopt: invalid fd");
  // An eventfd is an anonymous inode: fstat shows no file-type bits. That is
  // as far as a check can go inside a device jail: every anon-inode fd
  // (eventfd, timerfd, epoll...) shares one inode, and the /proc link that
  // names the kind does not exist there (nor is readlink allowed). A wrong
  // anon-inode kind only makes that device's own reads/writes fail.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("EventFd::Adopt: fstat fd {}", fd.get());
  if ((st.st_mode & S_IFMT) != 0) {
    return MakeError("EventFd::Adopt: fd {} has file type {:#o}, not an eventfd", fd.get(),
                     st.st_mode & S_IFMT);
  }
  return EventFd(std::move(fd));
}

Status EventFd::Signal(uint64_t n) const {
  if (n == 0 || n == UINT64_MAX) return MakeError("EventFd::Signal: bad increment {}", n);
  for (;;) {
    const ssize_t r = ::write(fd_.get(), &n, sizeof n);
    if (r == static_cast<ssize_t>(sizeof n)) return {};
    if (r < 0 && errno == EINTR) continue;
    // EAGAIN means the counter would overflow: the reader is far behind and a
    // wake-up is already pending, which is all a signal has to achieve.
    if (r < 0 && errno == EAGAIN) return {};
    return ErrnoError("eventfd write (fd {})", fd_.get());
  }
}

Result<bool> EventFd::PollReadable(int timeout_ms) const {
  pollfd pfd{.fd = fd_.get(), .events = POLLIN, .revents = 0};
  for (;;) {
    const int r = ::poll(&pfd, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("poll eventfd {}", fd_.get());
    if (r == 0) return false;
    if (pfd.revents & (POLLERR | POLLNVAL)) {
      return MakeError("poll eventfd {}: revents {:#x}", fd_.get(), pfd.revents);
    }
    return true;
  }
}

Result<std::optional<uint64_t>> EventFd::ReadCounter() const {
  uint64_t value = 0;
  for (;;) {
    const ssize_t r = ::read(fd_.get(), &value, sizeof value);
    if (r == static_cast<ssize_t>(sizeof value)) return value;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return std::nullopt;
    if (r < 0) return ErrnoError("eventfd read (fd {})", fd_.get());
    return MakeError("eventfd read (fd {}): short read {}", fd_.get(), r);
  }
}

Result<uint64_t> EventFd::Wait() const {
  for (;;) {
    auto readable = PollReadable(-1);
    if (!readable) return tl::unexpected(readable.error());
    auto value = ReadCounter();
    if (!value) return tl::unexpected(value.error());
    if (*value) return **value;
  }
}

Result<std::optional<uint64_t>> EventFd::WaitFor(std::chrono::milliseconds timeout) const {
  const auto ms = timeout.count();
  auto readable = PollReadable(ms < 0 ? 0 : (ms > INT_MAX ? INT_MAX : static_cast<int>(ms)));
  if (!readable) return tl::unexpected(readable.error());
  if (!*readable) return std::nullopt;
  return ReadCounter();
}

Result<uint64_t> EventFd::TryConsume() const {
  auto readable = PollReadable(0);
  if (!readable) return tl::unexpected(readable.error());
  if (!*readable) return uint64_t{0};
  auto value = ReadCounter();
  if (!value) return tl::unexpected(value.error());
  return value->value_or(0);
}

Result<EventFd> EventFd::Dup() const {
  const int fd = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("dup eventfd {}", fd_.get());
  return EventFd(UniqueFd(fd));
}

}  // namespace bulkhead
