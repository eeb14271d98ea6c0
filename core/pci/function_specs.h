// The PCI functions Bulkhead's device processes implement, as the core
// describes them: IDs, BARs, capabilities and doorbells, taken from the
// device ABI headers the device processes are built against
// (ipc/device_abi/). BARs are preassigned from `window`, as firmware would.
#pragma once

#include <cstdint>

#include "core/pci/device_function.h"

namespace bulkhead {

// Hands out BAR addresses in the 32-bit PCI window, each aligned to its size.
class BarAllocator {
 public:
  BarAllocator(uint64_t start, uint64_t end) : next_(start), end_(end) {}
  [[nodiscard]] Result<uint64_t> Allocate(uint64_t size);

 private:
  uint64_t next_;
  uint64_t end_;
};

[[nodiscard]] Result<DeviceFunctionSpec> VirtioNetFunctionSpec(uint32_t slot, BarAllocator& bars);
[[nodiscard]] Result<DeviceFunctionSpec> AhciFunctionSpec(uint32_t slot, BarAllocator& bars);

}  // namespace bulkhead
