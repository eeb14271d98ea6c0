// Fuzz target: a hostile guest driving virtio-net. The input is a script of
// operations on a device that starts fully negotiated, with its three queues
// in a small guest RAM: register writes and reads anywhere in BAR 0, raw
// bytes written anywhere in guest RAM (descriptor tables, avail rings, the
// buffers they point to), doorbells, and frames arriving from the backend.
// The device must never crash, hang or touch memory outside guest RAM (the
// RAM buffer is exactly the region GuestMemory knows, so ASan sees any
// escape); malformed queues only stop themselves.
//
// Built as a libFuzzer binary with clang, and always as a replayer that runs
// seeded random scripts as a unit test (devproc/serial/fuzz_replay_main.cc).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "devproc/net/virtio_net.h"
#include "devproc/virtio/virtio_spec.h"

namespace {

using namespace bulkhead;
using namespace bulkhead::net;

constexpr uint64_t kRamGpa = 0x10000;
constexpr uint64_t kRamSize = 0x8000;
constexpr uint8_t kMac[6] = {0x52, 0x54, 0, 1, 2, 3};

class FuzzBackend final : public NetBackend {
 public:
  Result<std::optional<size_t>> Send(std::span<const iovec> frame) override {
    size_t n = 0;
    // Touch every byte, as writev would: an iovec outside RAM crashes here.
    for (const iovec& v : frame) {
      for (size_t i = 0; i < v.iov_len; ++i) sum_ += static_cast<const uint8_t*>(v.iov_base)[i];
      n += v.iov_len;
    }
    if (full) return std::optional<size_t>();
    return std::optional<size_t>(n);
  }
  Result<std::optional<size_t>> Receive(std::span<uint8_t> buf) override {
    if (incoming.empty()) return std::optional<size_t>();
    const std::string f = incoming.front();
    incoming.pop_front();
    const size_t n = std::min(f.size(), buf.size());
    std::memcpy(buf.data(), f.data(), n);
    return std::optional<size_t>(n);
  }
  Status SetOffload(unsigned) override { return {}; }
  Status SetVnetHeaderSize(int) override { return {}; }

  std::deque<std::string> incoming;
  bool full = false;
  uint8_t sum_ = 0;
};

class NullIrq final : public virtio::InterruptSink {
 public:
  void SignalVector(uint16_t) override {}
  void SignalIntx() override {}
};

struct Reader {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint64_t Take(size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && n > 0; ++i, ++p, --n) v |= uint64_t{*p} << (8 * i);
    return v;
  }
};

