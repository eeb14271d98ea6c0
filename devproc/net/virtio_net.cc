#include "devproc/net/virtio_net.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "devproc/net/ctrl_command.h"
#include "devproc/net/rx_filter.h"
#include "devproc/virtio/virtio_spec.h"
#include "ipc/device_abi/virtio_net.h"

namespace bulkhead::net {
namespace {

using virtio::Bit;
using virtio::DescriptorChain;
using virtio::Has;
using virtio::Virtqueue;

namespace abi = bulkhead::abi::virtio_net;

constexpr virtio::TransportLayout kLayout{
    abi::kCommonCfgOffset, abi::kCommonCfgLength, abi::kIsrOffset,
    abi::kDeviceCfgOffset, abi::kDeviceCfgLength, abi::kNotifyOffset,
    abi::kNotifyLength,    abi::kNotifyOffMultiplier};
static_assert(abi::kNumQueues == 3 && abi::kQueueSizeMax == 256);


}  // namespace

uint64_t NetDeviceFeatures() {
  return Bit(virtio::kFVersion1) | Bit(virtio::kFEventIdx) | Bit(virtio::kFIndirectDesc) |
         Bit(kFCsum) | Bit(kFGuestCsum) | Bit(kFMac) | Bit(kFGuestTso4) | Bit(kFGuestTso6) |
         Bit(kFGuestEcn) | Bit(kFHostTso4) | Bit(kFHostTso6) | Bit(kFHostEcn) | Bit(kFMrgRxbuf) |
         Bit(kFStatus) | Bit(kFCtrlVq) | Bit(kFCtrlRx) | Bit(kFCtrlRxExtra) | Bit(kFCtrlMacAddr);
}

VirtioNet::VirtioNet(NetStateRegion& region, const GuestMemory& mem, NetBackend& backend,
                     virtio::InterruptSink& irq, const uint8_t (&mac)[6])
    : region_(region),
      mem_(mem),
      backend_(backend),
      transport_(region.transport, *this, irq, kLayout, abi::kNumVectors),
      rx_frame_(kRxBounce) {
  std::memcpy(power_on_mac_, mac, 6);
}

void VirtioNet::InitRegion() {
  region_.magic = kNetRegionMagic;
  region_.version = kNetRegionVersion;
  region_.applied_id.store(0);
  region_.reply = 0;
  std::memset(&region_.net.counters, 0, sizeof region_.net.counters);
  virtio::PciTransport::InitState(region_.transport, MaxQueueSize());
  ResetNetState(region_.net, power_on_mac_);
}

void VirtioNet::Resume() {
  NetState& s = region_.net;
  virtio::TransportState& t = region_.transport;
  // The region was written by a process the guest may have compromised:
  // anything a field cannot hold resets the device rather than being used.
  const bool bad_features = (t.status & virtio::kStatusFeaturesOk) &&
                            ((t.driver_features & ~NetDeviceFeatures()) != 0 ||
                             !Has(t.driver_features, virtio::kFVersion1));
  if (bad_features || s.uc_count > kMacTableEntries || s.mc_count > kMacTableEntries ||
      (s.mac[0] & 1)) {
    spdlog::warn("net: state region inconsistent, resetting the device");
    transport_.Reset();
    return;
  }
  for (uint8_t* flag : {&s.promisc, &s.allmulti, &s.alluni, &s.nomulti, &s.nouni, &s.nobcast,
                        &s.uni_overflow, &s.multi_overflow}) {
    *flag = *flag != 0;
  }
  ApplyOffloads(transport_.features());
  if (!transport_.driver_ok()) return;
  for (uint16_t q = 0; q < NumQueues(); ++q) {
    Virtqueue vq = Queue(q);
    if (auto st = vq.Resume(); !st) Broken(vq, q, st.error());
    // Completions the predecessor published may not have been signalled.
    if (vq.ready()) transport_.InterruptQueue(q);
  }
  for (uint16_t q = 0; q < NumQueues(); ++q) Kick(q);
}

Virtqueue VirtioNet::Queue(uint16_t q) {
  return Virtqueue(region_.transport.queues[q], mem_, transport_.features(), MaxQueueSize(),
                   q == kRxQueue ? uint64_t{kRxBounce} * 8 : kMaxFrame);
}

void VirtioNet::Broken(Virtqueue& vq, uint16_t q, const Error& e) {
  if (vq.MarkBroken()) {
    spdlog::warn("net: queue {} stopped (malformed by the driver): {}", q, e.message);
  }
}

void VirtioNet::Finish(Virtqueue& vq, uint16_t q) {
  auto notify = vq.Publish();
  if (!notify) {
    Broken(vq, q, notify.error());
    return;
  }
  if (*notify) transport_.InterruptQueue(q);
}

void VirtioNet::Kick(uint16_t queue) {
  if (!transport_.driver_ok()) return;
  switch (queue) {
    case kRxQueue:
      rx_waiting_ = false;
      ProcessRx();
      break;
    case kTxQueue: ProcessTx(); break;
    case kCtrlQueue: ProcessCtrl(); break;
    default: break;
  }
}

bool VirtioNet::wants_backend_read() const {
  if (backend_failed_ || rx_waiting_ || !transport_.driver_ok()) return false;
  const auto& q = region_.transport.queues[kRxQueue];
  return q.enabled != 0 && q.broken.load(std::memory_order_relaxed) == 0;
}

// ---- configuration space -------------------------------------------------

void VirtioNet::ReadConfig(uint64_t offset, std::span<uint8_t> out) {
  uint8_t cfg[10] = {};
  std::memcpy(cfg, region_.net.mac, 6);
  cfg[6] = static_cast<uint8_t>(kStatusLinkUp);  // status: link always up
  cfg[8] = 1;                                    // max_virtqueue_pairs
  std::memcpy(out.data(), cfg + offset, out.size());
}

void VirtioNet::WriteConfig(uint64_t offset, std::span<const uint8_t> in) {
  // The MAC is writable only through legacy interfaces; a modern driver uses
  // VIRTIO_NET_CTRL_MAC_ADDR_SET. Ignored, like QEMU does for VERSION_1.
  (void)offset;
  (void)in;
}

// ---- negotiation and reset -------------------------------------------------

bool VirtioNet::FeaturesOk(uint64_t f) {
  // Dependencies from virtio 1.x 5.1.3.1: a driver that breaks them would
  // have the tap hand it packets it cannot take.
  auto need = [&](unsigned bit, std::initializer_list<unsigned> any_of) {
    if (!Has(f, bit)) return true;
    for (unsigned b : any_of) {
      if (Has(f, b)) return true;
    }
    return false;
  };
  const bool ok = need(kFGuestTso4, {kFGuestCsum}) && need(kFGuestTso6, {kFGuestCsum}) &&
                  need(kFGuestEcn, {kFGuestTso4, kFGuestTso6}) && need(kFHostTso4, {kFCsum}) &&
                  need(kFHostTso6, {kFCsum}) && need(kFHostEcn, {kFHostTso4, kFHostTso6}) &&
                  need(kFCtrlRx, {kFCtrlVq}) && need(kFCtrlRxExtra, {kFCtrlRx}) &&
                  need(kFCtrlMacAddr, {kFCtrlVq});
  if (!ok) return false;
  ApplyOffloads(f);
  return true;
}

void VirtioNet::ApplyOffloads(uint64_t f) {
  unsigned tun = 0;
  if (Has(f, kFGuestCsum)) tun |= kTunFCsum;
  if (Has(f, kFGuestTso4)) tun |= kTunFTso4;
  if (Has(f, kFGuestTso6)) tun |= kTunFTso6;
  if (Has(f, kFGuestEcn)) tun |= kTunFTsoEcn;
  if (Has(f, kFGuestUfo)) tun |= kTunFUfo;
  region_.net.offloads = tun;
  if (auto s = backend_.SetOffload(tun); !s) {
    ++region_.net.counters.offload_errors;
    if (!offload_logged_) {
      offload_logged_ = true;
      spdlog::warn("net: backend refused offloads (not a tap?): {}", s.error().message);
    }
  }
}

void VirtioNet::DriverOk() {
  rx_waiting_ = false;
  for (uint16_t q = 0; q < NumQueues(); ++q) Kick(q);
}

void VirtioNet::DeviceReset() {
  ResetNetState(region_.net, power_on_mac_);
  ApplyOffloads(0);
  region_.net.offloads = 0;
  rx_len_ = 0;
  rx_waiting_ = false;
  tx_blocked_ = false;
  tx_more_ = false;
}

}  // namespace bulkhead::net
