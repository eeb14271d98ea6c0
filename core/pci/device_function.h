// DeviceFunction: a PCI function whose registers are served by a device
// process, as the core holds it. The core owns its configuration space and
// everything config space decides (DESIGN.md):
//
//  * where the BARs are: a device-owned BAR is put on the bus as the device's
//    region (its accesses go down the exit rings), the MSI-X BAR as the
//    core's table and PBA; moved or dropped as the guest reprograms the BAR
//    or toggles memory/I-O decoding;
//  * doorbells: one eventfd per virtio queue, registered with KVM_IOEVENTFD
//    at BAR + offset + stride * queue while that BAR is decoded;
//  * interrupts: MSI-X vectors (msix.h), and the "line" eventfd that is the
//    function's INTx (level, with a resample fd) or, for a function with an
//    MSI capability, its MSI message while the guest enabled MSI
//    (ipc/device_abi/pci_device.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/pci/config_space.h"
#include "core/pci/msix.h"
#include "core/pci/pci_function.h"
#include "core/pci/pci_platform.h"
#include "ipc/control.h"

namespace bulkhead {

struct DeviceFunctionSpec {
  std::string name;
  PciIds ids;
  std::array<PciBar, PciConfigSpace::kNumBars> bars{};
  // Where the core places each BAR before the guest looks (0 = unassigned),
  // as firmware would: Linux keeps assignments that fit the host bridge window.
  std::array<uint64_t, PciConfigSpace::kNumBars> initial_address{};
  // Raw capabilities other than MSI/MSI-X (virtio's vendor capabilities):
  // byte 0 is the ID, byte 1 is filled in. Read-only to the guest.
  std::vector<std::vector<uint8_t>> vendor_capabilities;
  // MSI-X (0 vectors = none): table and PBA in `msix_bar`, served by the core.
  uint16_t msix_vectors = 0;
  int msix_bar = -1;
  uint32_t msix_table_offset = 0;
  uint32_t msix_pba_offset = 0;
  bool msi = false;  // an MSI capability routing the line eventfd
  // Doorbells: queue q at BAR `doorbell_bar` + doorbell_offset + q * stride.
  uint16_t doorbells = 0;
  int doorbell_bar = -1;
  uint64_t doorbell_offset = 0;
  uint32_t doorbell_stride = 4;
  uint32_t doorbell_width = 2;  // bytes the driver writes (virtio: the 16-bit queue index)
  uint32_t intx_gsi = 0;
};

// How the function reaches its device process: the bus device for a region
// (ipc/device_abi/pci_device.h: the BAR index).
using RegionFactory = std::function<std::shared_ptr<BusDevice>(AccessSpace space, uint8_t region)>;

class DeviceFunction final : public PciFunction,
                             public std::enable_shared_from_this<DeviceFunction> {
 public:
  [[nodiscard]] static Result<std::shared_ptr<DeviceFunction>> Create(DeviceFunctionSpec spec,
                                                                      PciPlatform& platform);
  ~DeviceFunction() override;

  // Copies of the eventfds for the device process, in the order the device
  // ABI fixes: MSI-X vectors, then the line (with its resample fd).
  [[nodiscard]] Result<std::vector<IrqAttachment>> DeviceIrqs() const;
  [[nodiscard]] Result<std::vector<DoorbellAttachment>> DeviceDoorbells() const;

  // Once the device process is attached: its BARs go live (if decoded).
  void Connect(RegionFactory regions);

  uint32_t ConfigRead(uint32_t offset, uint32_t size) override;
  void ConfigWrite(uint32_t offset, uint32_t size, uint32_t value) override;

  [[nodiscard]] const std::string& name() const { return spec_.name; }
  // BAR i's current bus address, 0 when not mapped (tests, logs).
  [[nodiscard]] uint64_t mapped_bar(int i) const;
  [[nodiscard]] MsixVectors* msix() const { return msix_.get(); }
  // Where the line eventfd goes now: the INTx GSI, an MSI GSI, or nothing.
  enum class LineRoute { kNone, kIntx, kMsi };
  [[nodiscard]] LineRoute line_route() const;

 private:
  DeviceFunction(DeviceFunctionSpec spec, PciPlatform& platform);
  class MsixBar;
  // All called with mu_ held.
  void RemapBars();
  void MapBar(int i, uint64_t address);
  void UnmapBar(int i);
  void SyncInterrupts();
  void Warn(const std::string& what);

  DeviceFunctionSpec spec_;
  PciPlatform& platform_;
  mutable std::mutex mu_;
  PciConfigSpace config_;
  RegionFactory regions_;
  std::array<uint64_t, PciConfigSpace::kNumBars> mapped_{};
  std::unique_ptr<MsixVectors> msix_;
  uint8_t msix_cap_ = 0;
  uint8_t msi_cap_ = 0;
  std::vector<EventFd> doorbells_;
  EventFd line_;
  EventFd line_resample_;
  LineRoute line_route_ = LineRoute::kNone;
  uint32_t msi_gsi_ = 0;
  uint64_t warnings_ = 0;
};

}  // namespace bulkhead
