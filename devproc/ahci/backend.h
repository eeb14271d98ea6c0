// BlockBackend: one image file the core opened and passed (the disk, or the
// CD-ROM's ISO). Positional vectored I/O straight between the file and guest
// buffers (preadv/pwritev on PRDT iovecs), fdatasync for FLUSH CACHE and
// fallocate(PUNCH_HOLE | KEEP_SIZE) for TRIM.
//
// Open() runs before the jail: it learns the size (fstat, or lseek for a
// block device), whether the fd can write (F_GETFL) and whether the file
// system punches holes (a probe that punches zero bytes of real data: a hole
// at the end of the file, which KEEP_SIZE leaves as it is). TRIM is advertised
// to the guest only if the probe succeeded.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead::ahci {

class BlockBackend {
 public:
  BlockBackend() = default;
  BlockBackend(BlockBackend&&) noexcept = default;
  BlockBackend& operator=(BlockBackend&&) noexcept = default;

  // read_only: the core's wish (kDiskReadOnly); an fd opened O_RDONLY is
  // read-only whatever it says.
  [[nodiscard]] static Result<BlockBackend> Open(UniqueFd fd, bool read_only);

  [[nodiscard]] uint64_t size() const noexcept { return size_; }
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  [[nodiscard]] bool can_punch() const noexcept { return can_punch_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

  // Reads `len` bytes at `offset` into `iov` (whose total is >= len). Bytes
  // beyond the end of the file read as zeros (an ISO whose size is not a
  // multiple of 2048).
  [[nodiscard]] Status ReadV(std::vector<iovec> iov, uint64_t offset, uint64_t len) const;
  // Writes `len` bytes from `iov` at `offset`.
  [[nodiscard]] Status WriteV(std::vector<iovec> iov, uint64_t offset, uint64_t len) const;
  [[nodiscard]] Status Flush() const;
  [[nodiscard]] Status Punch(uint64_t offset, uint64_t len) const;

 private:
  UniqueFd fd_;
  uint64_t size_ = 0;
  bool read_only_ = true;
  bool can_punch_ = false;
};

}  // namespace bulkhead::ahci
