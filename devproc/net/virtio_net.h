// VirtioNet: the virtio-net device model, a state machine over its
// NetStateRegion with guest memory, the backend and interrupts injected. It
// is the VirtioDevice behind a virtio::PciTransport (register accesses) and
// also takes the events the worker's poll loop sees: doorbells, the backend
// becoming readable or writable, the INTx resample.
//
//   TX (queue 1): each chain is the 12-byte virtio_net_hdr_v1 then the frame.
//     The header is copied out and checked against the negotiated features
//     (a GSO type or checksum request the device did not agree to drops the
//     frame, counted); num_buffers is zeroed; header and frame go to the
//     backend in one writev, the frame straight from guest memory. A full
//     backend leaves the chain in the ring until POLLOUT.
//   RX (queue 0): a frame is read into a bounce buffer (the filter must see
//     its destination before the guest does, and the guest must never see a
//     half-filtered frame), filtered, then copied into one chain, or with
//     MRG_RXBUF into as many as it needs (num_buffers says how many). With no
//     buffers the frame waits in the bounce buffer, the device stops reading
//     the backend (the tap queues, then drops, in the kernel) and waits for
//     the driver's kick: no busy polling.
//   Control (queue 2): ctrl_command.h, answered with the ack byte.
//   Offloads: when the driver sets FEATURES_OK the tap gets TUNSETOFFLOAD
//     with what the guest accepts (GUEST_CSUM → TUN_F_CSUM, GUEST_TSO4/6 →
//     TSO4/6, GUEST_ECN → TSO_ECN); reset clears them. A backend that is not
//     a tap refuses: logged once, counted, not fatal.
// A malformed chain or ring stops that queue (virtio::Virtqueue::MarkBroken)
// and is logged once; the other queues go on.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devproc/common/guest_memory.h"
#include "devproc/net/net_backend.h"
#include "devproc/net/net_spec.h"
#include "devproc/net/net_state.h"
#include "devproc/virtio/descriptor_chain.h"
#include "devproc/virtio/pci_transport.h"
#include "devproc/virtio/virtqueue.h"

namespace bulkhead::net {

// The features the device offers.
[[nodiscard]] uint64_t NetDeviceFeatures();

class VirtioNet final : public virtio::VirtioDevice {
 public:
  // `mac`: the address from the core (NetConfigBlob), the power-on MAC.
  VirtioNet(NetStateRegion& region, const GuestMemory& mem, NetBackend& backend,
            virtio::InterruptSink& irq, const uint8_t (&mac)[6]);

  // Formats a blank region (or one a foreign process left): power-on state.
  void InitRegion();
  // After a restart, over a region the previous process used: checks it
  // (anything inconsistent resets the device), re-applies offloads,
  // republishes used indices, and processes what the queues hold.
  void Resume();

  [[nodiscard]] virtio::PciTransport& transport() { return transport_; }
  // A doorbell eventfd fired for `queue`.
  void Kick(uint16_t queue);
  void BackendReadable() { ProcessRx(); }
  void BackendWritable() { ProcessTx(); }
  // What the worker should poll the backend for.
  [[nodiscard]] bool wants_backend_read() const;
  [[nodiscard]] bool wants_backend_write() const { return tx_blocked_; }
  // TX stopped at its budget with chains left: call TxMore() without sleeping.
  [[nodiscard]] bool has_more_work() const { return tx_more_; }
  void TxMore() { ProcessTx(); }
  [[nodiscard]] const NetCounters& counters() const { return region_.net.counters; }
  [[nodiscard]] const NetState& state() const { return region_.net; }

  // virtio::VirtioDevice
  uint64_t DeviceFeatures() const override { return NetDeviceFeatures(); }
  uint16_t NumQueues() const override { return 3; }
  uint16_t MaxQueueSize() const override { return 256; }
  uint64_t ConfigSize() const override { return 10; }  // mac, status, max_virtqueue_pairs
  void ReadConfig(uint64_t offset, std::span<uint8_t> out) override;
  void WriteConfig(uint64_t offset, std::span<const uint8_t> in) override;
  bool FeaturesOk(uint64_t features) override;
  void DriverOk() override;
  void DeviceReset() override;
  void QueueNotify(uint16_t queue) override { Kick(queue); }

 private:
  [[nodiscard]] virtio::Virtqueue Queue(uint16_t q);
  // Logs once per breakage, counts it; the queue stops until reset.
  void Broken(virtio::Virtqueue& vq, uint16_t q, const Error& e);
  void Finish(virtio::Virtqueue& vq, uint16_t q);
  void ProcessTx();
  void ProcessRx();
  void ProcessCtrl();
  // Sends one TX chain. False when the backend is full (chain not consumed).
  [[nodiscard]] Result<bool> SendChain(const virtio::DescriptorChain& chain);
  enum class Delivery { kDelivered, kNoBuffers, kDropped };
  [[nodiscard]] Result<Delivery> DeliverFrame(virtio::Virtqueue& vq);
  void ApplyOffloads(uint64_t features);

  NetStateRegion& region_;
  const GuestMemory& mem_;
  NetBackend& backend_;
  uint8_t power_on_mac_[6];
  virtio::PciTransport transport_;

  // Per-process scratch, not state (see net_state.h).
  virtio::DescriptorChain chain_;
  std::vector<virtio::DescriptorChain> rx_chains_;
  std::vector<uint8_t> rx_frame_;
  size_t rx_len_ = 0;   // bytes of a frame waiting in rx_frame_, 0 if none
  bool rx_waiting_ = false;  // stalled for buffers: wait for a kick
  bool tx_blocked_ = false;  // backend full: wait for POLLOUT
  bool tx_more_ = false;     // budget used up with chains left
  bool backend_failed_ = false;
  bool offload_logged_ = false;
  bool backend_logged_ = false;
  std::vector<iovec> iov_;
  std::vector<uint8_t> ctrl_buf_;
};

}  // namespace bulkhead::net
