#include "devproc/net/net_state.h"

#include <cstring>

namespace bulkhead::net {

void ResetNetState(NetState& s, const uint8_t (&mac)[6]) {
  const NetCounters counters = s.counters;
  std::memset(&s, 0, sizeof s);
  std::memcpy(s.mac, mac, 6);
  s.promisc = 1;
  s.counters = counters;
}

}  // namespace bulkhead::net
