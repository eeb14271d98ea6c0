#include "devproc/ahci/command.h"

namespace bulkhead::ahci {

CommandOutcome Good(Protocol p, const DeviceSettings& s) {
  CommandOutcome o;
  o.protocol = p;
  o.tf.status = kStsGood;
  o.settings = s;
  return o;
}

CommandOutcome AtaError(Protocol p, uint8_t error, const DeviceSettings& s) {
  CommandOutcome o;
  o.protocol = p;
  o.tf.status = kStsDrdy | kStsErr;
  o.tf.error = error;
  o.settings = s;
  return o;
}

CommandOutcome Signature(uint32_t sig, const DeviceSettings& s) {
  // The signature travels in count/LBA low/mid/high of a D2H register FIS
  // (ATA8-ACS table 184): count 01h, LBA 01h, then 00/00 (disk) or 14/EB
  // (ATAPI). Status: ready for a disk; an ATAPI device leaves DRDY clear.
  CommandOutcome o;
  o.protocol = Protocol::kNonData;
  o.signature = true;
  o.tf.status = sig == kSigAtapi ? 0 : kStsGood;
  o.tf.error = 0x01;  // diagnostic: no error
  o.tf.count = static_cast<uint16_t>(sig & 0xFF);
  o.tf.lba = (sig >> 8) & 0xFFFFFF;
  o.settings = s;
  return o;
}

}  // namespace bulkhead::ahci
