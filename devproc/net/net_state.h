// The virtio-net device's state region: everything a restarted bulkhead-net
// needs to carry on where its predecessor died, as one fixed-layout struct in
// the memfd the core keeps. Transport and queue state (negotiated features,
// queue addresses, indices) is virtio::TransportState; the net-specific part
// is NetState: MAC, RX mode, MAC filter table, counters.
//
// A frame in flight is not state: TX chains are committed only after the
// frame left for the backend (a death in between sends it twice), an RX frame
// read from the tap but not yet committed to the guest is lost. Both are
// what a network may do anyway.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "devproc/virtio/pci_transport.h"

namespace bulkhead::net {

inline constexpr uint32_t kNetRegionMagic = 0x4e455431;  // "NET1"
inline constexpr uint32_t kNetRegionVersion = 1;
// Entries per MAC filter table; more than that from the guest sets the
// table's overflow flag (accept every address of that kind), like QEMU.
inline constexpr uint32_t kMacTableEntries = 64;

struct NetCounters {
  uint64_t tx_packets, tx_bytes;
  uint64_t tx_dropped;  // malformed header, too short, writable descriptors
  uint64_t tx_errors;   // the backend refused the frame
  uint64_t rx_packets, rx_bytes;
  uint64_t rx_filtered;  // refused by the RX filter
  uint64_t rx_dropped;   // too short, or larger than the buffers can ever hold
  uint64_t rx_no_buffers;  // times RX stalled for lack of guest buffers
  uint64_t rx_errors;    // backend read errors
  uint64_t ctrl_ok, ctrl_err;
  uint64_t offload_errors;  // TUNSETOFFLOAD / TUNSETVNETHDRSZ refused
};

struct NetState {
  uint8_t mac[6];
  // RX mode (VIRTIO_NET_CTRL_RX_*), each 0 or 1.
  uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
  uint8_t uni_overflow, multi_overflow;  // the guest's table did not fit
  uint16_t reserved0;
  uint32_t uc_count, mc_count;
  uint8_t uc[kMacTableEntries][6];
  uint8_t mc[kMacTableEntries][6];
  uint32_t offloads;  // TUN_F_* last applied to the backend
  uint32_t reserved1;
  NetCounters counters;
};
static_assert(std::is_standard_layout_v<NetState>);

struct NetStateRegion {
  uint32_t magic;
  uint32_t version;
  // The last register access applied and its reply, so a replayed exit-ring
  // request is answered, not applied twice (see net_worker.h for the id).
  std::atomic<uint64_t> applied_id;
  uint64_t reply;
  virtio::TransportState transport;
  NetState net;
};
static_assert(std::is_standard_layout_v<NetStateRegion>);
// docs/virtio-net.md promises the core that one page is enough.
static_assert(sizeof(NetStateRegion) <= 4096);

// RX mode and filter at device reset: promiscuous until the driver says
// otherwise (a driver without CTRL_RX never does, and must get every frame).
// Keeps the MAC given by the core (`mac`) and the counters.
void ResetNetState(NetState& s, const uint8_t (&mac)[6]);

}  // namespace bulkhead::net
