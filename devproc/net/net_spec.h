// Constants and wire formats of virtio-net (virtio 1.x, section 5.1) and of
// the tap offload ioctl, named as in the specification and Linux's uapi
// (linux/virtio_net.h, linux/if_tun.h) so both can be grepped.
#pragma once

#include <cstdint>

namespace bulkhead::net {

// Feature bits.
inline constexpr unsigned kFCsum = 0;
inline constexpr unsigned kFGuestCsum = 1;
inline constexpr unsigned kFMac = 5;
inline constexpr unsigned kFGuestTso4 = 7;
inline constexpr unsigned kFGuestTso6 = 8;
inline constexpr unsigned kFGuestEcn = 9;
inline constexpr unsigned kFGuestUfo = 10;
inline constexpr unsigned kFHostTso4 = 11;
inline constexpr unsigned kFHostTso6 = 12;
inline constexpr unsigned kFHostEcn = 13;
inline constexpr unsigned kFHostUfo = 14;
inline constexpr unsigned kFMrgRxbuf = 15;
inline constexpr unsigned kFStatus = 16;
inline constexpr unsigned kFCtrlVq = 17;
inline constexpr unsigned kFCtrlRx = 18;
inline constexpr unsigned kFCtrlRxExtra = 20;
inline constexpr unsigned kFCtrlMacAddr = 23;

// struct virtio_net_hdr_v1: with VIRTIO_F_VERSION_1 every buffer starts with
// it, num_buffers included (12 bytes). The tap is told the same size.
struct NetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
inline constexpr uint32_t kNetHeaderSize = sizeof(NetHeader);

inline constexpr uint8_t kHdrFNeedsCsum = 1;
inline constexpr uint8_t kHdrFDataValid = 2;
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpv4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpv6 = 4;
inline constexpr uint8_t kGsoEcn = 0x80;

inline constexpr uint16_t kStatusLinkUp = 1;  // VIRTIO_NET_S_LINK_UP

// Control virtqueue: struct virtio_net_ctrl_hdr { u8 class; u8 cmd; }, then
// the command's data (device-readable), then one ack byte (device-writable).
inline constexpr uint8_t kCtrlRx = 0;
inline constexpr uint8_t kCtrlRxPromisc = 0;
inline constexpr uint8_t kCtrlRxAllmulti = 1;
inline constexpr uint8_t kCtrlRxAlluni = 2;
inline constexpr uint8_t kCtrlRxNomulti = 3;
inline constexpr uint8_t kCtrlRxNouni = 4;
inline constexpr uint8_t kCtrlRxNobcast = 5;
inline constexpr uint8_t kCtrlMac = 1;
inline constexpr uint8_t kCtrlMacTableSet = 0;
inline constexpr uint8_t kCtrlMacAddrSet = 1;
inline constexpr uint8_t kAckOk = 0;   // VIRTIO_NET_OK
inline constexpr uint8_t kAckErr = 1;  // VIRTIO_NET_ERR

// TUNSETOFFLOAD flags (linux/if_tun.h): what the tap may hand us un-checksummed
// or un-segmented, i.e. what the guest said it accepts.
inline constexpr unsigned kTunFCsum = 0x01;
inline constexpr unsigned kTunFTso4 = 0x02;
inline constexpr unsigned kTunFTso6 = 0x04;
inline constexpr unsigned kTunFTsoEcn = 0x08;
inline constexpr unsigned kTunFUfo = 0x10;

// Queue indices (ipc/device_abi/virtio_net.h).
inline constexpr uint16_t kRxQueue = 0;
inline constexpr uint16_t kTxQueue = 1;
inline constexpr uint16_t kCtrlQueue = 2;

// Largest frame: a 64 KiB GSO packet plus its Ethernet header, after our
// 12-byte header.
inline constexpr uint32_t kMaxFrame = kNetHeaderSize + 65535 + 14;
// The RX bounce buffer: room for any frame a tap hands out (a GSO frame with
// VLAN tags is a little over kMaxFrame). A read that fills it completely may
// have been truncated and is dropped.
inline constexpr uint32_t kRxBounce = 128 * 1024;

}  // namespace bulkhead::net
