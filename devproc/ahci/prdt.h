// The physical region descriptor table of one command (AHCI §4.2.3.3): the
// guest buffers a command's data moves to or from.
//
// Load() reads the whole table with one checked copy (the guest cannot change
// an entry between our check and our use: we only ever look at the copy) and
// resolves every entry to a host pointer with GuestMemory::HostAddress, so an
// entry that leaves guest RAM fails the command up front, before any byte of
// data moves. Byte counts are taken as the hardware would (DBC + 1, up to
// 4 MiB), odd ones included: the spec asks drivers for even counts, a device
// model only has to stay in bounds.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "devproc/common/guest_memory.h"
#include "ipc/result.h"

namespace bulkhead::ahci {

inline constexpr uint64_t kPrdtOffset = 0x80;  // in the command table
inline constexpr uint32_t kPrdEntryBytes = 16;

struct PrdEntry {
  uint64_t gpa = 0;
  uint32_t bytes = 0;
  bool interrupt = false;  // I bit: PxIS.DPS when this entry is done
  uint8_t* host = nullptr;
};

class Prdt {
 public:
  Prdt() = default;
  [[nodiscard]] static Result<Prdt> Load(const GuestMemory& mem, uint64_t ctba, uint32_t prdtl);

  [[nodiscard]] uint64_t total() const noexcept { return total_; }
  [[nodiscard]] const std::vector<PrdEntry>& entries() const noexcept { return entries_; }

  // Host iovecs for the first `len` bytes of the table (len <= total()),
  // merging entries that are contiguous in host memory.
  [[nodiscard]] std::vector<iovec> Iovecs(uint64_t len) const;

  // Copies data into the guest buffers (device to host); returns the bytes
  // copied, min(total(), data.size()).
  uint64_t CopyToGuest(std::span<const uint8_t> data) const;
  // Copies from the guest buffers (host to device) into `out`.
  uint64_t CopyFromGuest(std::span<uint8_t> out) const;

  // True if an entry with the I bit lies within the first `len` bytes.
  [[nodiscard]] bool InterruptWithin(uint64_t len) const;

 private:
  std::vector<PrdEntry> entries_;
  uint64_t total_ = 0;
};

}  // namespace bulkhead::ahci
