#include "devproc/virtio/pci_transport.h"

#include <spdlog/spdlog.h>

#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::virtio {
namespace {

// struct virtio_pci_common_cfg offsets.
enum : uint64_t {
  kDeviceFeatureSelect = 0x00,
  kDeviceFeature = 0x04,
  kDriverFeatureSelect = 0x08,
  kDriverFeature = 0x0c,
  kMsixConfig = 0x10,
  kNumQueues = 0x12,
  kDeviceStatus = 0x14,
  kConfigGeneration = 0x15,
  kQueueSelect = 0x16,
  kQueueSize = 0x18,
  kQueueMsixVector = 0x1a,
  kQueueEnable = 0x1c,
  kQueueNotifyOff = 0x1e,
  kQueueDesc = 0x20,
  kQueueDriver = 0x28,
  kQueueDevice = 0x30,
};

constexpr uint64_t kBadLogLimit = 8;

// Width of the register at `offset` (0: no register starts there). The
// 64-bit queue addresses also accept 32-bit halves; see WidthOk.
uint8_t RegisterWidth(uint64_t offset) {
  switch (offset) {
    case kDeviceFeatureSelect: case kDeviceFeature: case kDriverFeatureSelect:
    case kDriverFeature:
      return 4;
    case kMsixConfig: case kNumQueues: case kQueueSelect: case kQueueSize:
    case kQueueMsixVector: case kQueueEnable: case kQueueNotifyOff:
      return 2;
    case kDeviceStatus: case kConfigGeneration:
      return 1;
    case kQueueDesc: case kQueueDriver: case kQueueDevice:
      return 8;
    case kQueueDesc + 4: case kQueueDriver + 4: case kQueueDevice + 4:
      return 4;
    default:
      return 0;
  }
}

bool WidthOk(uint64_t offset, uint8_t size) {
  const uint8_t w = RegisterWidth(offset);
  if (w == 8) return size == 8 || size == 4;
  return w != 0 && size == w;
}

// Replaces the 32-bit half (or all 64 bits) of `field` that an access at
// `offset` (relative to the field) of `size` bytes names.
void SetAddressPart(uint64_t& field, uint64_t offset, uint8_t size, uint64_t value) {
  if (size == 8) {
    field = value;
  } else if (offset == 0) {
    field = (field & 0xffffffff00000000ULL) | (value & 0xffffffffULL);
  } else {
    field = (field & 0xffffffffULL) | ((value & 0xffffffffULL) << 32);
  }
}

uint64_t GetAddressPart(uint64_t field, uint64_t offset, uint8_t size) {
  if (size == 8) return field;
  return offset == 0 ? (field & 0xffffffffULL) : (field >> 32);
}

}  // namespace

PciTransport::PciTransport(TransportState& state, VirtioDevice& device, InterruptSink& irq,
                           const TransportLayout& layout, uint16_t num_vectors)
    : state_(state), device_(device), irq_(irq), layout_(layout), num_vectors_(num_vectors) {}

void PciTransport::InitState(TransportState& s, uint16_t max_queue_size) {
  const uint64_t bad = s.bad_accesses;
  s.driver_features = 0;
  s.device_feature_select = s.driver_feature_select = 0;
  s.msix_config = kNoVector;
  s.queue_select = 0;
  s.status = 0;
  s.reserved0 = 0;
  s.reserved1 = 0;
  s.isr.store(0, std::memory_order_relaxed);
  for (VirtqueueState& q : s.queues) ResetVirtqueueState(q, max_queue_size);
  s.bad_accesses = bad;
  // config_generation keeps counting: a driver that raced a reset with a
  // config read must see a change.
  ++s.config_generation;
}

void PciTransport::Reset() {
  InitState(state_, device_.MaxQueueSize());
  device_.DeviceReset();
}

uint64_t PciTransport::features() const {
  return (state_.status & kStatusFeaturesOk) ? state_.driver_features : 0;
}

bool PciTransport::driver_ok() const { return (state_.status & kStatusDriverOk) != 0; }

void PciTransport::Bad(const char* what, uint64_t offset, uint8_t size) {
  ++state_.bad_accesses;
  if (bad_logged_ < kBadLogLimit) {
    ++bad_logged_;
    spdlog::warn("virtio: {} at BAR offset {:#x} size {}{}", what, offset, size,
                 bad_logged_ == kBadLogLimit ? " (not logging further ones)" : "");
  }
}

VirtqueueState* PciTransport::SelectedQueue() {
  const uint16_t q = state_.queue_select;
  if (q >= device_.NumQueues() || q >= kMaxQueues) return nullptr;
  return &state_.queues[q];
}

