#include "devproc/virtio/descriptor_chain.h"

#include <algorithm>

namespace bulkhead::virtio {
namespace {

// Adds one data descriptor to the chain, enforcing the per-segment rules.
Status AddSegment(const GuestMemory& mem, const Descriptor& d, const WalkLimits& limits,
                  DescriptorChain& out) {
  if (d.len == 0) return MakeError("zero-length descriptor");
  if (!mem.Contains(d.addr, d.len)) {
    return MakeError("descriptor {:#x}+{:#x} is not guest RAM", d.addr, d.len);
  }
  const bool writable = (d.flags & kDescWrite) != 0;
  if (!writable && out.writable_bytes != 0) {
    return MakeError("device-readable descriptor after a device-writable one");
  }
  const uint64_t total = out.readable_bytes + out.writable_bytes + d.len;
  if (total > limits.max_total_bytes) {
    return MakeError("chain longer than {} bytes", limits.max_total_bytes);
  }
  (writable ? out.writable_bytes : out.readable_bytes) += d.len;
  out.segments.push_back({d.addr, d.len, writable});
  return {};
}

// The descriptors of one indirect table: at most `size` of them, each read
// once, `next` confined to the table, no nesting.
Status WalkIndirect(const GuestMemory& mem, const Descriptor& table, uint16_t queue_size,
                    const WalkLimits& limits, DescriptorChain& out) {
  if (!limits.indirect_allowed) return MakeError("indirect descriptor not negotiated");
  if (table.flags & kDescNext) return MakeError("indirect descriptor with F_NEXT");
  if (table.len == 0 || table.len % sizeof(Descriptor) != 0) {
    return MakeError("indirect table length {} is not a non-zero multiple of 16", table.len);
  }
  const uint64_t entries = table.len / sizeof(Descriptor);
  if (entries > queue_size) {
    return MakeError("indirect table of {} entries exceeds the queue size {}", entries, queue_size);
  }
  if (!mem.Contains(table.addr, table.len)) {
    return MakeError("indirect table {:#x}+{:#x} is not guest RAM", table.addr, table.len);
  }
  uint64_t i = 0;
  for (uint64_t visited = 0;; ++visited) {
    if (visited >= entries) return MakeError("indirect table loops");
    auto d = mem.ReadObj<Descriptor>(table.addr + i * sizeof(Descriptor));
    if (!d) return tl::unexpected(d.error());
    if (d->flags & kDescIndirect) return MakeError("nested indirect descriptor");
    if (auto s = AddSegment(mem, *d, limits, out); !s) return s;
    if (!(d->flags & kDescNext)) return {};
    if (d->next >= entries) return MakeError("indirect next {} leaves a {}-entry table", d->next, entries);
    i = d->next;
  }
}

}  // namespace

Status WalkChain(const GuestMemory& mem, const RingLayout& ring, uint16_t head,
                 const WalkLimits& limits, DescriptorChain& out) {
  out.head = head;
  out.segments.clear();
  out.readable_bytes = 0;
  out.writable_bytes = 0;
  if (head >= ring.size) return MakeError("head {} outside a queue of {}", head, ring.size);
  uint16_t i = head;
  for (uint32_t visited = 0;; ++visited) {
    if (visited >= ring.size) return MakeError("descriptor chain loops or exceeds the queue size");
    auto d = mem.ReadObj<Descriptor>(ring.DescAt(i));
    if (!d) return tl::unexpected(d.error());
    if (d->flags & kDescIndirect) {
      // An indirect descriptor must be the only one of its chain: F_NEXT is
      // refused above, and a direct descriptor before it would make it last.
      if (!out.segments.empty()) return MakeError("indirect descriptor after direct ones");
      return WalkIndirect(mem, *d, ring.size, limits, out);
    }
    if (auto s = AddSegment(mem, *d, limits, out); !s) return s;
    if (!(d->flags & kDescNext)) return {};
    if (d->next >= ring.size) return MakeError("next {} outside a queue of {}", d->next, ring.size);
    i = d->next;
  }
}

Status ReadChain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                 std::span<uint8_t> out) {
  size_t done = 0;
  for (const ChainSegment& s : chain.segments) {
    if (done == out.size() || s.writable) break;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(s.len - offset, out.size() - done);
    if (auto st = mem.Read(s.addr + offset, out.subspan(done, n)); !st) return st;
    done += n;
    offset = 0;
  }
  if (done != out.size()) return MakeError("chain has fewer readable bytes than needed");
  return {};
}

Status WriteChain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                  std::span<const uint8_t> in) {
  size_t done = 0;
  for (const ChainSegment& s : chain.segments) {
    if (done == in.size()) break;
    if (!s.writable) continue;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(s.len - offset, in.size() - done);
    if (auto st = mem.Write(s.addr + offset, in.subspan(done, n)); !st) return st;
    done += n;
    offset = 0;
  }
  if (done != in.size()) return MakeError("chain has fewer writable bytes than needed");
  return {};
}

Status ReadableIovecs(const GuestMemory& mem, const DescriptorChain& chain, uint64_t skip,
                      std::vector<iovec>& out) {
  for (const ChainSegment& s : chain.segments) {
    if (s.writable) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    auto p = mem.HostAddress(s.addr + skip, s.len - skip);
    if (!p) return tl::unexpected(p.error());
    // SAFETY: HostAddress checked [addr+skip, addr+len) is inside a live
    // mapping of guest RAM; the bytes are only passed through to the backend.
    out.push_back({*p, s.len - skip});
    skip = 0;
  }
  return {};
}

}  // namespace bulkhead::virtio
