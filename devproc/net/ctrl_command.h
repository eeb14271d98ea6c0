// One command from the virtio-net control queue, parsed with every length and
// value checked: the result is the ack byte (VIRTIO_NET_OK / VIRTIO_NET_ERR)
// and, for a good command, its effect on NetState. Anything the device did
// not offer (a class, a command, RX_EXTRA modes without the feature) or any
// malformed payload is VIRTIO_NET_ERR and changes nothing.
//
// Commands:
//   RX  PROMISC / ALLMULTI (CTRL_RX), ALLUNI / NOMULTI / NOUNI / NOBCAST
//       (CTRL_RX_EXTRA): exactly one byte, 0 or 1.
//   MAC TABLE_SET (CTRL_RX): two tables, unicast then multicast, each
//       `le32 entries; u8 macs[entries][6]`, exactly filling the payload.
//       A table longer than kMacTableEntries sets that kind's overflow flag.
//   MAC ADDR_SET (CTRL_MAC_ADDR): exactly six bytes, a unicast address.
#pragma once

#include <cstdint>
#include <span>

#include "devproc/net/net_state.h"

namespace bulkhead::net {

struct CtrlResult {
  uint8_t ack;
  bool mac_changed;
};

// `command` is the device-readable part of the chain: class, cmd, data.
[[nodiscard]] CtrlResult HandleCtrlCommand(NetState& state, uint64_t features,
                                           std::span<const uint8_t> command);

}  // namespace bulkhead::net
