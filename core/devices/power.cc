#include "core/devices/power.h"

#include "core/boot/layout.h"

namespace bulkhead {

void AcpiPowerDevice::Read(uint64_t, std::span<uint8_t>) {
  // Sleep status reads 0: never "woken"; control and reset read 0.
}

void AcpiPowerDevice::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1) return;
  const uint8_t v = data[0];
  if (offset == 0 && boot::IsAcpiPowerOffWrite(v)) {
    request_(VmEvent::kPowerOff);
  } else if (offset == 2 && v == boot::kAcpiResetValue) {
    request_(VmEvent::kReboot);
  }
}

}  // namespace bulkhead
