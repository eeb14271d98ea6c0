// PciHost: PCI configuration mechanism #1 (ports 0xCF8 address, 0xCFC-0xCFF
// data) over bus 0. Holds the config space of every function; device 0 is
// the host bridge itself. Absent functions read all-ones, which is how the
// guest's scan learns that a slot is empty.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "core/bus.h"
#include "core/pci/pci_function.h"
#include "ipc/result.h"

namespace bulkhead {

class PciHost : public BusDevice {
 public:
  PciHost();

  // Adds a function at 00:slot.0. Slot 0 is the host bridge.
  [[nodiscard]] Status AddFunction(uint8_t slot, std::shared_ptr<PciFunction> function);

  // The bus device for 0xCF8..0xCFF (offset 0 = 0xCF8).
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  // The function the address latch selects, and the register offset; null
  // when the latch is disabled, names another bus, or an empty slot.
  [[nodiscard]] std::pair<PciFunction*, uint32_t> Selected(uint32_t data_offset) const;

  std::mutex mu_;  // the latch is one register shared by all vCPUs
  uint32_t address_ = 0;
  std::map<uint8_t, std::shared_ptr<PciFunction>> functions_;
};

}  // namespace bulkhead
