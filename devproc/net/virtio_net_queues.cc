// VirtioNet's three queues: transmit, receive and control (see virtio_net.h).
#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "devproc/net/ctrl_command.h"
#include "devproc/net/rx_filter.h"
#include "devproc/net/virtio_net.h"
#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::net {
namespace {

using virtio::DescriptorChain;
using virtio::Has;
using virtio::Virtqueue;

constexpr int kBudget = 256;
// A control command's readable part; the largest real one is a MAC table
// set with a few hundred addresses.
constexpr uint64_t kMaxCtrlCommand = 64 * 1024;

// The GSO type and checksum request of a TX header, against what the driver
// negotiated (it may only ask the device for what the device agreed to do).
bool TxHeaderAllowed(const NetHeader& h, uint64_t f) {
  if ((h.flags & kHdrFNeedsCsum) && !Has(f, kFCsum)) return false;
  if (h.flags & ~(kHdrFNeedsCsum | kHdrFDataValid)) return false;
  const uint8_t ecn = h.gso_type & kGsoEcn;
  if (ecn && !Has(f, kFHostEcn)) return false;
  switch (h.gso_type & ~kGsoEcn) {
    case kGsoNone: return ecn == 0;
    case kGsoTcpv4: return Has(f, kFHostTso4);
    case kGsoTcpv6: return Has(f, kFHostTso6);
    case kGsoUdp: return Has(f, kFHostUfo);
    default: return false;
  }
}

}  // namespace

// ---- transmit -------------------------------------------------------------

Result<bool> VirtioNet::SendChain(const DescriptorChain& chain) {
  NetCounters& c = region_.net.counters;
  NetHeader hdr{};
  if (chain.writable_bytes != 0 || chain.readable_bytes < kNetHeaderSize + 14) {
    ++c.tx_dropped;  // not a TX buffer: complete it without sending
    return true;
  }
  if (auto s = ReadChain(mem_, chain, 0, {reinterpret_cast<uint8_t*>(&hdr), sizeof hdr}); !s) {
    return tl::unexpected(s.error());
  }
  if (!TxHeaderAllowed(hdr, transport_.features())) {
    ++c.tx_dropped;
    return true;
  }
  hdr.num_buffers = 0;
  iov_.clear();
  iov_.push_back({&hdr, sizeof hdr});
  if (auto s = ReadableIovecs(mem_, chain, kNetHeaderSize, iov_); !s) return tl::unexpected(s.error());
  auto sent = backend_.Send(iov_);
  if (!sent) {
    ++c.tx_errors;
    if (!backend_logged_) {
      backend_logged_ = true;
      spdlog::error("net: backend send failed (frames are dropped): {}", sent.error().message);
    }
    return true;
  }
  if (!*sent) return false;
  ++c.tx_packets;
  c.tx_bytes += chain.readable_bytes - kNetHeaderSize;
  return true;
}

void VirtioNet::ProcessTx() {
  tx_blocked_ = false;
  tx_more_ = false;
  Virtqueue vq = Queue(kTxQueue);
  if (!vq.ready()) return;
  if (auto s = vq.DisableNotifications(); !s) return Broken(vq, kTxQueue, s.error());
  for (int n = 0; n < kBudget; ++n) {
    auto head = vq.PopInto(chain_);
    if (!head) return Broken(vq, kTxQueue, head.error());
    if (!*head) {
      auto more = vq.EnableNotifications();
      if (!more) return Broken(vq, kTxQueue, more.error());
      if (*more) continue;
      break;
    }
    auto done = SendChain(chain_);
    if (!done) return Broken(vq, kTxQueue, done.error());
    if (!*done) {
      vq.Rewind(1);
      tx_blocked_ = true;  // the worker polls for POLLOUT and calls us again
      break;
    }
    if (auto s = vq.AddUsed(**head, 0); !s) return Broken(vq, kTxQueue, s.error());
  }
  Finish(vq, kTxQueue);
  // Out of budget with chains left: the kick is consumed, so the worker must
  // call again without waiting for one.
  if (!tx_blocked_) {
    auto pending = vq.Pending();
    tx_more_ = pending && *pending != 0;
  }
}

// ---- receive --------------------------------------------------------------

