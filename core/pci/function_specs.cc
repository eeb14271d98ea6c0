#include "core/pci/function_specs.h"

#include "core/boot/layout.h"
#include "ipc/device_abi/ahci.h"
#include "ipc/device_abi/virtio_net.h"

namespace bulkhead {
namespace {

// struct virtio_pci_cap (virtio 1.x, 4.1.4): vendor-specific capability 0x09.
constexpr uint8_t kVirtioPciCapCommon = 1;
constexpr uint8_t kVirtioPciCapNotify = 2;
constexpr uint8_t kVirtioPciCapIsr = 3;
constexpr uint8_t kVirtioPciCapDevice = 4;

std::vector<uint8_t> VirtioCap(uint8_t type, uint8_t bar, uint64_t offset, uint64_t length,
                               uint32_t notify_multiplier = 0) {
  const bool notify = type == kVirtioPciCapNotify;
  std::vector<uint8_t> cap(notify ? 20 : 16, 0);
  cap[0] = 0x09;
  cap[2] = static_cast<uint8_t>(cap.size());  // cap_len
  cap[3] = type;
  cap[4] = bar;
  for (int i = 0; i < 4; ++i) {
    cap[8 + i] = static_cast<uint8_t>(offset >> (8 * i));
    cap[12 + i] = static_cast<uint8_t>(length >> (8 * i));
    if (notify) cap[16 + i] = static_cast<uint8_t>(notify_multiplier >> (8 * i));
  }
  return cap;
}

}  // namespace

Result<uint64_t> BarAllocator::Allocate(uint64_t size) {
  const uint64_t at = (next_ + size - 1) & ~(size - 1);
  if (size == 0 || (size & (size - 1)) != 0 || at + size > end_) {
    return MakeError("no room for a {:#x}-byte BAR in the PCI window", size);
  }
  next_ = at + size;
  return at;
}

Result<DeviceFunctionSpec> VirtioNetFunctionSpec(uint32_t slot, BarAllocator& bars) {
  namespace abi = abi::virtio_net;
  DeviceFunctionSpec s;
  s.name = "virtio-net";
  s.ids = {.vendor = abi::kPciVendor,
           .device = abi::kPciDevice,
           .subsystem_vendor = abi::kSubsystemVendor,
           .subsystem = abi::kSubsystem,
           .revision = abi::kRevision,
           .class_code = abi::kPciClass,
           .interrupt_pin = 1};
  s.bars[abi::kDeviceBar] = {.size = abi::kBar0Size};
  s.bars[abi::kMsixBar] = {.size = abi::kMsixBarSize};
  for (int b : {abi::kDeviceBar, abi::kMsixBar}) {
    auto a = bars.Allocate(s.bars[static_cast<size_t>(b)].size);
    if (!a) return tl::unexpected(a.error());
    s.initial_address[static_cast<size_t>(b)] = *a;
  }
  const auto bar = static_cast<uint8_t>(abi::kDeviceBar);
  s.vendor_capabilities = {
      VirtioCap(kVirtioPciCapCommon, bar, abi::kCommonCfgOffset, abi::kCommonCfgLength),
      VirtioCap(kVirtioPciCapIsr, bar, abi::kIsrOffset, abi::kIsrLength),
      VirtioCap(kVirtioPciCapDevice, bar, abi::kDeviceCfgOffset, abi::kDeviceCfgLength),
      VirtioCap(kVirtioPciCapNotify, bar, abi::kNotifyOffset, abi::kNotifyLength,
                abi::kNotifyOffMultiplier),
  };
  s.msix_vectors = abi::kNumVectors;
  s.msix_bar = abi::kMsixBar;
  s.msix_table_offset = abi::kMsixTableOffset;
  s.msix_pba_offset = abi::kMsixPbaOffset;
  s.doorbells = abi::kNumQueues;
  s.doorbell_bar = abi::kDeviceBar;
  s.doorbell_offset = abi::kNotifyOffset;
  s.doorbell_stride = abi::kNotifyOffMultiplier;
  s.doorbell_width = 2;
  s.intx_gsi = boot::PciIntxGsi(slot, 0);
  return s;
}

Result<DeviceFunctionSpec> AhciFunctionSpec(uint32_t slot, BarAllocator& bars) {
  namespace abi = abi::ahci;
  DeviceFunctionSpec s;
  s.name = "ahci";
  s.ids = {.vendor = abi::kPciVendor,
           .device = abi::kPciDevice,
           .subsystem_vendor = 0x1af4,
           .subsystem = 0x1100,
           .revision = abi::kRevision,
           .class_code = abi::kPciClass,
           .interrupt_pin = 1};
  s.bars[abi::kAbarBar] = {.size = abi::kAbarSize};
  auto a = bars.Allocate(abi::kAbarSize);
  if (!a) return tl::unexpected(a.error());
  s.initial_address[abi::kAbarBar] = *a;
  s.msi = true;
  s.intx_gsi = boot::PciIntxGsi(slot, 0);
  return s;
}

}  // namespace bulkhead
