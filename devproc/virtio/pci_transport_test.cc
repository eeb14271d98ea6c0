// The virtio-pci common configuration as Linux's virtio_pci_modern driver
// drives it (feature negotiation, queue setup, status), refusals (no
// VERSION_1, unknown features, late changes), accesses of wrong width, ISR
// and interrupt routing, and reset leaving nothing behind.
#include "devproc/virtio/pci_transport.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "devproc/virtio/virtio_spec.h"

namespace bulkhead::virtio {
namespace {

constexpr TransportLayout kLayout{0x0, 0x38, 0x1000, 0x2000, 0x1000, 0x3000, 0x1000, 4};

class FakeDevice final : public VirtioDevice {
 public:
  uint64_t DeviceFeatures() const override { return Bit(kFVersion1) | Bit(kFEventIdx) | 0x3; }
  uint16_t NumQueues() const override { return 3; }
  uint16_t MaxQueueSize() const override { return 256; }
  uint64_t ConfigSize() const override { return sizeof config; }
  void ReadConfig(uint64_t offset, std::span<uint8_t> out) override {
    std::memcpy(out.data(), config + offset, out.size());
  }
  void WriteConfig(uint64_t offset, std::span<const uint8_t> in) override {
    std::memcpy(config + offset, in.data(), in.size());
  }
  bool FeaturesOk(uint64_t f) override {
    accepted = f;
    return !refuse;
  }
  void DriverOk() override { ++driver_ok; }
  void DeviceReset() override { ++resets; }
  void QueueNotify(uint16_t q) override { notified.push_back(q); }

  uint8_t config[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  bool refuse = false;
  uint64_t accepted = 0;
  int driver_ok = 0;
  int resets = 0;
  std::vector<uint16_t> notified;
};

class FakeIrq final : public InterruptSink {
 public:
  void SignalVector(uint16_t v) override { vectors.push_back(v); }
  void SignalIntx() override { ++intx; }
  std::vector<uint16_t> vectors;
  int intx = 0;
};

class PciTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { PciTransport::InitState(state_, 256); }

  uint64_t R(uint64_t off, uint8_t size) { return t_.Read(off, size); }
  void W(uint64_t off, uint8_t size, uint64_t v) { t_.Write(off, size, v); }
  void Negotiate(uint64_t features) {
    W(0x14, 1, kStatusAcknowledge);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver);
    W(0x08, 4, 0);
    W(0x0c, 4, features & 0xffffffff);
    W(0x08, 4, 1);
    W(0x0c, 4, features >> 32);
    W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  }
  void SetUpQueue(uint16_t q, uint16_t vector) {
    W(0x16, 2, q);
    W(0x18, 2, 128);
    W(0x1a, 2, vector);
    W(0x20, 4, 0x1000);
    W(0x24, 4, 0x1);
    W(0x28, 4, 0x2000);
    W(0x2c, 4, 0);
    W(0x30, 8, 0x3000);
    W(0x1c, 2, 1);
  }

