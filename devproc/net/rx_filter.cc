#include "devproc/net/rx_filter.h"

#include <algorithm>
#include <cstring>

namespace bulkhead::net {
namespace {

bool InTable(const uint8_t (*table)[6], uint32_t count, const uint8_t* mac) {
  // count comes from the region: never trust it past the table's size.
  count = std::min(count, kMacTableEntries);
  for (uint32_t i = 0; i < count; ++i) {
    if (std::memcmp(table[i], mac, 6) == 0) return true;
  }
  return false;
}

}  // namespace

bool AcceptFrame(const NetState& s, std::span<const uint8_t> frame) {
  if (frame.size() < 6) return false;
  const uint8_t* dst = frame.data();
  if (s.promisc) return true;
  static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (std::memcmp(dst, kBroadcast, 6) == 0) return !s.nobcast;
  if (dst[0] & 1) {
    if (s.nomulti) return false;
    if (s.allmulti || s.multi_overflow) return true;
    return InTable(s.mc, s.mc_count, dst);
  }
  if (s.nouni) return false;
  if (s.alluni || s.uni_overflow) return true;
  if (std::memcmp(dst, s.mac, 6) == 0) return true;
  return InTable(s.uc, s.uc_count, dst);
}

}  // namespace bulkhead::net
