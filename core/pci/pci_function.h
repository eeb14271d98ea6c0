// PciFunction: what the configuration mechanism (PciHost) talks to. A plain
// config space answers for the host bridge; a DeviceFunction also reacts to
// what the guest programs (BARs, MSI/MSI-X, INTx disable).
#pragma once

#include <cstdint>
#include <span>

#include "core/pci/config_space.h"

namespace bulkhead {

class PciFunction {
 public:
  virtual ~PciFunction() = default;
  // `offset` is 0-255; the caller passes the access as the guest made it
  // (1, 2 or 4 bytes); bad sizes and alignments read all-ones / are dropped.
  [[nodiscard]] virtual uint32_t ConfigRead(uint32_t offset, uint32_t size) = 0;
  virtual void ConfigWrite(uint32_t offset, uint32_t size, uint32_t value) = 0;
};

// A function that is nothing but its configuration space (the host bridge).
class StaticPciFunction final : public PciFunction {
 public:
  StaticPciFunction(const PciIds& ids, std::span<const PciBar> bars) : config_(ids, bars) {}
  uint32_t ConfigRead(uint32_t offset, uint32_t size) override { return config_.Read(offset, size); }
  void ConfigWrite(uint32_t offset, uint32_t size, uint32_t value) override {
    (void)config_.Write(offset, size, value);
  }
  [[nodiscard]] const PciConfigSpace& config() const { return config_; }

 private:
  PciConfigSpace config_;
};

}  // namespace bulkhead
