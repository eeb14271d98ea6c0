#include "devproc/net/net_backend.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace bulkhead::net {

Result<FdNetBackend> FdNetBackend::Adopt(UniqueFd fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) return ErrnoError("net backend: F_GETFL");
  if (!(flags & O_NONBLOCK) && ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoError("net backend: F_SETFL O_NONBLOCK");
  }
  return FdNetBackend(std::move(fd));
}

Result<std::optional<size_t>> FdNetBackend::Send(std::span<const iovec> frame) {
  if (frame.size() > IOV_MAX) return MakeError("frame of {} segments", frame.size());
  for (;;) {
    const ssize_t n = ::writev(fd_.get(), frame.data(), static_cast<int>(frame.size()));
    if (n >= 0) return std::optional<size_t>(static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<size_t>();
    return ErrnoError("net backend: writev");
  }
}

Result<std::optional<size_t>> FdNetBackend::Receive(std::span<uint8_t> buf) {
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n > 0) return std::optional<size_t>(static_cast<size_t>(n));
    if (n == 0) return MakeError("net backend: end of file");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<size_t>();
    return ErrnoError("net backend: read");
  }
}

Status FdNetBackend::SetOffload(unsigned tun_flags) {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, static_cast<unsigned long>(tun_flags)) < 0) {
    return ErrnoError("TUNSETOFFLOAD {:#x}", tun_flags);
  }
  return {};
}

Status FdNetBackend::SetVnetHeaderSize(int bytes) {
  if (::ioctl(fd_.get(), TUNSETVNETHDRSZ, &bytes) < 0) return ErrnoError("TUNSETVNETHDRSZ {}", bytes);
  return {};
}

}  // namespace bulkhead::net
