// The virtio-net PCI function as the core exposes it and the device process
// serves it (see pci_device.h for the general contract).
//
// BAR 0 (32-bit memory, kBar0Size) is the device's, forwarded on the exit
// rings; its layout is the virtio 1.x modern transport. BAR 2 holds the MSI-X
// table and PBA and is served by the core. Queues: 0 = receiveq1,
// 1 = transmitq1, 2 = controlq.
//
// Attachment:
//  * doorbells: one per queue, `queue` = queue index.
//  * irqs: kNumVectors MSI-X vector fds in vector order (no resample), then
//    one INTx fd with a resample fd (used while a queue/config has
//    VIRTIO_MSI_NO_VECTOR, e.g. MSI-X disabled).
//  * backend[0]: the tap, opened by the core with
//    IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and O_NONBLOCK.
//    The device sets TUNSETVNETHDRSZ and TUNSETOFFLOAD itself.
//  * guestRam + ramRegions.
//  * config: NetConfigBlob.
#pragma once

#include <cstdint>

namespace bulkhead::abi::virtio_net {

inline constexpr uint16_t kPciVendor = 0x1af4;
inline constexpr uint16_t kPciDevice = 0x1041;  // 0x1040 + virtio device id 1 (net)
inline constexpr uint32_t kPciClass = 0x020000; // network controller, ethernet
inline constexpr uint16_t kSubsystemVendor = 0x1af4;
inline constexpr uint16_t kSubsystem = 0x0001;
inline constexpr uint8_t kRevision = 0x01;      // modern-only device

inline constexpr int kDeviceBar = 0;
inline constexpr uint64_t kBar0Size = 0x4000;
inline constexpr uint64_t kCommonCfgOffset = 0x0000;
inline constexpr uint64_t kCommonCfgLength = 0x38;    // struct virtio_pci_common_cfg
inline constexpr uint64_t kIsrOffset = 0x1000;
inline constexpr uint64_t kIsrLength = 0x1;
inline constexpr uint64_t kDeviceCfgOffset = 0x2000;
inline constexpr uint64_t kDeviceCfgLength = 0x1000;  // virtio_net_config fits in it
inline constexpr uint64_t kNotifyOffset = 0x3000;
inline constexpr uint32_t kNotifyOffMultiplier = 4;   // queue q notifies at kNotifyOffset + 4*q
inline constexpr uint64_t kNotifyLength = 0x1000;

inline constexpr int kMsixBar = 2;
inline constexpr uint64_t kMsixBarSize = 0x1000;
inline constexpr uint64_t kMsixTableOffset = 0x000;
inline constexpr uint64_t kMsixPbaOffset = 0x800;

inline constexpr uint16_t kNumQueues = 3;             // rx, tx, ctrl
inline constexpr uint16_t kQueueSizeMax = 256;
inline constexpr uint16_t kNumVectors = kNumQueues + 1;  // one for config changes

struct NetConfigBlob {
  uint8_t mac[6];
  uint16_t reserved;
  uint32_t flags;  // none defined yet; must be 0
};
static_assert(sizeof(NetConfigBlob) == 12);

}  // namespace bulkhead::abi::virtio_net
