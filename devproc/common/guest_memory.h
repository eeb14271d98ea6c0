// GuestMemory: a device process's checked view of guest RAM.
//
// Every guest-physical address a device uses comes from the guest (a
// descriptor, a PRDT entry, a command-list base), so every access is checked
// over its whole [gpa, gpa+len) before a byte moves: the range must lie inside
// one RAM region, with no overflow. A bad address is an Error the device turns
// into a guest-visible failure (a stopped queue, an ATA error), never a crash.
//
// Guest RAM is the core's sealed memfd (core/guest_ram.h): low RAM at file
// offset 0, high RAM (guest-physical 4 GiB and up) right after it. The
// regions arrive in the attachment; tests build a GuestMemory over a buffer.
//
// Accesses copy (memcpy) rather than hand out references: the guest can change
// its memory at any moment, so a device must read a value once into its own
// memory and validate that copy (no double fetch).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "ipc/result.h"
#include "ipc/shared_memory.h"

namespace bulkhead {

struct RamRegion {
  uint64_t gpa = 0;     // guest-physical start
  uint64_t size = 0;    // bytes
  uint64_t offset = 0;  // offset in the RAM memfd
};

class GuestMemory {
 public:
  GuestMemory() = default;
  GuestMemory(GuestMemory&&) noexcept = default;
  GuestMemory& operator=(GuestMemory&&) noexcept = default;

  // Maps every region of `ram` (read-write, shared). Fails if a region is
  // empty, overflows, overlaps another or lies beyond the end of the file.
  [[nodiscard]] static Result<GuestMemory> Map(int ram_fd, std::vector<RamRegion> regions);
  // Over memory the caller owns (tests, fuzzers): `bytes` is guest-physical
  // [gpa, gpa + bytes.size()). The caller keeps `bytes` alive.
  [[nodiscard]] static GuestMemory ForBuffer(std::span<uint8_t> bytes, uint64_t gpa = 0);

  // True when all of [gpa, gpa+len) is RAM (len 0 is never valid).
  [[nodiscard]] bool Contains(uint64_t gpa, uint64_t len) const { return Find(gpa, len) != nullptr; }

  [[nodiscard]] Status Read(uint64_t gpa, std::span<uint8_t> out) const;
  [[nodiscard]] Status Write(uint64_t gpa, std::span<const uint8_t> in) const;

  // A fixed-layout value, copied out / in.
  template <class T>
  [[nodiscard]] Result<T> ReadObj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    if (auto s = Read(gpa, {reinterpret_cast<uint8_t*>(&value), sizeof(T)}); !s) {
      return tl::unexpected(s.error());
    }
    return value;
  }
  template <class T>
  [[nodiscard]] Status WriteObj(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return Write(gpa, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

  // Naturally aligned 16-bit loads/stores with acquire/release ordering, for
  // the fields a driver and a device race on (virtqueue idx, used_event).
  // Misaligned addresses are an error.
  [[nodiscard]] Result<uint16_t> LoadAcquire16(uint64_t gpa) const;
  [[nodiscard]] Status StoreRelease16(uint64_t gpa, uint16_t value) const;

  // Host pointer to [gpa, gpa+len) for bulk I/O (readv/writev into guest
  // buffers), or an error. The pointer is valid while this object lives; the
  // guest may change the bytes concurrently, so it is only for data the
  // device passes through, never for values it interprets.
  [[nodiscard]] Result<uint8_t*> HostAddress(uint64_t gpa, uint64_t len) const;

 private:
  struct Region {
    uint64_t gpa;
    uint64_t size;
    uint8_t* host;
  };
  [[nodiscard]] const Region* Find(uint64_t gpa, uint64_t len) const;

  std::vector<Mapping> mappings_;
  std::vector<Region> regions_;
};

}  // namespace bulkhead
