#include "devproc/common/guest_memory.h"

#include <sys/stat.h>

#include <algorithm>

namespace bulkhead {

Result<GuestMemory> GuestMemory::Map(int ram_fd, std::vector<RamRegion> regions) {
  struct stat st {};
  if (::fstat(ram_fd, &st) < 0) return ErrnoError("guest RAM fd");
  const auto file_size = static_cast<uint64_t>(st.st_size);
  std::sort(regions.begin(), regions.end(),
            [](const RamRegion& a, const RamRegion& b) { return a.gpa < b.gpa; });
  GuestMemory mem;
  uint64_t previous_end = 0;
  for (const RamRegion& r : regions) {
    if (r.size == 0 || r.gpa + r.size < r.gpa || r.offset + r.size < r.offset) {
      return MakeError("guest RAM region {:#x}+{:#x} is empty or overflows", r.gpa, r.size);
    }
    if (r.offset + r.size > file_size) {
      return MakeError("guest RAM region {:#x}+{:#x} lies beyond the RAM file", r.gpa, r.size);
    }
    if (!mem.regions_.empty() && r.gpa < previous_end) {
      return MakeError("guest RAM regions overlap at {:#x}", r.gpa);
    }
    auto map = Mapping::Map(ram_fd, r.size, r.offset);
    if (!map) return tl::unexpected(map.error());
    mem.regions_.push_back({r.gpa, r.size, reinterpret_cast<uint8_t*>(map->data())});
    mem.mappings_.push_back(std::move(*map));
    previous_end = r.gpa + r.size;
  }
  return mem;
}

GuestMemory GuestMemory::ForBuffer(std::span<uint8_t> bytes, uint64_t gpa) {
  GuestMemory mem;
  if (!bytes.empty()) mem.regions_.push_back({gpa, bytes.size(), bytes.data()});
  return mem;
}

const GuestMemory::Region* GuestMemory::Find(uint64_t gpa, uint64_t len) const {
  if (len == 0) return nullptr;
  for (const Region& r : regions_) {
    // Written so that no sum can overflow: gpa >= r.gpa, then compare the
    // distance from the region start with the room left.
    if (gpa < r.gpa) continue;
    const uint64_t into = gpa - r.gpa;
    if (into >= r.size || len > r.size - into) continue;
    return &r;
  }
  return nullptr;
}

Result<uint8_t*> GuestMemory::HostAddress(uint64_t gpa, uint64_t len) const {
  const Region* r = Find(gpa, len);
  if (!r) return MakeError("guest address {:#x}+{:#x} is not RAM", gpa, len);
  // SAFETY: Find checked that [gpa, gpa+len) lies inside r's mapping.
  return r->host + (gpa - r->gpa);
}

Status GuestMemory::Read(uint64_t gpa, std::span<uint8_t> out) const {
  auto p = HostAddress(gpa, out.size());
  if (!p) return tl::unexpected(p.error());
  std::memcpy(out.data(), *p, out.size());
  return {};
}

Status GuestMemory::Write(uint64_t gpa, std::span<const uint8_t> in) const {
  auto p = HostAddress(gpa, in.size());
  if (!p) return tl::unexpected(p.error());
  std::memcpy(*p, in.data(), in.size());
  return {};
}

Result<uint16_t> GuestMemory::LoadAcquire16(uint64_t gpa) const {
  if (gpa % 2 != 0) return MakeError("misaligned 16-bit guest access at {:#x}", gpa);
  auto p = HostAddress(gpa, 2);
  if (!p) return tl::unexpected(p.error());
  // SAFETY: 2 bytes in RAM, 2-aligned (regions are page aligned).
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(*p)).load(std::memory_order_acquire);
}

Status GuestMemory::StoreRelease16(uint64_t gpa, uint16_t value) const {
  if (gpa % 2 != 0) return MakeError("misaligned 16-bit guest access at {:#x}", gpa);
  auto p = HostAddress(gpa, 2);
  if (!p) return tl::unexpected(p.error());
  // SAFETY: as above.
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(*p)).store(value, std::memory_order_release);
  return {};
}

}  // namespace bulkhead