// What the scripts reached, summed over a run: printed at exit when
// BULKHEAD_FUZZ_STATS is set, to see that the harness gets past the walker.
struct Reached {
  uint64_t tx = 0, rx = 0, ctrl = 0, broken = 0;
  ~Reached() {
    if (std::getenv("BULKHEAD_FUZZ_STATS")) {
      std::fprintf(stderr, "reached: %lu frames sent, %lu received, %lu control commands, "
                   "%lu queues broken\n", static_cast<unsigned long>(tx),
                   static_cast<unsigned long>(rx), static_cast<unsigned long>(ctrl),
                   static_cast<unsigned long>(broken));
    }
  }
} reached;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A hostile guest is expected here: its warnings are noise.
  spdlog::set_level(spdlog::level::off);
  std::vector<uint8_t> ram(kRamSize);
  const GuestMemory mem = GuestMemory::ForBuffer(ram, kRamGpa);
  auto region = std::make_unique<NetStateRegion>();
  FuzzBackend backend;
  NullIrq irq;
  VirtioNet net(*region, mem, backend, irq, kMac);
  net.InitRegion();
  virtio::PciTransport& t = net.transport();

  // A negotiated device with queues of 16 at fixed places, so the script's
  // bytes go to the rings rather than to finding them.
  t.Write(0x14, 1, 3);
  t.Write(0x08, 4, 0);
  t.Write(0x0c, 4, NetDeviceFeatures() & 0xffffffff);
  t.Write(0x08, 4, 1);
  t.Write(0x0c, 4, NetDeviceFeatures() >> 32);
  t.Write(0x14, 1, 0xb);
  for (uint16_t q = 0; q < 3; ++q) {
    const uint64_t base = kRamGpa + 0x800 * q;
    t.Write(0x16, 2, q);
    t.Write(0x18, 2, 16);
    t.Write(0x20, 8, base);
    t.Write(0x28, 8, base + 0x100);
    t.Write(0x30, 8, base + 0x200);
    t.Write(0x1c, 2, 1);
  }
  t.Write(0x14, 1, 0xf);
  // Descriptor tables start out as a driver fills them (TX: one 128-byte
  // readable buffer each, RX: one 1 KiB writable one, control: readable
  // command + writable ack pairs), so scripts mostly corrupt working queues
  // instead of never getting one going.
  auto put_desc = [&](uint64_t q, uint64_t i, virtio::Descriptor d) {
    std::memcpy(ram.data() + 0x800 * q + 16 * i, &d, sizeof d);
  };
  for (uint16_t i = 0; i < 16; ++i) {
    put_desc(kTxQueue, i, {kRamGpa + 0x1800 + 128u * i, 128, 0, 0});
    put_desc(kRxQueue, i, {kRamGpa + 0x2000 + 1024u * i, 1024, virtio::kDescWrite, 0});
    const bool ack = i % 2 == 1;
    put_desc(kCtrlQueue, i,
             {kRamGpa + 0x6000 + 16u * i, ack ? 1u : 8u,
              static_cast<uint16_t>(ack ? virtio::kDescWrite : virtio::kDescNext),
              static_cast<uint16_t>(i + 1)});
  }

  Reader in{data, size};
  for (int ops = 0; !in.empty() && ops < 512; ++ops) {
    switch (in.Take(1) % 10) {
      case 8:
      case 9: {  // bias towards making chains available
        const uint64_t q = in.Take(1) % 3;
        uint8_t* avail = ram.data() + 0x800 * q + 0x100;
        uint16_t idx;
        std::memcpy(&idx, avail + 2, 2);
        const auto head = static_cast<uint16_t>(q == kCtrlQueue ? 2 * (idx % 8) : idx % 16);
        std::memcpy(avail + 4 + 2 * (idx % 16), &head, 2);
        idx = static_cast<uint16_t>(idx + 1);
        std::memcpy(avail + 2, &idx, 2);
        net.Kick(static_cast<uint16_t>(q));
        break;
      }
      case 0: {  // register write
        const uint64_t off = in.Take(2) & 0x3fff;
        const auto sz = static_cast<uint8_t>(1u << (in.Take(1) % 4));
        t.Write(off, sz, in.Take(8));
        break;
      }
      case 1: {  // register read
        const uint64_t off = in.Take(2) & 0x3fff;
        (void)t.Read(off, static_cast<uint8_t>(1u << (in.Take(1) % 4)));
        break;
      }
      case 2: {  // guest writes RAM (rings, tables, buffers)
        const uint64_t off = in.Take(2) % kRamSize;
        const size_t len = in.Take(1) % 32;
        for (size_t i = 0; i < len && off + i < kRamSize; ++i) {
          ram[off + i] = static_cast<uint8_t>(in.Take(1));
        }
        break;
      }
      case 3: net.Kick(static_cast<uint16_t>(in.Take(1) % 4)); break;
      case 4: {  // a frame from the network
        const size_t len = in.Take(2) % 2048;
        std::string f(len, '\0');
        for (char& c : f) c = static_cast<char>(in.Take(1));
        backend.incoming.push_back(f);
        net.BackendReadable();
        break;
      }
      case 5:
        backend.full = !backend.full;
        if (!backend.full) net.BackendWritable();
        break;
      case 6: {  // a plausible descriptor: address in the buffer area, small length
        const uint64_t q = in.Take(1) % 3;
        const uint64_t i = in.Take(1) % 16;
        virtio::Descriptor d{kRamGpa + 0x1800 + in.Take(2) % 0x6800,
                             static_cast<uint32_t>(in.Take(2) % 0x900),
                             static_cast<uint16_t>(in.Take(1) % 8),
                             static_cast<uint16_t>(in.Take(1) % 17)};
        std::memcpy(ram.data() + 0x800 * q + 16 * i, &d, sizeof d);
        break;
      }
      case 7: {  // make head available and kick, as a driver does
        const uint64_t q = in.Take(1) % 3;
        uint8_t* avail = ram.data() + 0x800 * q + 0x100;
        uint16_t idx;
        std::memcpy(&idx, avail + 2, 2);
        const auto head = static_cast<uint16_t>(in.Take(1) % 17);
        std::memcpy(avail + 4 + 2 * (idx % 16), &head, 2);
        idx = static_cast<uint16_t>(idx + 1);
        std::memcpy(avail + 2, &idx, 2);
        net.Kick(static_cast<uint16_t>(q));
        break;
      }
    }
    if (net.has_more_work()) net.TxMore();
  }
  const NetCounters& k = net.counters();
  reached.tx += k.tx_packets;
  reached.rx += k.rx_packets;
  reached.ctrl += k.ctrl_ok + k.ctrl_err;
  for (const auto& q : region->transport.queues) reached.broken += q.broken_events;
  return 0;
}