uint64_t PciTransport::Read(uint64_t offset, uint8_t size) {
  if (offset >= layout_.common_offset && offset - layout_.common_offset < layout_.common_length) {
    return ReadCommon(offset - layout_.common_offset, size);
  }
  if (offset == layout_.isr_offset) {
    if (size != 1) {
      Bad("ISR access of wrong width", offset, size);
      return 0;
    }
    // Reading clears: the guest acknowledged the line.
    return state_.isr.exchange(0, std::memory_order_acq_rel) & 0xff;
  }
  if (offset >= layout_.device_cfg_offset &&
      offset - layout_.device_cfg_offset < layout_.device_cfg_length) {
    const uint64_t at = offset - layout_.device_cfg_offset;
    if ((size != 1 && size != 2 && size != 4) || at + size > device_.ConfigSize()) {
      Bad("device config read outside the structure", offset, size);
      return 0;
    }
    uint8_t bytes[4] = {};
    device_.ReadConfig(at, {bytes, size});
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; --i) v = (v << 8) | bytes[i];
    return v;
  }
  if (offset >= layout_.notify_offset && offset - layout_.notify_offset < layout_.notify_length) {
    return 0;  // the notify window is write-only
  }
  Bad("read of an unknown register", offset, size);
  return 0;
}

void PciTransport::Write(uint64_t offset, uint8_t size, uint64_t value) {
  if (offset >= layout_.common_offset && offset - layout_.common_offset < layout_.common_length) {
    WriteCommon(offset - layout_.common_offset, size, value);
    return;
  }
  if (offset >= layout_.device_cfg_offset &&
      offset - layout_.device_cfg_offset < layout_.device_cfg_length) {
    const uint64_t at = offset - layout_.device_cfg_offset;
    if ((size != 1 && size != 2 && size != 4) || at + size > device_.ConfigSize()) {
      Bad("device config write outside the structure", offset, size);
      return;
    }
    uint8_t bytes[4];
    for (uint8_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    device_.WriteConfig(at, {bytes, size});
    return;
  }
  if (offset >= layout_.notify_offset && offset - layout_.notify_offset < layout_.notify_length) {
    const uint64_t at = offset - layout_.notify_offset;
    const uint64_t q = at / layout_.notify_multiplier;
    if ((size != 2 && size != 4) || at % layout_.notify_multiplier != 0 ||
        q >= device_.NumQueues()) {
      Bad("notify of no queue", offset, size);
      return;
    }
    if (driver_ok()) device_.QueueNotify(static_cast<uint16_t>(q));
    return;
  }
  Bad(offset == layout_.isr_offset ? "write to the read-only ISR" : "write to an unknown register",
      offset, size);
}

uint64_t PciTransport::ReadCommon(uint64_t offset, uint8_t size) {
  if (!WidthOk(offset, size)) {
    Bad("common cfg read of wrong width or offset", offset, size);
    return 0;
  }
  const VirtqueueState* q = SelectedQueue();
  switch (offset) {
    case kDeviceFeatureSelect: return state_.device_feature_select;
    case kDeviceFeature: {
      const uint32_t sel = state_.device_feature_select;
      return sel > 1 ? 0 : (device_.DeviceFeatures() >> (32 * sel)) & 0xffffffffULL;
    }
    case kDriverFeatureSelect: return state_.driver_feature_select;
    case kDriverFeature: {
      const uint32_t sel = state_.driver_feature_select;
      return sel > 1 ? 0 : (state_.driver_features >> (32 * sel)) & 0xffffffffULL;
    }
    case kMsixConfig: return state_.msix_config;
    case kNumQueues: return device_.NumQueues();
    case kDeviceStatus: return state_.status;
    case kConfigGeneration: return state_.config_generation;
    case kQueueSelect: return state_.queue_select;
    case kQueueSize: return q ? q->size : 0;  // 0: no such queue
    case kQueueMsixVector: return q ? q->msix_vector : kNoVector;
    case kQueueEnable: return q ? q->enabled : 0;
    case kQueueNotifyOff: return q ? state_.queue_select : 0;  // times notify_multiplier
    case kQueueDesc: case kQueueDesc + 4:
      return q ? GetAddressPart(q->desc_addr, offset - kQueueDesc, size) : 0;
    case kQueueDriver: case kQueueDriver + 4:
      return q ? GetAddressPart(q->driver_addr, offset - kQueueDriver, size) : 0;
    case kQueueDevice: case kQueueDevice + 4:
      return q ? GetAddressPart(q->device_addr, offset - kQueueDevice, size) : 0;
    default: return 0;
  }
}

void PciTransport::WriteCommon(uint64_t offset, uint8_t size, uint64_t value) {
  if (!WidthOk(offset, size)) {
    Bad("common cfg write of wrong width or offset", offset, size);
    return;
  }
  const auto v32 = static_cast<uint32_t>(value);
  const auto v16 = static_cast<uint16_t>(value);
  VirtqueueState* q = SelectedQueue();
  switch (offset) {
    case kDeviceFeatureSelect: state_.device_feature_select = v32; return;
    case kDriverFeatureSelect: state_.driver_feature_select = v32; return;
    case kDriverFeature: {
      const uint32_t sel = state_.driver_feature_select;
      if (sel > 1 || (state_.status & kStatusFeaturesOk)) {
        Bad("driver feature write after FEATURES_OK or beyond bit 63", offset, size);
        return;
      }
      const unsigned shift = 32 * sel;
      state_.driver_features =
          (state_.driver_features & ~(0xffffffffULL << shift)) | (uint64_t{v32} << shift);
      return;
    }
    case kMsixConfig: state_.msix_config = v16 < num_vectors_ ? v16 : kNoVector; return;
    case kDeviceStatus: WriteStatus(static_cast<uint8_t>(value)); return;
    case kQueueSelect: state_.queue_select = v16; return;
    default: break;
  }
  // The per-queue registers.
  if (!q) {
    Bad("queue register write with no such queue selected", offset, size);
    return;
  }
  if (offset == kQueueMsixVector) {
    q->msix_vector = v16 < num_vectors_ ? v16 : kNoVector;
    return;
  }
  if (q->enabled) {
    Bad("queue configuration changed while enabled", offset, size);
    return;
  }
  switch (offset) {
    case kQueueSize: q->size = v16; return;  // validated when enabled and used
    case kQueueEnable:
      // Only 1 may be written (a driver disables a queue by reset).
      if (v16 == 1) q->enabled = 1;
      return;
    case kQueueDesc: case kQueueDesc + 4:
      SetAddressPart(q->desc_addr, offset - kQueueDesc, size, value); return;
    case kQueueDriver: case kQueueDriver + 4:
      SetAddressPart(q->driver_addr, offset - kQueueDriver, size, value); return;
    case kQueueDevice: case kQueueDevice + 4:
      SetAddressPart(q->device_addr, offset - kQueueDevice, size, value); return;
    default:
      Bad("write to a read-only common cfg register", offset, size);
      return;
  }
}

void PciTransport::WriteStatus(uint8_t value) {
  if (value == 0) {
    Reset();
    return;
  }
  const uint8_t old = state_.status;
  // The driver only ever adds bits; it clears them by resetting.
  uint8_t next = static_cast<uint8_t>(old | value);
  if ((next & kStatusFeaturesOk) && !(old & kStatusFeaturesOk)) {
    const uint64_t f = state_.driver_features;
    const bool ok = (f & ~device_.DeviceFeatures()) == 0 && Has(f, kFVersion1) &&
                    device_.FeaturesOk(f);
    if (!ok) {
      spdlog::info("virtio: refusing driver features {:#x} (device offers {:#x})", f,
                   device_.DeviceFeatures());
      next = static_cast<uint8_t>(next & ~kStatusFeaturesOk);
    }
  }
  if ((next & kStatusDriverOk) && !(next & kStatusFeaturesOk)) {
    Bad("DRIVER_OK without FEATURES_OK", 0x14, 1);
    next = static_cast<uint8_t>(next & ~kStatusDriverOk);
  }
  state_.status = next;
  if ((next & kStatusDriverOk) && !(old & kStatusDriverOk)) device_.DriverOk();
}

void PciTransport::Signal(uint16_t vector, uint8_t isr_bit) {
  if (vector != kNoVector && vector < num_vectors_) {
    irq_.SignalVector(vector);
    return;
  }
  state_.isr.fetch_or(isr_bit, std::memory_order_acq_rel);
  irq_.SignalIntx();
}

void PciTransport::InterruptQueue(uint16_t queue) {
  if (queue >= kMaxQueues) return;
  Signal(state_.queues[queue].msix_vector, kIsrQueue);
}

void PciTransport::ConfigChanged() {
  ++state_.config_generation;
  if (driver_ok()) Signal(state_.msix_config, kIsrConfig);
}

void PciTransport::Resample() {
  if (state_.isr.load(std::memory_order_acquire) != 0) irq_.SignalIntx();
}

}  // namespace bulkhead::virtio
