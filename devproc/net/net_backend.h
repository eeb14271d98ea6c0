// Where the frames go: the tap the core opened (IFF_TAP | IFF_NO_PI |
// IFF_VNET_HDR, non-blocking), or in tests anything with the same framing:
// one read or write per frame, each frame prefixed by the 12-byte
// virtio_net_hdr_v1 (a SOCK_SEQPACKET socketpair keeps the boundaries).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead::net {

class NetBackend {
 public:
  virtual ~NetBackend() = default;
  // Sends one frame; nullopt when the backend is full (try again on POLLOUT).
  [[nodiscard]] virtual Result<std::optional<size_t>> Send(std::span<const iovec> frame) = 0;
  // Receives one frame into `buf` (a frame larger than `buf` is truncated);
  // nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<size_t>> Receive(std::span<uint8_t> buf) = 0;
  // TUNSETOFFLOAD / TUNSETVNETHDRSZ. Backends that are not taps fail them.
  [[nodiscard]] virtual Status SetOffload(unsigned tun_flags) = 0;
  [[nodiscard]] virtual Status SetVnetHeaderSize(int bytes) = 0;
};

// A NetBackend over one fd with readv/writev and the two tap ioctls.
class FdNetBackend final : public NetBackend {
 public:
  // Makes the fd non-blocking if it is not (the tap from the core already is;
  // O_NONBLOCK is shared with the core's copy, which never reads it).
  [[nodiscard]] static Result<FdNetBackend> Adopt(UniqueFd fd);

  Result<std::optional<size_t>> Send(std::span<const iovec> frame) override;
  Result<std::optional<size_t>> Receive(std::span<uint8_t> buf) override;
  Status SetOffload(unsigned tun_flags) override;
  Status SetVnetHeaderSize(int bytes) override;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  explicit FdNetBackend(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace bulkhead::net
