#include "core/kvm/msi_routes.h"

#include <vector>

namespace bulkhead::kvm {

Result<uint32_t> MsiRoutes::Allocate() {
  std::lock_guard lock(mu_);
  if (next_ > kLastGsi) return MakeError("out of MSI GSIs ({} in use)", kLastGsi - kFirstGsi + 1);
  return next_++;
}

Status MsiRoutes::Set(uint32_t gsi, uint64_t address, uint32_t data) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(gsi);
  if (it != routes_.end() && it->second.address == address && it->second.data == data) return {};
  routes_[gsi] = MsiRoute{gsi, address, data};
  std::vector<MsiRoute> all;
  all.reserve(routes_.size());
  for (const auto& [g, r] : routes_) all.push_back(r);
  return vm_.SetMsiRoutes(all);
}

}  // namespace bulkhead::kvm
