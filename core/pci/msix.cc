#include "core/pci/msix.h"

#include <poll.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace bulkhead {

Result<std::unique_ptr<MsixVectors>> MsixVectors::Create(PciPlatform& platform, std::string name,
                                                         uint16_t count) {
  if (count == 0 || count > kMaxVectors) return MakeError("{}: {} MSI-X vectors", name, count);
  std::unique_ptr<MsixVectors> m(new MsixVectors(platform, std::move(name)));
  m->vectors_.resize(count);
  for (auto& v : m->vectors_) {
    auto gsi = platform.AllocateMsiGsi();
    if (!gsi) return tl::unexpected(gsi.error());
    v.gsi = *gsi;
    auto efd = EventFd::Create(0, EFD_NONBLOCK);
    if (!efd) return tl::unexpected(efd.error());
    v.trigger = std::move(*efd);
  }
  return m;
}

Result<std::vector<IrqAttachment>> MsixVectors::DeviceIrqs() const {
  std::lock_guard lock(mu_);
  std::vector<IrqAttachment> out;
  for (const auto& v : vectors_) {
    auto d = v.trigger.Dup();
    if (!d) return tl::unexpected(d.error());
    out.push_back({v.gsi, std::move(*d), std::nullopt});
  }
  return out;
}

bool MsixVectors::enabled() const {
  std::lock_guard lock(mu_);
  return enabled_;
}

bool MsixVectors::assigned(uint16_t vector) const {
  std::lock_guard lock(mu_);
  return vector < vectors_.size() && vectors_[vector].assigned;
}

void MsixVectors::SetControl(bool enabled, bool function_masked) {
  std::lock_guard lock(mu_);
  if (enabled == enabled_ && function_masked == function_masked_) return;
  enabled_ = enabled;
  function_masked_ = function_masked;
  for (size_t i = 0; i < vectors_.size(); ++i) Sync(i);
}

void MsixVectors::Sync(size_t i) {
  Vector& v = vectors_[i];
  const bool want = enabled_ && !function_masked_ && (v.control & 1) == 0;
  Status s;
  if (want) {
    // The route first, so an assignment that fires at once (a pending count)
    // already goes to the right place.
    const uint64_t address = static_cast<uint64_t>(v.address_hi) << 32 | v.address_lo;
    s = platform_.SetMsiRoute(v.gsi, address, v.data);
    if (s && !v.assigned) {
      s = platform_.AssignIrqfd(v.trigger, v.gsi, nullptr);
      if (s) v.assigned = true;
    }
  } else if (v.assigned) {
    s = platform_.DeassignIrqfd(v.trigger, v.gsi);
    if (s) v.assigned = false;
  }
  if (!s && sync_errors_++ < 8) {
    spdlog::warn("{}: MSI-X vector {}: {}", name_, i, s.error().message);
  }
}

bool MsixVectors::Pending(const Vector& v) const {
  // While the irqfd is assigned KVM delivered every count; otherwise a count
  // in the eventfd is an interrupt waiting for the unmask.
  if (v.assigned) return false;
  pollfd p{v.trigger.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void MsixVectors::ReadTable(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  const size_t n = data.size();
  if ((n != 4 && n != 8) || offset % n != 0 || offset / kEntrySize >= vectors_.size()) {
    ++bad_accesses_;
    std::memset(data.data(), 0xFF, n);
    return;
  }
  for (size_t done = 0; done < n; done += 4) {
    const uint64_t o = offset + done;
    const Vector& v = vectors_[o / kEntrySize];
    const uint32_t words[4] = {v.address_lo, v.address_hi, v.data, v.control};
    std::memcpy(data.data() + done, &words[(o % kEntrySize) / 4], 4);
  }
}

void MsixVectors::WriteTable(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  const size_t n = data.size();
  if ((n != 4 && n != 8) || offset % n != 0 || offset / kEntrySize >= vectors_.size()) {
    ++bad_accesses_;
    return;
  }
  const size_t index = offset / kEntrySize;
  Vector& v = vectors_[index];
  for (size_t done = 0; done < n; done += 4) {
    uint32_t w;
    std::memcpy(&w, data.data() + done, 4);
    switch (((offset + done) % kEntrySize) / 4) {
      case 0: v.address_lo = w & ~0x3u; break;  // dword aligned
      case 1: v.address_hi = w; break;
      case 2: v.data = w; break;
      case 3: v.control = w & 1; break;  // only the mask bit is defined
    }
  }
  Sync(index);
}

void MsixVectors::ReadPba(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  const size_t n = data.size();
  if ((n != 4 && n != 8) || offset % n != 0 || offset * 8 >= vectors_.size() + 63) {
    ++bad_accesses_;
    std::memset(data.data(), 0xFF, n);
    return;
  }
  uint64_t bits = 0;
  for (size_t b = 0; b < n * 8; ++b) {
    const size_t i = offset * 8 + b;
    if (i < vectors_.size() && Pending(vectors_[i])) bits |= uint64_t{1} << b;
  }
  std::memcpy(data.data(), &bits, n);
}

}  // namespace bulkhead
