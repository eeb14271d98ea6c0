// The virtio-pci modern transport as a register model: the device's BAR
// holds the common configuration, the ISR byte, the device-specific
// configuration and the notify window (virtio 1.x, 4.1.4). The core places
// the BAR and owns PCI config space and the MSI-X table; it forwards every
// BAR access here as (offset in the BAR, size, data).
//
// All state is a TransportState in the device's state region, so a restarted
// process resumes with the guest's negotiation, queues and ISR intact.
//
// Rules the model enforces (a guest breaking them is counted, never fatal):
//   * each register has one width (64-bit queue addresses: two 32-bit halves
//     or one 64-bit access); anything else reads 0 and writes nothing;
//   * FEATURES_OK sticks only if the driver's features are a subset of the
//     device's, include VIRTIO_F_VERSION_1, and the device agrees;
//   * driver features cannot change after FEATURES_OK, queue configuration
//     cannot change while the queue is enabled;
//   * a queue_msix_vector / msix_config beyond the device's vectors reads
//     back VIRTIO_MSI_NO_VECTOR (how Linux learns the mapping failed);
//   * writing 0 to device_status resets everything: registers, queues, ISR,
//     and the device's own state (VirtioDevice::DeviceReset).
// Interrupts: a queue or config change with an MSI-X vector signals that
// vector; with VIRTIO_MSI_NO_VECTOR it sets the ISR bit and raises INTx,
// which Resample() raises again while the ISR is non-zero (level semantics
// over an edge-triggered eventfd; see ipc/device_abi/pci_device.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "devproc/virtio/virtqueue_state.h"

namespace bulkhead::virtio {

inline constexpr uint16_t kMaxQueues = 8;

struct TransportState {
  uint64_t driver_features;
  uint32_t device_feature_select;
  uint32_t driver_feature_select;
  uint16_t msix_config;
  uint16_t queue_select;
  uint8_t status;
  uint8_t config_generation;
  uint16_t reserved0;
  std::atomic<uint32_t> isr;
  uint32_t reserved1;
  uint64_t bad_accesses;  // wrong offset/width/order (statistic)
  VirtqueueState queues[kMaxQueues];
};
static_assert(std::is_standard_layout_v<TransportState>);

// Where each structure lies in the device's BAR.
struct TransportLayout {
  uint64_t common_offset, common_length;
  uint64_t isr_offset;
  uint64_t device_cfg_offset, device_cfg_length;
  uint64_t notify_offset, notify_length;
  uint32_t notify_multiplier;
};

// The device behind the transport.
class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;
  [[nodiscard]] virtual uint64_t DeviceFeatures() const = 0;
  [[nodiscard]] virtual uint16_t NumQueues() const = 0;
  [[nodiscard]] virtual uint16_t MaxQueueSize() const = 0;
  [[nodiscard]] virtual uint64_t ConfigSize() const = 0;
  // [offset, offset+bytes) lies within ConfigSize().
  virtual void ReadConfig(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual void WriteConfig(uint64_t offset, std::span<const uint8_t> in) = 0;
  // Device-specific acceptance of the driver's features (the generic checks
  // passed). May act on them (e.g. program offloads); false refuses.
  [[nodiscard]] virtual bool FeaturesOk(uint64_t features) = 0;
  virtual void DriverOk() = 0;
  // The transport state is already at power-on values.
  virtual void DeviceReset() = 0;
  virtual void QueueNotify(uint16_t queue) = 0;
};

// Interrupt delivery, implemented by the worker with the attached eventfds.
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void SignalVector(uint16_t vector) = 0;
  virtual void SignalIntx() = 0;
};

class PciTransport {
 public:
  PciTransport(TransportState& state, VirtioDevice& device, InterruptSink& irq,
               const TransportLayout& layout, uint16_t num_vectors);

  // One BAR access of `size` bytes (1, 2, 4, 8) at `offset`.
  [[nodiscard]] uint64_t Read(uint64_t offset, uint8_t size);
  void Write(uint64_t offset, uint8_t size, uint64_t value);

  // Power-on state (also what a guest write of 0 to device_status does).
  void Reset();
  // Formats a blank region: Reset() without telling the device.
  static void InitState(TransportState& state, uint16_t max_queue_size);

  void InterruptQueue(uint16_t queue);
  // The device changed its configuration: new generation, config interrupt.
  void ConfigChanged();
  // The INTx resample fd fired (the guest EOIed the line).
  void Resample();

  // Negotiated features: valid once FEATURES_OK is set, else 0.
  [[nodiscard]] uint64_t features() const;
  [[nodiscard]] bool driver_ok() const;
  [[nodiscard]] TransportState& state() noexcept { return state_; }

 private:
  [[nodiscard]] uint64_t ReadCommon(uint64_t offset, uint8_t size);
  void WriteCommon(uint64_t offset, uint8_t size, uint64_t value);
  void WriteStatus(uint8_t value);
  void Signal(uint16_t vector, uint8_t isr_bit);
  // Counts an access the model refuses; logs the first few.
  void Bad(const char* what, uint64_t offset, uint8_t size);
  [[nodiscard]] VirtqueueState* SelectedQueue();

  TransportState& state_;
  VirtioDevice& device_;
  InterruptSink& irq_;
  TransportLayout layout_;
  uint16_t num_vectors_;
  uint64_t bad_logged_ = 0;
};

}  // namespace bulkhead::virtio
