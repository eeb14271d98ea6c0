#include "devproc/serial/serial_state_region.h"

#include <cstring>

namespace bulkhead {

namespace {

uint32_t Active(const SerialStateRegion& region) {
  // Acquire pairs with CommitAccess's release store: the slot's bytes written
  // before the flip are visible once the flip is.
  return region.active.load(std::memory_order_acquire) & 1u;
}

}  // namespace

void InitSerialStateRegion(SerialStateRegion& region) {
  region.magic = kSerialRegionMagic;
  region.size = sizeof(SerialStateRegion);
  region.reserved = 0;
  for (SerialSlot& slot : region.slots) {
    slot.applied_seq = 0;
    slot.reply = 0;
    ResetSerialState(slot.state);
  }
  region.active.store(0, std::memory_order_release);
}

SerialStateRepair AttachSerialStateRegion(SerialStateRegion& region) {
  if (region.magic != kSerialRegionMagic || region.size != sizeof(SerialStateRegion)) {
    InitSerialStateRegion(region);
    SerialStateRepair repair;
    repair.reinitialized = true;
    return repair;
  }
  const uint32_t raw = region.active.load(std::memory_order_acquire);
  SerialStateRepair repair = ValidateSerialState(region.slots[raw & 1u].state);
  if (raw > 1) {
    region.active.store(raw & 1u, std::memory_order_release);
    ++repair.fields_fixed;
  }
  return repair;
}

const SerialSlot& CommittedSlot(const SerialStateRegion& region) {
  return region.slots[Active(region)];
}

std::optional<uint64_t> AlreadyApplied(const SerialStateRegion& region, uint64_t seq) {
  const SerialSlot& slot = CommittedSlot(region);
  // seq 0 is "nothing applied yet"; ring seqs only grow, so <= means done.
  if (slot.applied_seq != 0 && seq <= slot.applied_seq) return slot.reply;
  return std::nullopt;
}

SerialState& BeginAccess(SerialStateRegion& region) {
  const uint32_t active = Active(region);
  SerialSlot& scratch = region.slots[active ^ 1u];
  std::memcpy(&scratch.state, &region.slots[active].state, sizeof(SerialState));
  scratch.applied_seq = region.slots[active].applied_seq;
  scratch.reply = region.slots[active].reply;
  return scratch.state;
}

void CommitAccess(SerialStateRegion& region, uint64_t seq, uint64_t reply) {
  const uint32_t active = Active(region);
  SerialSlot& scratch = region.slots[active ^ 1u];
  scratch.applied_seq = seq;
  scratch.reply = reply;
  region.active.store(active ^ 1u, std::memory_order_release);  // the commit point
}

}  // namespace bulkhead
