// Machine: starting the PCI devices. Each is a DeviceFunction in the core
// (config space, BARs, MSI-X/MSI, doorbells) and a device process behind it
// (DeviceHost), joined by the eventfds the function created and the bus
// regions the process serves.
#include <cstring>

#include "core/machine.h"
#include "ipc/device_abi/ahci.h"
#include "ipc/device_abi/virtio_net.h"

namespace bulkhead {
namespace {

constexpr uint8_t kNetSlot = 2;
constexpr uint8_t kAhciSlot = 3;
// Room for each device's registers, queues and in-flight journal.
constexpr uint64_t kPciDeviceStateSize = 256 * 1024;

template <class T>
std::vector<uint8_t> Bytes(const T& value) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

// The serial numbers in ATA IDENTIFY: 20 characters, space padded.
void SetSerial(char (&out)[20], const char* text) {
  std::memset(out, ' ', sizeof(out));
  std::memcpy(out, text, std::min(std::strlen(text), sizeof(out)));
}

}  // namespace

Result<DeviceHost*> Machine::StartDevice(DeviceSpec device) {
  // The failure callback needs the host, which exists only once Start returns.
  auto holder = std::make_shared<std::atomic<DeviceHost*>>(nullptr);
  auto host = DeviceHost::Start(std::move(device), device_env_, [this, holder](const DeviceExit& e) {
    DeviceFailed(holder->load(), e);
  });
  if (!host) return tl::unexpected(host.error());
  holder->store(host->get());
  devices_.push_back(std::move(*host));
  return devices_.back().get();
}

Status Machine::StartPciDevice(uint8_t slot, DeviceFunctionSpec function, DeviceSpec device) {
  auto fn = DeviceFunction::Create(std::move(function), *pci_platform_);
  if (!fn) return tl::unexpected(fn.error());
  auto irqs = (*fn)->DeviceIrqs();
  if (!irqs) return tl::unexpected(irqs.error());
  auto doorbells = (*fn)->DeviceDoorbells();
  if (!doorbells) return tl::unexpected(doorbells.error());
  auto ram = ram_->memfd().Dup();
  if (!ram) return tl::unexpected(ram.error());
  device.irqs = std::move(*irqs);
  device.doorbells = std::move(*doorbells);
  device.guest_ram = std::move(*ram);
  // The RAM memfd holds low RAM, then high RAM (core/guest_ram.h).
  const boot::MemoryLayout& layout = ram_->layout();
  device.ram_regions.push_back({0, layout.low_ram_end, 0});
  if (layout.high_ram_end > boot::kHighRamStart) {
    device.ram_regions.push_back({boot::kHighRamStart, layout.high_ram_size(), layout.low_ram_end});
  }
  device.state_size = kPciDeviceStateSize;
  device.binary = DeviceBinary(config_.device_dir, device.kind);
  auto host = StartDevice(std::move(device));
  if (!host) return tl::unexpected(host.error());
  DeviceHost* h = *host;
  (*fn)->Connect([h](AccessSpace space, uint8_t region) { return h->Region(space, region); });
  return pci_host_->AddFunction(slot, *fn);
}

Status Machine::StartNet(UniqueFd tap, BarAllocator& bars) {
  auto function = VirtioNetFunctionSpec(kNetSlot, bars);
  if (!function) return tl::unexpected(function.error());
  abi::virtio_net::NetConfigBlob blob{};
  std::memcpy(blob.mac, config_.net->mac.data(), sizeof(blob.mac));
  DeviceSpec device;
  device.kind = "net";
  device.backend.push_back(std::move(tap));
  device.config = Bytes(blob);
  return StartPciDevice(kNetSlot, std::move(*function), std::move(device));
}

Status Machine::StartAhci(std::optional<DiskImage> disk, std::optional<DiskImage> cdrom,
                          BarAllocator& bars) {
  auto function = AhciFunctionSpec(kAhciSlot, bars);
  if (!function) return tl::unexpected(function.error());
  abi::ahci::AhciConfigBlob blob{};
  SetSerial(blob.disk_serial, "BULKHEAD-DISK-0");
  SetSerial(blob.cdrom_serial, "BULKHEAD-CD-0");
  DeviceSpec device;
  device.kind = "ahci";
  if (disk) {
    blob.flags |= abi::ahci::kHasDisk | (disk->readonly ? abi::ahci::kDiskReadOnly : 0);
    device.backend.push_back(std::move(disk->fd));
  }
  if (cdrom) {
    blob.flags |= abi::ahci::kHasCdrom;
    device.backend.push_back(std::move(cdrom->fd));
  }
  device.config = Bytes(blob);
  return StartPciDevice(kAhciSlot, std::move(*function), std::move(device));
}

}  // namespace bulkhead
