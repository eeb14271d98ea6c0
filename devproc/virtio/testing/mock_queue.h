// The driver side of virtqueues, for tests of every virtio device: a guest
// RAM buffer with a bump allocator (TestGuest), and MockQueue, which lays out
// a split virtqueue in it and builds descriptor tables and avail rings the
// way a driver does, or any malformed way a test wants.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "devproc/common/guest_memory.h"
#include "devproc/virtio/virtio_spec.h"
#include "devproc/virtio/virtqueue_state.h"

namespace bulkhead::virtio::testing {

// Guest RAM [gpa, gpa + size) in a heap buffer.
class TestGuest {
 public:
  explicit TestGuest(uint64_t size = 1 << 20, uint64_t gpa = 0x100000);
  // Over memory the caller owns (e.g. a mapped guest-RAM memfd shared with a
  // device process); `first_free` is where Alloc starts.
  TestGuest(std::span<uint8_t> external, uint64_t gpa, uint64_t first_free);
  TestGuest(const TestGuest&) = delete;
  TestGuest& operator=(const TestGuest&) = delete;

  [[nodiscard]] const GuestMemory& memory() const { return mem_; }
  [[nodiscard]] uint64_t base() const { return gpa_; }
  [[nodiscard]] uint64_t end() const { return gpa_ + bytes_.size(); }

  // `size` bytes aligned to `align`, zeroed. Aborts the test when RAM runs out.
  uint64_t Alloc(uint64_t size, uint64_t align = 16);
  void Write(uint64_t gpa, std::span<const uint8_t> data);
  void WriteString(uint64_t gpa, const std::string& s);
  [[nodiscard]] std::vector<uint8_t> Read(uint64_t gpa, uint64_t len) const;
  template <class T>
  void Put(uint64_t gpa, const T& v) {
    Write(gpa, {reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }
  template <class T>
  [[nodiscard]] T Get(uint64_t gpa) const {
    T v{};
    auto b = Read(gpa, sizeof v);
    std::memcpy(&v, b.data(), sizeof v);
    return v;
  }

 private:
  std::vector<uint8_t> owned_;
  std::span<uint8_t> bytes_;
  uint64_t gpa_;
  uint64_t next_;
  GuestMemory mem_;
};

struct Buffer {
  uint64_t addr;
  uint32_t len;
  bool writable;
};

class MockQueue {
 public:
  MockQueue(TestGuest& guest, uint16_t size);

  [[nodiscard]] const RingLayout& layout() const { return ring_; }
  // Programs `q` as a driver would through the common cfg registers.
  void Configure(VirtqueueState& q) const;

  // Writes the buffers as a chain of fresh descriptors and makes it available
  // (unless publish is false). Returns the head.
  uint16_t AddChain(const std::vector<Buffer>& bufs, bool publish = true);
  // The buffers as an indirect table in RAM, referenced by one descriptor.
  uint16_t AddIndirectChain(const std::vector<Buffer>& bufs, bool publish = true);
  // Convenience: a readable buffer holding `data` / a zeroed writable one.
  Buffer Readable(const std::string& data);
  Buffer Writable(uint32_t len);

  // Raw access for malformed-chain tests.
  void SetDescriptor(uint16_t i, const Descriptor& d);
  uint16_t AllocDescriptor();
  void PushAvail(uint16_t head);  // ring slot + idx bump
  void SetAvailIdx(uint16_t idx);
  [[nodiscard]] uint16_t avail_idx() const;

  [[nodiscard]] uint16_t used_idx() const;
  [[nodiscard]] UsedElem used(uint16_t i) const;  // entry i (mod size)
  [[nodiscard]] uint16_t used_flags() const;
  [[nodiscard]] uint16_t avail_event() const;
  void set_used_event(uint16_t v);
  void set_avail_flags(uint16_t v);

  [[nodiscard]] TestGuest& guest() { return guest_; }

 private:
  TestGuest& guest_;
  RingLayout ring_{};
  uint16_t next_desc_ = 0;
};

}  // namespace bulkhead::virtio::testing
