// The management API's listening socket: a unix socket at a user-given path,
// mode 0600, owned by the user running Bulkhead.
//
// Bind refuses a path that exists and is anything but a stale socket (one
// nobody listens on any more, left by a killed bulkhead): we never remove a
// file we did not create, nor steal a live VM's socket. Unlink removes the
// path only if it is still the socket this object bound (same device and
// inode), so a successor that re-created the path keeps its socket.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

class ApiSocket {
 public:
  // Binds and listens (non-blocking, close-on-exec).
  [[nodiscard]] static Result<ApiSocket> Listen(const std::string& path);

  // A moved-from ApiSocket owns no path (it must not unlink it).
  ApiSocket(ApiSocket&& other) noexcept { *this = std::move(other); }
  ApiSocket& operator=(ApiSocket&& other) noexcept;
  ApiSocket(const ApiSocket&) = delete;
  ApiSocket& operator=(const ApiSocket&) = delete;
  ~ApiSocket();

  [[nodiscard]] const std::string& path() const { return path_; }
  // Hands the listening fd to the event loop; the path stays owned here.
  [[nodiscard]] UniqueFd TakeFd() { return std::move(fd_); }
  // Removes the socket file if it is still ours (also done by the destructor).
  void Unlink();

 private:
  ApiSocket() = default;
  std::string path_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool bound_ = false;
};

// Connects to the API socket at `path` (blocking, close-on-exec): what
// `bulkhead ctl` uses. The error says why in one line (missing, permission).
[[nodiscard]] Result<UniqueFd> ConnectApiSocket(const std::string& path);

}  // namespace bulkhead
