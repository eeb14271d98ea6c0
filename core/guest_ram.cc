#include "core/guest_ram.h"

namespace bulkhead {

Result<GuestRam> GuestRam::Create(const boot::MemoryLayout& layout) {
  GuestRam ram;
  ram.layout_ = layout;
  auto memfd = MemFd::Create("bulkhead-guest-ram", layout.ram_size);
  if (!memfd) return tl::unexpected(memfd.error());
  if (auto s = memfd->Seal(); !s) return tl::unexpected(s.error());
  auto map = Mapping::Map(*memfd);
  if (!map) return tl::unexpected(map.error());
  // Guest RAM benefits from huge pages and must not be dumped with the core.
  ::madvise(map->data(), map->size(), MADV_HUGEPAGE);
  ::madvise(map->data(), map->size(), MADV_DONTDUMP);
  ram.memfd_ = std::move(*memfd);
  ram.mapping_ = std::move(*map);
  return ram;
}

Status GuestRam::Register(kvm::Vm& vm) const {
  if (auto s = vm.SetMemoryRegion(0, 0, layout_.low_ram_end, mapping_.data()); !s) return s;
  if (layout_.high_ram_end > boot::kHighRamStart) {
    // SAFETY: the mapping covers ram_size = low_ram_end + high_ram_size bytes.
    return vm.SetMemoryRegion(1, boot::kHighRamStart, layout_.high_ram_size(),
                              mapping_.data() + layout_.low_ram_end);
  }
  return {};
}

std::span<uint8_t> GuestRam::low() const {
  return {reinterpret_cast<uint8_t*>(mapping_.data()), layout_.low_ram_end};
}

}  // namespace bulkhead
