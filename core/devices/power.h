// The hardware-reduced ACPI power registers the FADT points at (ports in
// core/boot/layout.h): the guest's `poweroff` writes SLP_TYP=S5|SLP_EN to the
// sleep control port, its `reboot` writes the reset value to the reset port.
// Both end up as a VmEvent for the vCPU loop; nothing else is emulated.
#pragma once

#include <atomic>
#include <functional>

#include "core/bus.h"

namespace bulkhead {

enum class VmEvent { kNone, kPowerOff, kReboot };

class AcpiPowerDevice : public BusDevice {
 public:
  // `request` is called (from a vCPU thread) when the guest asks to power off or reboot.
  explicit AcpiPowerDevice(std::function<void(VmEvent)> request) : request_(std::move(request)) {}
  // Offsets relative to kAcpiSleepControlPort: 0 control, 1 status, 2 reset.
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  std::function<void(VmEvent)> request_;
};

// Port 0x80 (POST codes, and Linux's io_delay) and other write-only sinks:
// accepted silently, read as 0xFF. Keeps expected traffic out of the
// unhandled-access log without hiding anything unexpected elsewhere.
class SinkDevice : public BusDevice {
 public:
  void Read(uint64_t, std::span<uint8_t> data) override {
    for (auto& b : data) b = 0xFF;
  }
  void Write(uint64_t, std::span<const uint8_t>) override {}
};

}  // namespace bulkhead

namespace bulkhead {

// The reset line of an i8042 keyboard controller (ports 0x60/0x64): the
// status register reads "input buffer empty", and the pulse-reset command
// 0xFE written to 0x64 reboots — Linux's fallback when the ACPI reset
// register does not do it. No keyboard is emulated.
class I8042ResetDevice : public BusDevice {
 public:
  explicit I8042ResetDevice(std::function<void(VmEvent)> request) : request_(std::move(request)) {}
  // Offset 0 = port 0x60, offset 4 = port 0x64.
  void Read(uint64_t, std::span<uint8_t> data) override {
    for (auto& b : data) b = 0;  // no data, input buffer empty
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    if (offset == 4 && data.size() == 1 && data[0] == 0xFE) request_(VmEvent::kReboot);
  }

 private:
  std::function<void(VmEvent)> request_;
};

}  // namespace bulkhead