  TransportState state_{};
  FakeDevice dev_;
  FakeIrq irq_;
  PciTransport t_{state_, dev_, irq_, kLayout, 4};
};

TEST_F(PciTransportTest, FeatureNegotiationAsLinuxDoesIt) {
  W(0x00, 4, 0);
  EXPECT_EQ(R(0x04, 4), 0x3u | Bit(kFEventIdx));
  W(0x00, 4, 1);
  EXPECT_EQ(R(0x04, 4), 1u);  // VERSION_1 is bit 32
  W(0x00, 4, 2);
  EXPECT_EQ(R(0x04, 4), 0u);
  EXPECT_EQ(R(0x12, 2), 3u);

  const uint64_t f = Bit(kFVersion1) | Bit(kFEventIdx) | 0x1;
  Negotiate(f);
  EXPECT_TRUE(R(0x14, 1) & kStatusFeaturesOk);
  EXPECT_EQ(dev_.accepted, f);
  EXPECT_EQ(t_.features(), f);
  // Features are fixed now.
  W(0x08, 4, 0);
  W(0x0c, 4, 0x2);
  EXPECT_EQ(R(0x0c, 4), 0x1u | Bit(kFEventIdx));
  EXPECT_EQ(t_.features(), f);

  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_EQ(dev_.driver_ok, 1);
  EXPECT_TRUE(t_.driver_ok());
}

TEST_F(PciTransportTest, FeaturesOkRefusedWithoutVersion1) {
  Negotiate(0x1);
  EXPECT_FALSE(R(0x14, 1) & kStatusFeaturesOk);
  EXPECT_EQ(t_.features(), 0u);
  // DRIVER_OK cannot follow a refused negotiation.
  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_FALSE(t_.driver_ok());
  EXPECT_EQ(dev_.driver_ok, 0);
}

TEST_F(PciTransportTest, FeaturesOkRefusedForUnofferedOrDeviceRefused) {
  Negotiate(Bit(kFVersion1) | Bit(kFIndirectDesc));  // not offered by this device
  EXPECT_FALSE(R(0x14, 1) & kStatusFeaturesOk);
  W(0x14, 1, 0);
  dev_.refuse = true;
  Negotiate(Bit(kFVersion1));
  EXPECT_FALSE(R(0x14, 1) & kStatusFeaturesOk);
}

TEST_F(PciTransportTest, QueueSetupAndReadBack) {
  Negotiate(Bit(kFVersion1));
  SetUpQueue(1, 2);
  W(0x16, 2, 1);
  EXPECT_EQ(R(0x18, 2), 128u);
  EXPECT_EQ(R(0x1a, 2), 2u);
  EXPECT_EQ(R(0x1c, 2), 1u);
  EXPECT_EQ(R(0x1e, 2), 1u);
  EXPECT_EQ(R(0x20, 4), 0x1000u);
  EXPECT_EQ(R(0x24, 4), 0x1u);
  EXPECT_EQ(R(0x20, 8), 0x100001000u);
  EXPECT_EQ(R(0x30, 4), 0x3000u);
  EXPECT_EQ(state_.queues[1].desc_addr, 0x100001000u);
  // Enabled: the configuration is frozen.
  W(0x18, 2, 64);
  EXPECT_EQ(R(0x18, 2), 128u);
  // A queue that does not exist reads size 0 and ignores writes.
  W(0x16, 2, 3);
  EXPECT_EQ(R(0x18, 2), 0u);
  W(0x18, 2, 64);
  EXPECT_EQ(R(0x1a, 2), kNoVector);
  // Untouched queues kept their power-on values.
  W(0x16, 2, 0);
  EXPECT_EQ(R(0x18, 2), 256u);
  EXPECT_EQ(R(0x1a, 2), kNoVector);
}

TEST_F(PciTransportTest, VectorsBeyondTheTableReadBackNoVector) {
  W(0x10, 2, 3);
  EXPECT_EQ(R(0x10, 2), 3u);
  W(0x10, 2, 4);
  EXPECT_EQ(R(0x10, 2), kNoVector);
  W(0x16, 2, 0);
  W(0x1a, 2, 0x40);
  EXPECT_EQ(R(0x1a, 2), kNoVector);
}

TEST_F(PciTransportTest, WrongWidthsAndOffsetsAreCountedNotFatal) {
  W(0x00, 4, 1);
  EXPECT_EQ(R(0x00, 2), 0u);      // 16-bit read of a 32-bit register
  EXPECT_EQ(R(0x02, 2), 0u);      // inside a register
  W(0x14, 2, 0xffff);             // status written 16 bits wide: ignored
  EXPECT_EQ(R(0x14, 1), 0u);
  EXPECT_EQ(R(0x1000, 4), 0u);    // ISR is one byte
  W(0x1000, 1, 1);                // and read-only
  EXPECT_EQ(R(0x2006, 4), 0u);    // config read past its end
  EXPECT_EQ(R(0x0900, 4), 0u);    // no structure there
  W(0x12, 2, 9);                  // num_queues is read-only
  EXPECT_EQ(R(0x12, 2), 3u);
  EXPECT_EQ(state_.bad_accesses, 8u);
  EXPECT_EQ(R(0x00, 4), 1u);      // what was written correctly stays
}

TEST_F(PciTransportTest, DeviceConfigWindow) {
  EXPECT_EQ(R(0x2000, 1), 1u);
  EXPECT_EQ(R(0x2002, 2), 0x0403u);
  EXPECT_EQ(R(0x2004, 4), 0x08070605u);
  W(0x2001, 1, 0xaa);
  EXPECT_EQ(dev_.config[1], 0xaa);
}

TEST_F(PciTransportTest, NotifyWindowKicksQueuesAfterDriverOk) {
  W(0x3004, 2, 1);
  EXPECT_TRUE(dev_.notified.empty()) << "no kicks before DRIVER_OK";
  Negotiate(Bit(kFVersion1));
  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  W(0x3000, 2, 0);
  W(0x3008, 4, 2);
  W(0x300c, 2, 3);   // queue 3 does not exist
  W(0x3002, 2, 0);   // not on a queue's slot
  EXPECT_EQ(dev_.notified, std::vector<uint16_t>({0, 2}));
  EXPECT_EQ(state_.bad_accesses, 2u);
}

TEST_F(PciTransportTest, InterruptsByVectorOrIsr) {
  Negotiate(Bit(kFVersion1));
  SetUpQueue(0, 1);
  SetUpQueue(1, kNoVector);
  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  t_.InterruptQueue(0);
  EXPECT_EQ(irq_.vectors, std::vector<uint16_t>({1}));
  EXPECT_EQ(irq_.intx, 0);
  EXPECT_EQ(R(0x1000, 1), 0u);

  t_.InterruptQueue(1);
  EXPECT_EQ(irq_.intx, 1);
  t_.ConfigChanged();  // msix_config is NO_VECTOR
  EXPECT_EQ(irq_.intx, 2);
  // The guest EOIs without reading the ISR: the line is raised again.
  t_.Resample();
  EXPECT_EQ(irq_.intx, 3);
  EXPECT_EQ(R(0x1000, 1), kIsrQueue | kIsrConfig);
  EXPECT_EQ(R(0x1000, 1), 0u) << "reading the ISR clears it";
  t_.Resample();
  EXPECT_EQ(irq_.intx, 3);

  const uint8_t gen = static_cast<uint8_t>(R(0x15, 1));
  W(0x10, 2, 3);
  t_.ConfigChanged();
  EXPECT_EQ(irq_.vectors.back(), 3);
  EXPECT_EQ(R(0x15, 1), static_cast<uint8_t>(gen + 1));
}

TEST_F(PciTransportTest, ResetClearsEverything) {
  Negotiate(Bit(kFVersion1) | Bit(kFEventIdx));
  SetUpQueue(2, 0);
  W(0x10, 2, 1);
  W(0x00, 4, 1);
  W(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  state_.queues[2].progress.store(PackProgress(5, 5));
  state_.queues[2].broken.store(1);
  t_.InterruptQueue(1);  // queue 1 has no vector: ISR bit set
  W(0x14, 1, 0);

  EXPECT_EQ(dev_.resets, 1);
  EXPECT_EQ(R(0x14, 1), 0u);
  EXPECT_EQ(t_.features(), 0u);
  EXPECT_EQ(state_.driver_features, 0u);
  EXPECT_EQ(R(0x00, 4), 0u);
  EXPECT_EQ(R(0x10, 2), kNoVector);
  EXPECT_EQ(R(0x16, 2), 0u);
  EXPECT_EQ(R(0x1000, 1), 0u);
  for (uint16_t q = 0; q < 3; ++q) {
    W(0x16, 2, q);
    EXPECT_EQ(R(0x18, 2), 256u);
    EXPECT_EQ(R(0x1a, 2), kNoVector);
    EXPECT_EQ(R(0x1c, 2), 0u);
    EXPECT_EQ(R(0x20, 8), 0u);
    EXPECT_EQ(R(0x28, 8), 0u);
    EXPECT_EQ(R(0x30, 8), 0u);
    EXPECT_EQ(state_.queues[q].progress.load(), 0u);
    EXPECT_EQ(state_.queues[q].broken.load(), 0u);
  }
  // And the device can be brought up again from scratch.
  Negotiate(Bit(kFVersion1));
  EXPECT_TRUE(R(0x14, 1) & kStatusFeaturesOk);
}

}  // namespace
}  // namespace bulkhead::virtio
