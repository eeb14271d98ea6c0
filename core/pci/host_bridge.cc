#include "core/pci/host_bridge.h"

#include <cstring>

namespace bulkhead {
namespace {
constexpr uint32_t kEnable = 1u << 31;
}  // namespace

PciHost::PciHost() {
  // Red Hat's generic PCIe host bridge IDs: no chipset quirks in the guest.
  PciIds ids{.vendor = 0x1B36, .device = 0x0008, .class_code = 0x060000};
  functions_[0] = std::make_shared<StaticPciFunction>(ids, std::span<const PciBar>{});
}

Status PciHost::AddFunction(uint8_t slot, std::shared_ptr<PciFunction> function) {
  std::lock_guard lock(mu_);
  if (slot >= 32) return MakeError("PCI slot {} does not exist (0-31)", slot);
  if (functions_.count(slot)) return MakeError("PCI slot {} is taken", slot);
  functions_[slot] = std::move(function);
  return {};
}

std::pair<PciFunction*, uint32_t> PciHost::Selected(uint32_t data_offset) const {
  if (!(address_ & kEnable)) return {};
  const uint32_t bus = (address_ >> 16) & 0xFF;
  const uint32_t slot = (address_ >> 11) & 0x1F;
  const uint32_t function = (address_ >> 8) & 0x7;
  if (bus != 0 || function != 0) return {};
  auto it = functions_.find(static_cast<uint8_t>(slot));
  if (it == functions_.end()) return {};
  return {it->second.get(), (address_ & 0xFC) + data_offset};
}

void PciHost::Read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  uint32_t v = 0xFFFF'FFFF;
  if (offset == 0 && data.size() == 4) {
    v = address_;
  } else if (offset >= 4) {
    auto [fn, reg] = Selected(static_cast<uint32_t>(offset - 4));
    if (fn) v = fn->ConfigRead(reg, static_cast<uint32_t>(data.size()));
  }
  std::memcpy(data.data(), &v, std::min<size_t>(data.size(), 4));
}

void PciHost::Write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  uint32_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 4));
  if (offset == 0) {
    if (data.size() == 4) address_ = v & 0x80FF'FFFC;  // reserved bits read 0
    return;
  }
  auto [fn, reg] = Selected(static_cast<uint32_t>(offset - 4));
  if (fn) fn->ConfigWrite(reg, static_cast<uint32_t>(data.size()), v);
}

}  // namespace bulkhead
