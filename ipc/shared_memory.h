// MemFd and Mapping: the shared memory between the core and device processes
// (guest RAM, device state regions, exit rings).
//
// A peer that can shrink a shared file can make every access beyond the new
// end raise SIGBUS in the other process. So memory shared with an untrusted
// process is sealed against shrink/grow (Seal) before it is passed, and the
// receiving side checks the seals (RequireSeals) before mapping.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

inline constexpr unsigned kSealSize = F_SEAL_SHRINK | F_SEAL_GROW;

class MemFd {
 public:
  // memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) + ftruncate(size).
  [[nodiscard]] static Result<MemFd> Create(const std::string& name, uint64_t size);

  // Takes over a received fd; reads its size with fstat.
  [[nodiscard]] static Result<MemFd> Adopt(UniqueFd fd);

  MemFd() = default;
  MemFd(MemFd&&) noexcept = default;
  MemFd& operator=(MemFd&&) noexcept = default;

  // Adds seals (F_ADD_SEALS); default: the size can no longer change.
  [[nodiscard]] Status Seal(unsigned seals = kSealSize) const;
  // Current seals (F_GET_SEALS).
  [[nodiscard]] Result<unsigned> Seals() const;
  // Error unless every bit of `seals` is set: call before trusting the size of
  // a memfd that came from another process.
  [[nodiscard]] Status RequireSeals(unsigned seals = kSealSize) const;

  [[nodiscard]] Result<MemFd> Dup() const;

  [[nodiscard]] uint64_t size() const noexcept { return size_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }
  [[nodiscard]] UniqueFd release() noexcept { return std::move(fd_); }

 private:
  MemFd(UniqueFd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}
  UniqueFd fd_;
  uint64_t size_ = 0;
};

// A MAP_SHARED mapping, unmapped on destruction.
class Mapping {
 public:
  // Maps [offset, offset+size) of fd. Fails (instead of a later SIGBUS) if the
  // file is shorter than offset+size at the time of the call. offset must be
  // page aligned; size must be > 0.
  [[nodiscard]] static Result<Mapping> Map(int fd, uint64_t size, uint64_t offset = 0,
                                           int prot = PROT_READ | PROT_WRITE);
  // The whole memfd.
  [[nodiscard]] static Result<Mapping> Map(const MemFd& memfd, int prot = PROT_READ | PROT_WRITE) {
    return Map(memfd.fd(), memfd.size(), 0, prot);
  }

  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  ~Mapping();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data_, size_}; }

  // A T at byte `offset`, if [offset, offset+sizeof(T)) fits in the mapping
  // and the address is aligned for T. T must be a fixed-layout type (standard
  // layout); the contents are whatever the other process wrote, so T's fields
  // must be validated (or be atomics read once) before use.
  template <class T>
  [[nodiscard]] Result<T*> as(size_t offset = 0) const {
    static_assert(std::is_standard_layout_v<T>, "shared memory types must be standard layout");
    if (offset > size_ || sizeof(T) > size_ - offset) {
      return MakeError("Mapping::as: {} bytes at offset {} exceed mapping of {} bytes", sizeof(T),
                       offset, size_);
    }
    // SAFETY: offset + sizeof(T) <= size_ was checked above, so the pointer
    // and the whole object lie inside the live mapping.
    std::byte* p = data_ + offset;
    if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0) {
      return MakeError("Mapping::as: offset {} is not aligned to {}", offset, alignof(T));
    }
    return reinterpret_cast<T*>(p);
  }

 private:
  Mapping(std::byte* data, size_t size) : data_(data), size_(size) {}
  void Reset() noexcept;

  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bulkhead
