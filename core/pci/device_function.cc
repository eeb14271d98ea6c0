#include "core/pci/device_function.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "core/pci/capabilities.h"

namespace bulkhead {
namespace {
constexpr uint32_t kCommand = 0x04;
constexpr uint16_t kCommandIntxDisable = 0x400;
constexpr uint32_t kBar0 = 0x10;
}  // namespace

// The MSI-X BAR on the bus: the table and the PBA, both in the core.
class DeviceFunction::MsixBar final : public BusDevice {
 public:
  MsixBar(std::shared_ptr<DeviceFunction> owner, uint64_t table, uint64_t pba)
      : owner_(std::move(owner)), table_(table), pba_(pba) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    MsixVectors& m = *owner_->msix_;
    const uint64_t table_end = table_ + uint64_t{m.count()} * MsixVectors::kEntrySize;
    if (offset >= table_ && offset < table_end) return m.ReadTable(offset - table_, data);
    if (offset >= pba_ && offset < pba_ + (uint64_t{m.count()} + 63) / 64 * 8) {
      return m.ReadPba(offset - pba_, data);
    }
    std::memset(data.data(), 0, data.size());  // reserved space in the BAR reads 0
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    MsixVectors& m = *owner_->msix_;
    const uint64_t table_end = table_ + uint64_t{m.count()} * MsixVectors::kEntrySize;
    if (offset >= table_ && offset < table_end) m.WriteTable(offset - table_, data);
    // The PBA is read-only; writes elsewhere are ignored.
  }

 private:
  // Keeps the function's MSI-X state alive while the bus holds this range.
  std::shared_ptr<DeviceFunction> owner_;
  uint64_t table_;
  uint64_t pba_;
};

DeviceFunction::DeviceFunction(DeviceFunctionSpec spec, PciPlatform& platform)
    : spec_(std::move(spec)), platform_(platform), config_(spec_.ids, spec_.bars) {}

DeviceFunction::~DeviceFunction() = default;

Result<std::shared_ptr<DeviceFunction>> DeviceFunction::Create(DeviceFunctionSpec spec,
                                                               PciPlatform& platform) {
  std::shared_ptr<DeviceFunction> f(new DeviceFunction(std::move(spec), platform));
  const DeviceFunctionSpec& s = f->spec_;
  CapabilityList caps(f->config_);
  for (const auto& cap : s.vendor_capabilities) {
    auto at = caps.Add(cap, {});
    if (!at) return tl::unexpected(at.error());
  }
  if (s.msix_vectors > 0) {
    auto at = caps.AddMsix(s.msix_vectors, s.msix_bar, s.msix_table_offset, s.msix_pba_offset);
    if (!at) return tl::unexpected(at.error());
    f->msix_cap_ = *at;
    auto m = MsixVectors::Create(platform, s.name, s.msix_vectors);
    if (!m) return tl::unexpected(m.error());
    f->msix_ = std::move(*m);
  }
  if (s.msi) {
    auto at = caps.AddMsi();
    if (!at) return tl::unexpected(at.error());
    f->msi_cap_ = *at;
    auto gsi = platform.AllocateMsiGsi();
    if (!gsi) return tl::unexpected(gsi.error());
    f->msi_gsi_ = *gsi;
  }
  for (uint16_t q = 0; q < s.doorbells; ++q) {
    auto efd = EventFd::Create(0, EFD_NONBLOCK);
    if (!efd) return tl::unexpected(efd.error());
    f->doorbells_.push_back(std::move(*efd));
  }
  auto line = EventFd::Create(0, EFD_NONBLOCK);
  auto resample = EventFd::Create(0, EFD_NONBLOCK);
  if (!line) return tl::unexpected(line.error());
  if (!resample) return tl::unexpected(resample.error());
  f->line_ = std::move(*line);
  f->line_resample_ = std::move(*resample);
  for (int i = 0; i < PciConfigSpace::kNumBars; ++i) {
    if (s.initial_address[static_cast<size_t>(i)] == 0 || s.bars[static_cast<size_t>(i)].size == 0) continue;
    const uint64_t a = s.initial_address[static_cast<size_t>(i)];
    (void)f->config_.Write(kBar0 + 4 * static_cast<uint32_t>(i), 4, static_cast<uint32_t>(a));
    if (s.bars[static_cast<size_t>(i)].is64) {
      (void)f->config_.Write(kBar0 + 4 * static_cast<uint32_t>(i + 1), 4, static_cast<uint32_t>(a >> 32));
    }
  }
  std::lock_guard lock(f->mu_);
  f->SyncInterrupts();  // INTx is live from the start, like a real line
  return f;
}

Result<std::vector<IrqAttachment>> DeviceFunction::DeviceIrqs() const {
  std::vector<IrqAttachment> out;
  if (msix_) {
    auto v = msix_->DeviceIrqs();
    if (!v) return tl::unexpected(v.error());
    out = std::move(*v);
  }
  auto trigger = line_.Dup();
  if (!trigger) return tl::unexpected(trigger.error());
  auto resample = line_resample_.Dup();
  if (!resample) return tl::unexpected(resample.error());
  out.push_back({spec_.intx_gsi, std::move(*trigger), std::move(*resample)});
  return out;
}

Result<std::vector<DoorbellAttachment>> DeviceFunction::DeviceDoorbells() const {
  std::vector<DoorbellAttachment> out;
  for (uint32_t q = 0; q < doorbells_.size(); ++q) {
    auto d = doorbells_[q].Dup();
    if (!d) return tl::unexpected(d.error());
    out.push_back({q, std::move(*d)});
  }
  return out;
}

void DeviceFunction::Connect(RegionFactory regions) {
  std::lock_guard lock(mu_);
  regions_ = std::move(regions);
  RemapBars();
}