Result<VirtioNet::Delivery> VirtioNet::DeliverFrame(Virtqueue& vq) {
  const bool mergeable = Has(transport_.features(), kFMrgRxbuf);
  const uint64_t need = rx_len_;
  uint64_t room = 0;
  uint16_t chains = 0;
  rx_chains_.resize(std::max<size_t>(rx_chains_.size(), 1));
  while (room < need) {
    if (chains == rx_chains_.size()) rx_chains_.emplace_back();
    DescriptorChain& ch = rx_chains_[chains];
    auto head = vq.PopInto(ch);
    if (!head) return tl::unexpected(head.error());
    if (!*head) {
      vq.Rewind(chains);
      return Delivery::kNoBuffers;
    }
    ++chains;
    if (ch.readable_bytes != 0 || (chains == 1 && ch.writable_bytes < kNetHeaderSize)) {
      return tl::unexpected(Error{"receive buffer with device-readable or tiny descriptors", 0});
    }
    room += ch.writable_bytes;
    if (!mergeable && room < need) {
      // One chain must hold the frame; this one never will.
      vq.Rewind(chains);
      ++region_.net.counters.rx_dropped;
      return Delivery::kDropped;
    }
  }
  NetHeader hdr;
  std::memcpy(&hdr, rx_frame_.data(), sizeof hdr);
  hdr.num_buffers = chains;
  std::memcpy(rx_frame_.data(), &hdr, sizeof hdr);
  uint64_t offset = 0;
  for (uint16_t i = 0; i < chains; ++i) {
    const DescriptorChain& ch = rx_chains_[i];
    const uint64_t n = std::min<uint64_t>(ch.writable_bytes, need - offset);
    if (auto s = WriteChain(mem_, ch, 0, {rx_frame_.data() + offset, n}); !s) {
      return tl::unexpected(s.error());
    }
    if (auto s = vq.AddUsed(ch.head, static_cast<uint32_t>(n)); !s) return tl::unexpected(s.error());
    offset += n;
  }
  NetCounters& c = region_.net.counters;
  ++c.rx_packets;
  c.rx_bytes += need - kNetHeaderSize;
  return Delivery::kDelivered;
}

void VirtioNet::ProcessRx() {
  if (!transport_.driver_ok()) return;
  Virtqueue vq = Queue(kRxQueue);
  if (!vq.ready()) return;
  NetCounters& c = region_.net.counters;
  for (int n = 0; n < kBudget; ++n) {
    if (rx_len_ == 0) {
      if (backend_failed_) break;
      auto got = backend_.Receive(rx_frame_);
      if (!got) {
        ++c.rx_errors;
        backend_failed_ = true;
        spdlog::error("net: backend receive failed, RX stops: {}", got.error().message);
        break;
      }
      if (!*got) break;  // nothing more from the backend
      if (**got < kNetHeaderSize + 14 || **got >= rx_frame_.size()) {
        ++c.rx_dropped;
        continue;
      }
      if (!AcceptFrame(region_.net, std::span(rx_frame_).subspan(kNetHeaderSize))) {
        ++c.rx_filtered;
        continue;
      }
      rx_len_ = **got;
    }
    auto d = DeliverFrame(vq);
    if (!d) {
      rx_len_ = 0;
      return Broken(vq, kRxQueue, d.error());
    }
    if (*d == Delivery::kNoBuffers) {
      // Sleep until the driver adds buffers (it kicks once avail_event or
      // NO_NOTIFY say so); check again after arming, a buffer may be there.
      auto more = vq.EnableNotifications();
      if (!more) return Broken(vq, kRxQueue, more.error());
      if (*more) continue;
      ++c.rx_no_buffers;
      rx_waiting_ = true;
      break;
    }
    rx_len_ = 0;
  }
  Finish(vq, kRxQueue);
}

// ---- control --------------------------------------------------------------

namespace {
// "promisc on, allmulti off, ..." for the log.
std::string RxModeText(const NetState& s) {
  const std::pair<const char*, uint8_t> flags[] = {{"promisc", s.promisc}, {"allmulti", s.allmulti},
                                                   {"alluni", s.alluni},   {"nomulti", s.nomulti},
                                                   {"nouni", s.nouni},     {"nobcast", s.nobcast}};
  std::string out;
  for (const auto& [name, on] : flags) {
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, on ? "on" : "off");
  }
  return out;
}
}  // namespace

void VirtioNet::ProcessCtrl() {
  Virtqueue vq = Queue(kCtrlQueue);
  if (!vq.ready()) return;
  NetCounters& c = region_.net.counters;
  for (int n = 0; n < kBudget; ++n) {
    auto head = vq.PopInto(chain_);
    if (!head) return Broken(vq, kCtrlQueue, head.error());
    if (!*head) {
      auto more = vq.EnableNotifications();
      if (!more) return Broken(vq, kCtrlQueue, more.error());
      if (*more) continue;
      break;
    }
    uint32_t written = 0;
    if (chain_.writable_bytes >= 1) {
      CtrlResult r{kAckErr, false};
      if (chain_.readable_bytes <= kMaxCtrlCommand) {
        ctrl_buf_.resize(chain_.readable_bytes);
        if (auto s = ReadChain(mem_, chain_, 0, ctrl_buf_); !s) {
          return Broken(vq, kCtrlQueue, s.error());
        }
        const std::string mode_before = RxModeText(region_.net);
        r = HandleCtrlCommand(region_.net, transport_.features(), ctrl_buf_);
        // Operators (and the testbed) see rx-mode changes in the log.
        if (const std::string mode = RxModeText(region_.net); mode != mode_before) {
          spdlog::info("net: rx mode now {}", mode);
        }
      }
      ++(r.ack == kAckOk ? c.ctrl_ok : c.ctrl_err);
      const uint8_t ack = r.ack;
      if (auto s = WriteChain(mem_, chain_, 0, {&ack, 1}); !s) {
        return Broken(vq, kCtrlQueue, s.error());
      }
      written = 1;
    } else {
      ++c.ctrl_err;  // no room for the ack: complete it empty
    }
    if (auto s = vq.AddUsed(**head, written); !s) return Broken(vq, kCtrlQueue, s.error());
  }
  Finish(vq, kCtrlQueue);
}

}  // namespace bulkhead::net
