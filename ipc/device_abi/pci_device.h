// The contract between the core and a device process that is a PCI function.
//
// The core owns the function's configuration space (IDs, BARs, the MSI / MSI-X
// capabilities) and the MSI-X table and PBA; it decides where BARs live, which
// GSI each interrupt uses, and registers doorbells with KVM_IOEVENTFD. The
// device process sees only:
//
//  * Register accesses to its BARs, on its exit rings. The request address is
//    `bar << 48 | offset within the BAR` (core/remote_device.h), so the device
//    never learns or cares where the guest placed a BAR.
//  * Interrupt eventfds (Attachment.irqs). Writing 1 to one raises it; the core
//    decides what that means at the moment of the write:
//      - an MSI-X vector's fd is a KVM irqfd on the vector's MSI route while
//        MSI-X is enabled and the vector unmasked; while masked, the core
//        deassigns it and the count stays in the eventfd (that is the pending
//        bit): unmasking reassigns it and KVM delivers what is pending.
//      - the "line" fd (INTx, or the single MSI of a device without MSI-X) is
//        routed to the MSI route when the guest enabled MSI, else to the
//        function's INTx GSI as a level-triggered irqfd with a resample fd.
//        A device therefore writes the trigger when its interrupt condition
//        becomes true, and again whenever the resample fd fires while the
//        condition still holds (the guest EOIed a line that is still
//        asserted). Under MSI the resample fd never fires, and the same logic
//        sends one message per new event.
//  * Doorbell eventfds (Attachment.doorbells) for virtio notify addresses,
//    registered with KVM_IOEVENTFD by the core while the BAR is decoded.
//    A doorbell write that arrives on the exit ring instead (BAR not yet
//    decoded, or the ioeventfd could not be registered) must be treated as the
//    same kick.
#pragma once

#include <cstdint>

namespace bulkhead::abi {

inline constexpr int kRegionShift = 48;
inline constexpr uint64_t kOffsetMask = (uint64_t{1} << kRegionShift) - 1;

[[nodiscard]] constexpr uint8_t RegionOf(uint64_t address) {
  return static_cast<uint8_t>(address >> kRegionShift);
}
[[nodiscard]] constexpr uint64_t OffsetOf(uint64_t address) { return address & kOffsetMask; }

}  // namespace bulkhead::abi
