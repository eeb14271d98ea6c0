#include "devproc/virtio/testing/mock_queue.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace bulkhead::virtio::testing {

TestGuest::TestGuest(uint64_t size, uint64_t gpa) : owned_(size), bytes_(owned_), gpa_(gpa), next_(gpa) {
  mem_ = GuestMemory::ForBuffer(bytes_, gpa);
}

TestGuest::TestGuest(std::span<uint8_t> external, uint64_t gpa, uint64_t first_free)
    : bytes_(external), gpa_(gpa), next_(first_free) {
  mem_ = GuestMemory::ForBuffer(bytes_, gpa);
}

uint64_t TestGuest::Alloc(uint64_t size, uint64_t align) {
  const uint64_t at = (next_ + align - 1) / align * align;
  if (at + size > end()) throw std::runtime_error("TestGuest: out of RAM");
  next_ = at + size;
  std::memset(bytes_.data() + (at - gpa_), 0, size);
  return at;
}

void TestGuest::Write(uint64_t gpa, std::span<const uint8_t> data) {
  if (gpa < gpa_ || gpa + data.size() > end()) throw std::runtime_error("TestGuest: bad write");
  std::memcpy(bytes_.data() + (gpa - gpa_), data.data(), data.size());
}

void TestGuest::WriteString(uint64_t gpa, const std::string& s) {
  Write(gpa, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

std::vector<uint8_t> TestGuest::Read(uint64_t gpa, uint64_t len) const {
  if (gpa < gpa_ || gpa + len > end()) throw std::runtime_error("TestGuest: bad read");
  const auto* p = bytes_.data() + (gpa - gpa_);
  return {p, p + len};
}

MockQueue::MockQueue(TestGuest& guest, uint16_t size) : guest_(guest) {
  ring_.size = size;
  ring_.desc = guest.Alloc(16 * uint64_t{size}, 16);
  ring_.avail = guest.Alloc(6 + 2 * uint64_t{size}, 2);
  ring_.used = guest.Alloc(6 + 8 * uint64_t{size}, 4);
}

void MockQueue::Configure(VirtqueueState& q) const {
  q.size = ring_.size;
  q.desc_addr = ring_.desc;
  q.driver_addr = ring_.avail;
  q.device_addr = ring_.used;
  q.enabled = 1;
}

uint16_t MockQueue::AllocDescriptor() {
  const uint16_t i = next_desc_;
  next_desc_ = static_cast<uint16_t>((next_desc_ + 1) % ring_.size);
  return i;
}

void MockQueue::SetDescriptor(uint16_t i, const Descriptor& d) { guest_.Put(ring_.DescAt(i), d); }

uint16_t MockQueue::AddChain(const std::vector<Buffer>& bufs, bool publish) {
  std::vector<uint16_t> ids;
  for (size_t i = 0; i < bufs.size(); ++i) ids.push_back(AllocDescriptor());
  for (size_t i = 0; i < bufs.size(); ++i) {
    const bool last = i + 1 == bufs.size();
    Descriptor d{bufs[i].addr, bufs[i].len,
                 static_cast<uint16_t>((bufs[i].writable ? kDescWrite : 0) | (last ? 0 : kDescNext)),
                 last ? uint16_t{0} : ids[i + 1]};
    SetDescriptor(ids[i], d);
  }
  if (publish) PushAvail(ids[0]);
  return ids[0];
}

uint16_t MockQueue::AddIndirectChain(const std::vector<Buffer>& bufs, bool publish) {
  const uint64_t table = guest_.Alloc(16 * bufs.size(), 16);
  for (size_t i = 0; i < bufs.size(); ++i) {
    const bool last = i + 1 == bufs.size();
    Descriptor d{bufs[i].addr, bufs[i].len,
                 static_cast<uint16_t>((bufs[i].writable ? kDescWrite : 0) | (last ? 0 : kDescNext)),
                 static_cast<uint16_t>(last ? 0 : i + 1)};
    guest_.Put(table + 16 * i, d);
  }
  const uint16_t head = AllocDescriptor();
  SetDescriptor(head, {table, static_cast<uint32_t>(16 * bufs.size()), kDescIndirect, 0});
  if (publish) PushAvail(head);
  return head;
}

Buffer MockQueue::Readable(const std::string& data) {
  const uint64_t at = guest_.Alloc(data.size(), 8);
  guest_.WriteString(at, data);
  return {at, static_cast<uint32_t>(data.size()), false};
}

Buffer MockQueue::Writable(uint32_t len) { return {guest_.Alloc(len, 8), len, true}; }

void MockQueue::PushAvail(uint16_t head) {
  const uint16_t idx = avail_idx();
  guest_.Put<uint16_t>(ring_.AvailRing(idx % ring_.size), head);
  SetAvailIdx(static_cast<uint16_t>(idx + 1));
}

void MockQueue::SetAvailIdx(uint16_t idx) { guest_.Put<uint16_t>(ring_.AvailIdx(), idx); }
uint16_t MockQueue::avail_idx() const { return guest_.Get<uint16_t>(ring_.AvailIdx()); }
uint16_t MockQueue::used_idx() const { return guest_.Get<uint16_t>(ring_.UsedIdx()); }
UsedElem MockQueue::used(uint16_t i) const {
  return guest_.Get<UsedElem>(ring_.UsedRing(i % ring_.size));
}
uint16_t MockQueue::used_flags() const { return guest_.Get<uint16_t>(ring_.UsedFlags()); }
uint16_t MockQueue::avail_event() const { return guest_.Get<uint16_t>(ring_.AvailEvent()); }
void MockQueue::set_used_event(uint16_t v) { guest_.Put(ring_.UsedEvent(), v); }
void MockQueue::set_avail_flags(uint16_t v) { guest_.Put(ring_.AvailFlags(), v); }

}  // namespace bulkhead::virtio::testing
