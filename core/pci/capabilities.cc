#include "core/pci/capabilities.h"

namespace bulkhead {
namespace {
constexpr uint32_t kStatus = 0x06;
constexpr uint8_t kStatusCapList = 0x10;
constexpr uint32_t kCapPointer = 0x34;
constexpr uint8_t kCapIdMsi = 0x05;
constexpr uint8_t kCapIdMsix = 0x11;

void Le16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void Le32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
}  // namespace

Result<uint8_t> CapabilityList::Add(std::vector<uint8_t> bytes, std::vector<uint8_t> write_mask) {
  // Capabilities are dword aligned and must fit below 256.
  const size_t len = (bytes.size() + 3) & ~size_t{3};
  if (bytes.size() < 2 || next_ + len > PciConfigSpace::kSize) {
    return MakeError("PCI capability of {} bytes does not fit", bytes.size());
  }
  const uint8_t at = next_;
  bytes[1] = 0;  // end of list until another one follows
  write_mask.resize(bytes.size(), 0);
  config_.Set(at, bytes, write_mask);
  const uint8_t link[] = {at};
  const uint8_t no_write[] = {0};
  config_.Set(last_ == 0 ? kCapPointer : last_ + 1u, link, no_write);
  const uint8_t status[] = {static_cast<uint8_t>(config_.Read(kStatus, 1) | kStatusCapList)};
  config_.Set(kStatus, status, no_write);
  last_ = at;
  next_ = static_cast<uint8_t>(at + len);
  return at;
}

Result<uint8_t> CapabilityList::AddMsix(uint16_t vectors, int bar, uint32_t table_offset,
                                        uint32_t pba_offset) {
  if (vectors == 0 || vectors > 2048 || bar < 0 || bar > 5 || table_offset % 8 || pba_offset % 8) {
    return MakeError("bad MSI-X capability ({} vectors, BAR {})", vectors, bar);
  }
  std::vector<uint8_t> cap(12, 0), mask(12, 0);
  cap[0] = kCapIdMsix;
  Le16(cap, kMsixControl, static_cast<uint16_t>(vectors - 1));
  Le16(mask, kMsixControl, kMsixEnable | kMsixFunctionMask);
  Le32(cap, 4, table_offset | static_cast<uint32_t>(bar));
  Le32(cap, 8, pba_offset | static_cast<uint32_t>(bar));
  return Add(std::move(cap), std::move(mask));
}

Result<uint8_t> CapabilityList::AddMsi() {
  std::vector<uint8_t> cap(kMsiCapabilitySize, 0), mask(kMsiCapabilitySize, 0);
  cap[0] = kCapIdMsi;
  Le16(cap, kMsiControl, 1u << 7);            // 64-bit capable, 1 vector
  Le16(mask, kMsiControl, 0x1 | (0x7 << 4));  // enable, multiple message enable
  Le32(mask, kMsiAddressLo, 0xFFFF'FFFC);
  Le32(mask, kMsiAddressHi, 0xFFFF'FFFF);
  Le16(mask, kMsiData, 0xFFFF);
  return Add(std::move(cap), std::move(mask));
}

}  // namespace bulkhead
