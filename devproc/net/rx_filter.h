// Which received frames the guest gets, from the RX mode and MAC filter its
// driver set through the control queue (Linux: virtnet_set_rx_mode). Decided
// on the destination address only, in this order:
//   promiscuous                     → every frame;
//   broadcast ff:ff:ff:ff:ff:ff     → unless no-broadcast;
//   multicast (I/G bit set)         → none if no-multicast, all if
//                                     all-multicast or the multicast table
//                                     overflowed, else the table's entries;
//   unicast                         → none if no-unicast, all if all-unicast
//                                     or the unicast table overflowed, else
//                                     the device MAC and the table's entries.
#pragma once

#include <cstdint>
#include <span>

#include "devproc/net/net_state.h"

namespace bulkhead::net {

// `frame` is the Ethernet frame (no virtio header). Runts (< 6 bytes) are
// refused.
[[nodiscard]] bool AcceptFrame(const NetState& state, std::span<const uint8_t> frame);

}  // namespace bulkhead::net
