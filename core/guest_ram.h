// GuestRam: the guest's RAM as one sealed memfd, mapped once in the core and
// registered with KVM as two slots around the 32-bit MMIO hole. The same
// memfd is what DMA-capable device processes map; sealing it against
// shrink/grow means no peer can make the core's mapping fault.
#pragma once

#include <cstdint>
#include <span>

#include "core/boot/layout.h"
#include "core/kvm/vm.h"
#include "ipc/result.h"
#include "ipc/shared_memory.h"

namespace bulkhead {

class GuestRam {
 public:
  [[nodiscard]] static Result<GuestRam> Create(const boot::MemoryLayout& layout);

  // Registers RAM with KVM: slot 0 = [0, low_ram_end), slot 1 = high RAM.
  [[nodiscard]] Status Register(kvm::Vm& vm) const;

  // Guest-physical [0, low_ram_end), for the boot loader.
  [[nodiscard]] std::span<uint8_t> low() const;
  [[nodiscard]] const MemFd& memfd() const { return memfd_; }
  [[nodiscard]] const boot::MemoryLayout& layout() const { return layout_; }

 private:
  boot::MemoryLayout layout_;
  MemFd memfd_;
  Mapping mapping_;
};

}  // namespace bulkhead
