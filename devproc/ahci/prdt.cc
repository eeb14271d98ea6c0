#include "devproc/ahci/prdt.h"

#include <algorithm>
#include <cstring>

namespace bulkhead::ahci {

Result<Prdt> Prdt::Load(const GuestMemory& mem, uint64_t ctba, uint32_t prdtl) {
  Prdt t;
  if (prdtl == 0) return t;
  if (prdtl > 0xFFFF) return MakeError("PRDTL {} exceeds 65535", prdtl);
  std::vector<uint8_t> raw(size_t{prdtl} * kPrdEntryBytes);
  if (auto s = mem.Read(ctba + kPrdtOffset, raw); !s) {
    return MakeError("PRDT of {} entries at {:#x}: {}", prdtl, ctba + kPrdtOffset,
                     s.error().message);
  }
  t.entries_.reserve(prdtl);
  for (uint32_t i = 0; i < prdtl; ++i) {
    const uint8_t* e = raw.data() + size_t{i} * kPrdEntryBytes;
    uint32_t dba, dbau, dw3;
    std::memcpy(&dba, e, 4);
    std::memcpy(&dbau, e + 4, 4);
    std::memcpy(&dw3, e + 12, 4);
    PrdEntry p;
    p.gpa = (uint64_t{dbau} << 32) | dba;
    p.bytes = (dw3 & 0x3FFFFF) + 1;
    p.interrupt = (dw3 & 0x80000000u) != 0;
    auto host = mem.HostAddress(p.gpa, p.bytes);
    if (!host) return MakeError("PRD {}: {}", i, host.error().message);
    // SAFETY: HostAddress checked all of [gpa, gpa+bytes) is mapped guest RAM;
    // the pointer lives as long as the GuestMemory the command runs against.
    p.host = *host;
    t.total_ += p.bytes;
    t.entries_.push_back(p);
  }
  return t;
}

std::vector<iovec> Prdt::Iovecs(uint64_t len) const {
  std::vector<iovec> v;
  for (const PrdEntry& e : entries_) {
    if (len == 0) break;
    const uint64_t n = std::min<uint64_t>(len, e.bytes);
    len -= n;
    if (!v.empty() && static_cast<uint8_t*>(v.back().iov_base) + v.back().iov_len == e.host) {
      v.back().iov_len += n;
    } else {
      v.push_back({e.host, n});
    }
  }
  return v;
}

uint64_t Prdt::CopyToGuest(std::span<const uint8_t> data) const {
  uint64_t done = 0;
  for (const PrdEntry& e : entries_) {
    if (done == data.size()) break;
    const uint64_t n = std::min<uint64_t>(e.bytes, data.size() - done);
    std::memcpy(e.host, data.data() + done, n);
    done += n;
  }
  return done;
}

uint64_t Prdt::CopyFromGuest(std::span<uint8_t> out) const {
  uint64_t done = 0;
  for (const PrdEntry& e : entries_) {
    if (done == out.size()) break;
    const uint64_t n = std::min<uint64_t>(e.bytes, out.size() - done);
    std::memcpy(out.data() + done, e.host, n);
    done += n;
  }
  return done;
}

bool Prdt::InterruptWithin(uint64_t len) const {
  uint64_t start = 0;
  for (const PrdEntry& e : entries_) {
    if (start >= len) break;
    if (e.interrupt) return true;
    start += e.bytes;
  }
  return false;
}

}  // namespace bulkhead::ahci
