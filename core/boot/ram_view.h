// Bounds-checked writes into the guest's low RAM while the loader builds the
// boot image. The loader runs before any vCPU, on RAM the core just created,
// but what it copies (kernel, initrd, command line) comes from the user: every
// range is checked as a whole, [gpa, gpa+len), with overflow in mind.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "ipc/result.h"

namespace bulkhead::boot {

class RamView {
 public:
  // `ram` is guest-physical [0, ram.size()).
  explicit RamView(std::span<uint8_t> ram) : ram_(ram) {}

  uint64_t size() const { return ram_.size(); }

  bool Contains(uint64_t gpa, uint64_t len) const {
    return gpa <= ram_.size() && len <= ram_.size() - gpa;
  }

  [[nodiscard]] Result<std::span<uint8_t>> Slice(uint64_t gpa, uint64_t len) const {
    if (!Contains(gpa, len)) {
      return MakeError("guest range [{:#x}, +{:#x}) is outside the {:#x} bytes of low RAM", gpa,
                       len, ram_.size());
    }
    // SAFETY: [gpa, gpa+len) was checked against ram_.size() as a whole,
    // without overflow (len <= size - gpa), so the span stays inside the
    // guest-RAM mapping the caller gave us.
    return ram_.subspan(gpa, len);
  }

  [[nodiscard]] Status Write(uint64_t gpa, std::span<const uint8_t> data) const {
    auto dst = Slice(gpa, data.size());
    if (!dst) return tl::unexpected(dst.error());
    if (!data.empty()) std::memcpy(dst->data(), data.data(), data.size());
    return {};
  }

  [[nodiscard]] Status Fill(uint64_t gpa, uint64_t len, uint8_t value) const {
    auto dst = Slice(gpa, len);
    if (!dst) return tl::unexpected(dst.error());
    if (len != 0) std::memset(dst->data(), value, len);
    return {};
  }

  // Writes a trivially copyable object in guest (little-endian) byte order.
  template <class T>
  [[nodiscard]] Status WriteObj(uint64_t gpa, const T& obj) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return Write(gpa, std::span(reinterpret_cast<const uint8_t*>(&obj), sizeof(T)));
  }

  template <class T>
  [[nodiscard]] Result<T> ReadObj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto src = Slice(gpa, sizeof(T));
    if (!src) return tl::unexpected(src.error());
    T obj;
    std::memcpy(&obj, src->data(), sizeof(T));
    return obj;
  }

 private:
  std::span<uint8_t> ram_;
};

}  // namespace bulkhead::boot
