#include "devproc/net/ctrl_command.h"

#include <cstring>

#include "devproc/net/net_spec.h"
#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::net {
namespace {

using virtio::Has;

constexpr CtrlResult kErr{kAckErr, false};
constexpr CtrlResult kOk{kAckOk, false};

CtrlResult RxMode(NetState& s, uint64_t features, uint8_t cmd, std::span<const uint8_t> data) {
  if (!Has(features, kFCtrlRx) || data.size() != 1 || data[0] > 1) return kErr;
  uint8_t* field = nullptr;
  switch (cmd) {
    case kCtrlRxPromisc: field = &s.promisc; break;
    case kCtrlRxAllmulti: field = &s.allmulti; break;
    case kCtrlRxAlluni: field = &s.alluni; break;
    case kCtrlRxNomulti: field = &s.nomulti; break;
    case kCtrlRxNouni: field = &s.nouni; break;
    case kCtrlRxNobcast: field = &s.nobcast; break;
    default: return kErr;
  }
  if (cmd >= kCtrlRxAlluni && !Has(features, kFCtrlRxExtra)) return kErr;
  *field = data[0];
  return kOk;
}

// Parses one `le32 entries; macs[entries][6]` table at the front of `data`.
// On success advances `data` past it. Entries are taken as the driver sent
// them: the filter looks up unicast destinations in the first table and
// multicast ones in the second, so a misfiled entry is simply never matched.
struct Table {
  uint8_t macs[kMacTableEntries][6];
  uint32_t count;
  bool overflow;
};
bool ParseTable(std::span<const uint8_t>& data, Table& t) {
  uint32_t entries = 0;
  if (data.size() < 4) return false;
  std::memcpy(&entries, data.data(), 4);
  data = data.subspan(4);
  if (entries > data.size() / 6) return false;  // also bounds entries * 6
  t.count = 0;
  t.overflow = entries > kMacTableEntries;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint8_t* mac = data.data() + 6 * size_t{i};
    if (i < kMacTableEntries) std::memcpy(t.macs[t.count++], mac, 6);
  }
  data = data.subspan(6 * size_t{entries});
  return true;
}

CtrlResult Mac(NetState& s, uint64_t features, uint8_t cmd, std::span<const uint8_t> data) {
  if (cmd == kCtrlMacAddrSet) {
    if (!Has(features, kFCtrlMacAddr) || data.size() != 6 || (data[0] & 1)) return kErr;
    const bool changed = std::memcmp(s.mac, data.data(), 6) != 0;
    std::memcpy(s.mac, data.data(), 6);
    return {kAckOk, changed};
  }
  if (cmd != kCtrlMacTableSet || !Has(features, kFCtrlRx)) return kErr;
  // Parse both tables before touching the state: a bad command changes nothing.
  Table uc, mc;
  if (!ParseTable(data, uc) || !ParseTable(data, mc) || !data.empty()) return kErr;
  std::memcpy(s.uc, uc.macs, sizeof s.uc);
  std::memcpy(s.mc, mc.macs, sizeof s.mc);
  s.uc_count = uc.count;
  s.mc_count = mc.count;
  s.uni_overflow = uc.overflow;
  s.multi_overflow = mc.overflow;
  return kOk;
}

}  // namespace

CtrlResult HandleCtrlCommand(NetState& state, uint64_t features, std::span<const uint8_t> command) {
  if (command.size() < 2) return kErr;
  const uint8_t cls = command[0];
  const uint8_t cmd = command[1];
  const auto data = command.subspan(2);
  switch (cls) {
    case kCtrlRx: return RxMode(state, features, cmd, data);
    case kCtrlMac: return Mac(state, features, cmd, data);
    default: return kErr;
  }
}

}  // namespace bulkhead::net
