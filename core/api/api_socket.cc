// Creating, checking and removing the API socket file.
#include "core/api/api_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace bulkhead {
namespace {

// The listen backlog: clients are a few `bulkhead ctl` runs at a time.
constexpr int kBacklog = 16;

Result<sockaddr_un> MakeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return MakeError("API socket path is empty");
  // sun_path must hold the path and its terminating NUL.
  if (path.size() >= sizeof(addr.sun_path)) {
    return MakeError("{}: API socket path longer than {} bytes", path, sizeof(addr.sun_path) - 1);
  }
  if (path.find('\0') != std::string::npos) return MakeError("API socket path contains NUL");
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> NewSocket(int extra_flags) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extra_flags, 0));
  if (!fd) return ErrnoError("socket(AF_UNIX)");
  return fd;
}

// A path that exists may be reused only if it is a socket nobody listens on.
Status RemoveIfStale(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return ErrnoError("{}", path);
  }
  if (!S_ISSOCK(st.st_mode)) return MakeError("{}: exists and is not a socket; not replacing it", path);
  auto probe = NewSocket(0);
  if (!probe) return tl::unexpected(probe.error());
  if (::connect(probe->get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return MakeError("{}: another process is serving this API socket", path);
  }
  if (errno != ECONNREFUSED) return ErrnoError("{}: probing the existing socket", path);
  // ECONNREFUSED: bound by nobody any more (its bulkhead died). Safe to replace.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("{}: removing stale socket", path);
  return {};
}

}  // namespace

Result<ApiSocket> ApiSocket::Listen(const std::string& path) {
  auto addr = MakeAddress(path);
  if (!addr) return tl::unexpected(addr.error());
  if (auto st = RemoveIfStale(path, *addr); !st) return tl::unexpected(st.error());
  auto fd = NewSocket(SOCK_NONBLOCK);
  if (!fd) return tl::unexpected(fd.error());

  ApiSocket s;
  s.path_ = path;
  if (::bind(fd->get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return ErrnoError("{}: bind", path);
  }
  // Not umask: it is per process, and other threads may be creating files now.
  // Until listen() nobody can connect (ECONNREFUSED), so tightening the mode
  // between bind and listen leaves no window. NOFOLLOW: a symlink swapped in
  // here fails instead of chmod-ing its target.
  if (::fchmodat(AT_FDCWD, path.c_str(), S_IRUSR | S_IWUSR, AT_SYMLINK_NOFOLLOW) != 0) {
    const auto e = ErrnoError("{}: chmod 0600", path);
    ::unlink(path.c_str());
    return e;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 07777) != (S_IRUSR | S_IWUSR)) {
    return MakeError("{}: socket file changed under us after bind", path);
  }
  s.dev_ = st.st_dev;
  s.ino_ = st.st_ino;
  s.bound_ = true;
  if (::listen(fd->get(), kBacklog) != 0) return ErrnoError("{}: listen", path);
  s.fd_ = std::move(*fd);
  return s;
}

ApiSocket& ApiSocket::operator=(ApiSocket&& other) noexcept {
  if (this != &other) {
    Unlink();
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    bound_ = std::exchange(other.bound_, false);
  }
  return *this;
}

ApiSocket::~ApiSocket() { Unlink(); }

void ApiSocket::Unlink() {
  if (!bound_) return;
  bound_ = false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

Result<UniqueFd> ConnectApiSocket(const std::string& path) {
  auto addr = MakeAddress(path);
  if (!addr) return tl::unexpected(addr.error());
  auto fd = NewSocket(0);
  if (!fd) return tl::unexpected(fd.error());
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno == ECONNREFUSED) return MakeError("{}: no VM is serving this socket", path);
    return ErrnoError("{}", path);
  }
  return fd;
}

}  // namespace bulkhead
