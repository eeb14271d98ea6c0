#include "core/pci/config_space.h"

#include <cstring>

namespace bulkhead {
namespace {

void Put16(std::array<uint8_t, PciConfigSpace::kSize>& a, size_t off, uint16_t v) {
  a[off] = static_cast<uint8_t>(v);
  a[off + 1] = static_cast<uint8_t>(v >> 8);
}
void Put32(std::array<uint8_t, PciConfigSpace::kSize>& a, size_t off, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) a[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

constexpr uint32_t kBar0 = 0x10;
// Command register bits a guest may set: I/O, memory, bus master, parity,
// SERR, INTx disable.
constexpr uint16_t kCommandWritable = 0x1 | 0x2 | 0x4 | 0x40 | 0x100 | 0x400;

}  // namespace

PciConfigSpace::PciConfigSpace(const PciIds& ids, std::span<const PciBar> bars) {
  Put16(data_, 0x00, ids.vendor);
  Put16(data_, 0x02, ids.device);
  Put16(wmask_, 0x04, kCommandWritable);
  data_[0x08] = ids.revision;
  data_[0x09] = static_cast<uint8_t>(ids.class_code);
  data_[0x0A] = static_cast<uint8_t>(ids.class_code >> 8);
  data_[0x0B] = static_cast<uint8_t>(ids.class_code >> 16);
  wmask_[0x0C] = 0xFF;  // cache line size
  wmask_[0x0D] = 0xFF;  // latency timer
  Put16(data_, 0x2C, ids.subsystem_vendor);
  Put16(data_, 0x2E, ids.subsystem);
  wmask_[0x3C] = 0xFF;  // interrupt line: scratch for the OS
  data_[0x3D] = ids.interrupt_pin;

  for (size_t i = 0; i < bars.size() && i < kNumBars; ++i) {
    const PciBar& b = bars[i];
    if (b.size == 0) continue;
    bars_[i] = b;
    const size_t off = kBar0 + 4 * i;
    if (b.io) {
      Put32(data_, off, 0x1);
      Put32(wmask_, off, ~static_cast<uint32_t>(b.size - 1) & ~0x3u);
      continue;
    }
    const uint32_t flags = (b.is64 ? 0x4u : 0u) | (b.prefetchable ? 0x8u : 0u);
    Put32(data_, off, flags);
    Put32(wmask_, off, ~static_cast<uint32_t>(b.size - 1) & ~0xFu);
    if (b.is64 && i + 1 < kNumBars) {
      // The upper half: every bit writable above the size.
      Put32(wmask_, off + 4, static_cast<uint32_t>(~(b.size - 1) >> 32));
      ++i;
    }
  }
}

uint32_t PciConfigSpace::Read(uint32_t offset, uint32_t size) const {
  if ((size != 1 && size != 2 && size != 4) || offset % size != 0 || offset + size > kSize) {
    return 0xFFFF'FFFF;
  }
  uint32_t v = 0;
  for (uint32_t i = 0; i < size; ++i) v |= static_cast<uint32_t>(data_[offset + i]) << (8 * i);
  return v;
}

ConfigWriteResult PciConfigSpace::Write(uint32_t offset, uint32_t size, uint32_t value) {
  ConfigWriteResult result;
  if ((size != 1 && size != 2 && size != 4) || offset % size != 0 || offset + size > kSize) {
    return result;
  }
  for (uint32_t i = 0; i < size; ++i) {
    const uint32_t o = offset + i;
    const uint8_t old = data_[o];
    const uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    data_[o] = static_cast<uint8_t>((old & ~wmask_[o]) | (b & wmask_[o]));
    if (data_[o] == old) continue;
    if (o >= 0x04 && o < 0x06) result.command_changed = true;
    if (o >= kBar0 && o < kBar0 + 4 * kNumBars) {
      int bar = static_cast<int>((o - kBar0) / 4);
      if (bar > 0 && bars_[static_cast<size_t>(bar)].size == 0 && bars_[static_cast<size_t>(bar - 1)].is64) --bar;
      result.bar_changed = bar;
    }
  }
  return result;
}

uint64_t PciConfigSpace::BarAddress(int bar) const {
  if (bar < 0 || bar >= kNumBars || bars_[static_cast<size_t>(bar)].size == 0) return 0;
  const uint32_t off = kBar0 + 4 * static_cast<uint32_t>(bar);
  const PciBar& b = bars_[static_cast<size_t>(bar)];
  const uint32_t lo = Read(off, 4);
  if (b.io) return lo & ~0x3u;
  uint64_t addr = lo & ~0xFu;
  if (b.is64 && bar + 1 < kNumBars) addr |= static_cast<uint64_t>(Read(off + 4, 4)) << 32;
  return addr;
}

void PciConfigSpace::Set(uint32_t offset, std::span<const uint8_t> bytes,
                         std::span<const uint8_t> write_mask) {
  for (size_t i = 0; i < bytes.size() && offset + i < kSize; ++i) {
    data_[offset + i] = bytes[i];
    wmask_[offset + i] = i < write_mask.size() ? write_mask[i] : 0;
  }
}

}  // namespace bulkhead