uint32_t DeviceFunction::ConfigRead(uint32_t offset, uint32_t size) {
  std::lock_guard lock(mu_);
  return config_.Read(offset, size);
}

void DeviceFunction::ConfigWrite(uint32_t offset, uint32_t size, uint32_t value) {
  std::lock_guard lock(mu_);
  const ConfigWriteResult r = config_.Write(offset, size, value);
  if (r.bar_changed || r.command_changed) RemapBars();
  SyncInterrupts();
}

uint64_t DeviceFunction::mapped_bar(int i) const {
  std::lock_guard lock(mu_);
  return i >= 0 && i < PciConfigSpace::kNumBars ? mapped_[static_cast<size_t>(i)] : 0;
}

DeviceFunction::LineRoute DeviceFunction::line_route() const {
  std::lock_guard lock(mu_);
  return line_route_;
}

void DeviceFunction::Warn(const std::string& what) {
  if (warnings_++ < 16) spdlog::warn("{}: {}", spec_.name, what);
}

void DeviceFunction::RemapBars() {
  for (int i = 0; i < PciConfigSpace::kNumBars; ++i) {
    const PciBar& bar = config_.bar(i);
    if (bar.size == 0) continue;
    const bool decoded = bar.io ? config_.io_enabled() : config_.memory_enabled();
    const uint64_t want = decoded && regions_ ? config_.BarAddress(i) : 0;
    if (want == mapped_[static_cast<size_t>(i)]) continue;
    if (mapped_[static_cast<size_t>(i)] != 0) UnmapBar(i);
    if (want != 0) MapBar(i, want);
  }
}

void DeviceFunction::MapBar(int i, uint64_t address) {
  const PciBar& bar = config_.bar(i);
  if (address + bar.size < address) return Warn(fmt::format("BAR {} at {:#x} wraps", i, address));
  std::shared_ptr<BusDevice> device;
  if (msix_ && i == spec_.msix_bar) {
    device = std::make_shared<MsixBar>(shared_from_this(), spec_.msix_table_offset,
                                       spec_.msix_pba_offset);
  } else {
    device = regions_(bar.io ? AccessSpace::kPio : AccessSpace::kMmio, static_cast<uint8_t>(i));
  }
  if (auto s = platform_.MapBar(bar.io, address, bar.size, device, spec_.name); !s) {
    // Another range is there (a guest placing BARs on top of each other):
    // the BAR stays unmapped, the guest's accesses to it hit nothing.
    return Warn(fmt::format("BAR {} not mapped: {}", i, s.error().message));
  }
  mapped_[static_cast<size_t>(i)] = address;
  if (i != spec_.doorbell_bar) return;
  for (size_t q = 0; q < doorbells_.size(); ++q) {
    const uint64_t at = address + spec_.doorbell_offset + q * spec_.doorbell_stride;
    if (auto s = platform_.AddDoorbell(doorbells_[q], at, spec_.doorbell_width); !s) {
      // The device still hears the kick: the write then exits and reaches it
      // on the exit ring.
      Warn(fmt::format("doorbell {} stays on the exit path: {}", q, s.error().message));
    }
  }
}

void DeviceFunction::UnmapBar(int i) {
  const uint64_t address = mapped_[static_cast<size_t>(i)];
  if (i == spec_.doorbell_bar) {
    for (size_t q = 0; q < doorbells_.size(); ++q) {
      const uint64_t at = address + spec_.doorbell_offset + q * spec_.doorbell_stride;
      (void)platform_.RemoveDoorbell(doorbells_[q], at, spec_.doorbell_width);
    }
  }
  if (auto s = platform_.UnmapBar(config_.bar(i).io, address); !s) Warn(s.error().message);
  mapped_[static_cast<size_t>(i)] = 0;
}

void DeviceFunction::SyncInterrupts() {
  bool msix_on = false;
  if (msix_) {
    const uint32_t control = config_.Read(msix_cap_ + kMsixControl, 2);
    msix_on = (control & kMsixEnable) != 0;
    msix_->SetControl(msix_on, (control & kMsixFunctionMask) != 0);
  }
  const bool intx_disabled = (config_.Read(kCommand, 2) & kCommandIntxDisable) != 0;
  LineRoute want = LineRoute::kNone;
  if (msi_cap_ != 0 && (config_.Read(msi_cap_ + kMsiControl, 2) & 1) != 0) {
    want = LineRoute::kMsi;
    const uint64_t address = static_cast<uint64_t>(config_.Read(msi_cap_ + kMsiAddressHi, 4)) << 32 |
                             config_.Read(msi_cap_ + kMsiAddressLo, 4);
    if (auto s = platform_.SetMsiRoute(msi_gsi_, address, config_.Read(msi_cap_ + kMsiData, 2)); !s) {
      Warn(s.error().message);
    }
  } else if (!intx_disabled && !msix_on) {
    want = LineRoute::kIntx;
  }
  if (want == line_route_) return;
  if (line_route_ != LineRoute::kNone) {
    const uint32_t gsi = line_route_ == LineRoute::kMsi ? msi_gsi_ : spec_.intx_gsi;
    if (auto s = platform_.DeassignIrqfd(line_, gsi); !s) return Warn(s.error().message);
    line_route_ = LineRoute::kNone;
  }
  if (want == LineRoute::kNone) return;
  Status s = want == LineRoute::kMsi ? platform_.AssignIrqfd(line_, msi_gsi_, nullptr)
                                     : platform_.AssignIrqfd(line_, spec_.intx_gsi, &line_resample_);
  if (!s) return Warn(s.error().message);
  line_route_ = want;
}

}  // namespace bulkhead
