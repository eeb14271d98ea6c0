#include "devproc/ahci/backend.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bulkhead::ahci {
namespace {

// Drops the first `n` bytes from the front of `iov` (after a short transfer).
void Advance(std::vector<iovec>& iov, size_t& first, uint64_t n) {
  while (n > 0 && first < iov.size()) {
    if (n >= iov[first].iov_len) {
      n -= iov[first].iov_len;
      ++first;
    } else {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + n;
      iov[first].iov_len -= n;
      n = 0;
    }
  }
}

// Trims `iov` so that it covers exactly `len` bytes.
void Clip(std::vector<iovec>& iov, uint64_t len) {
  size_t i = 0;
  for (; i < iov.size() && len > 0; ++i) {
    iov[i].iov_len = std::min<uint64_t>(iov[i].iov_len, len);
    len -= iov[i].iov_len;
  }
  iov.resize(i);
}

}  // namespace

Result<BlockBackend> BlockBackend::Open(UniqueFd fd, bool read_only) {
  BlockBackend b;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("backend fstat");
  if (S_ISREG(st.st_mode)) {
    b.size_ = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    const off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) return ErrnoError("backend lseek");
    b.size_ = static_cast<uint64_t>(end);
  } else {
    return MakeError("backend is neither a regular file nor a block device");
  }
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0) return ErrnoError("backend F_GETFL");
  b.read_only_ = read_only || (fl & O_ACCMODE) == O_RDONLY;
  if (!b.read_only_ && S_ISREG(st.st_mode)) {
    // A zero-length hole at EOF: no data is touched, the answer says whether
    // the file system supports punching.
    b.can_punch_ = ::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                               static_cast<off_t>(b.size_), 4096) == 0;
  }
  b.fd_ = std::move(fd);
  return b;
}

Status BlockBackend::ReadV(std::vector<iovec> iov, uint64_t offset, uint64_t len) const {
  Clip(iov, len);
  size_t first = 0;
  while (len > 0) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::preadv(fd_.get(), iov.data() + first, cnt, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("preadv {} bytes at {}", len, offset);
    }
    if (n == 0) {  // end of file: the rest reads as zeros
      for (size_t i = first; i < iov.size(); ++i) std::memset(iov[i].iov_base, 0, iov[i].iov_len);
      return {};
    }
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
    Advance(iov, first, static_cast<uint64_t>(n));
  }
  return {};
}

Status BlockBackend::WriteV(std::vector<iovec> iov, uint64_t offset, uint64_t len) const {
  if (read_only_) return MakeError("write to a read-only backend");
  Clip(iov, len);
  size_t first = 0;
  while (len > 0) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::pwritev(fd_.get(), iov.data() + first, cnt, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pwritev {} bytes at {}", len, offset);
    }
    if (n == 0) return MakeError("pwritev wrote nothing at {}", offset);
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
    Advance(iov, first, static_cast<uint64_t>(n));
  }
  return {};
}

Status BlockBackend::Flush() const {
  if (read_only_) return {};
  if (::fdatasync(fd_.get()) != 0) return ErrnoError("fdatasync");
  return {};
}

Status BlockBackend::Punch(uint64_t offset, uint64_t len) const {
  if (!can_punch_) return MakeError("backend cannot punch holes");
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
    return ErrnoError("fallocate punch {} bytes at {}", len, offset);
  }
  return {};
}

}  // namespace bulkhead::ahci
