#include "ipc/shared_memory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace bulkhead {

Result<MemFd> MemFd::Create(const std::string& name, uint64_t size) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return ErrnoError("memfd_create {}", name);
  if (size > static_cast<uint64_t>(INT64_MAX))
    return MakeError("memfd {}: size {} too big", name, size);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoError("ftruncate memfd {} to {}", name, size);
  }
  return MemFd(std::move(fd), size);
}

Result<MemFd> MemFd::Adopt(UniqueFd fd) {
  if (!fd) return MakeError("MemFd::Adopt: invalid fd");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("MemFd::Adopt: fstat fd {}", fd.get());
  if (!S_ISREG(st.st_mode)) return MakeError("MemFd::Adopt: fd {} is not a regular file", fd.get());
  return MemFd(std::move(fd), static_cast<uint64_t>(st.st_size));
}

Status MemFd::Seal(unsigned seals) const {
  if (::fcntl(fd_.get(), F_ADD_SEALS, seals) != 0) {
    return ErrnoError("F_ADD_SEALS {:#x} on memfd {}", seals, fd_.get());
  }
  return {};
}

Result<unsigned> MemFd::Seals() const {
  const int seals = ::fcntl(fd_.get(), F_GET_SEALS);
  if (seals < 0) return ErrnoError("F_GET_SEALS on fd {}", fd_.get());
  return static_cast<unsigned>(seals);
}

Status MemFd::RequireSeals(unsigned seals) const {
  auto have = Seals();
  if (!have) return tl::unexpected(have.error());
  if ((*have & seals) != seals) {
    return MakeError("memfd {}: seals {:#x}, need {:#x}", fd_.get(), *have, seals);
  }
  // The size we hold may be stale if the file changed before the seal.
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return ErrnoError("fstat memfd {}", fd_.get());
  if (static_cast<uint64_t>(st.st_size) != size_) {
    return MakeError("memfd {}: size changed from {} to {}", fd_.get(), size_, st.st_size);
  }
  return {};
}

Result<MemFd> MemFd::Dup() const {
  const int fd = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("dup memfd {}", fd_.get());
  return MemFd(UniqueFd(fd), size_);
}

Result<Mapping> Mapping::Map(int fd, uint64_t size, uint64_t offset, int prot) {
  if (size == 0) return MakeError("Mapping::Map: empty mapping of fd {}", fd);
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (offset % page != 0) return MakeError("Mapping::Map: offset {:#x} not page aligned", offset);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoError("Mapping::Map: fstat fd {}", fd);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (offset > file_size || size > file_size - offset) {
    return MakeError("Mapping::Map: [{:#x}, +{:#x}) beyond end of fd {} ({:#x} bytes)", offset,
                     size, fd, file_size);
  }
  if (size > SIZE_MAX) return MakeError("Mapping::Map: size {} too big", size);
  void* p =
      ::mmap(nullptr, static_cast<size_t>(size), prot, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return ErrnoError("mmap fd {} size {:#x}", fd, size);
  return Mapping(static_cast<std::byte*>(p), static_cast<size_t>(size));
}

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() { Reset(); }

void Mapping::Reset() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace bulkhead
