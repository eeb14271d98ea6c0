// AhciController: the AHCI 1.3 HBA as a state machine over AhciStateRegion.
//
// Two threads use it (ahci_worker.h):
//  * the ring thread calls Read/Write for the guest's register accesses. A
//    write to PxCI copies each newly issued slot's command header and command
//    FIS from guest memory into the journal and queues a WorkItem; it never
//    waits for disk I/O, so the vCPU's posted write costs microseconds;
//  * the I/O thread takes WorkItems (WaitForWork) and Executes them: PRDT,
//    the device's command (backend I/O into guest buffers), then completion
//    under the lock: FISes, PxTFD, PxIS, PxCI/PxSACT, the interrupt.
// One process-local mutex orders them; nothing in the region is locked (a
// dead process must not leave a lock behind).
//
// Files: hba.cc (generic host control, interrupt, queue, recovery), port.cc
// (port registers: PxCMD, COMRESET, issuing), completion.cc (Execute and
// completing a command).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "devproc/ahci/ahci_state.h"
#include "devproc/ahci/command.h"
#include "devproc/common/guest_memory.h"

namespace bulkhead::ahci {

// The "line" interrupt of the contract (ipc/device_abi/pci_device.h).
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void Raise() = 0;
};

struct WorkItem {
  uint32_t port = 0;
  uint32_t slot = 0;
  uint32_t generation = 0;
};

struct ControllerStats {
  uint64_t bad_accesses = 0;     // unknown offsets, bad widths, writes to read-only registers
  uint64_t commands = 0;         // completed
  uint64_t command_errors = 0;   // completed with ERR
  uint64_t host_bus_errors = 0;  // command list / table / PRDT / FIS area outside RAM
  uint64_t cancelled = 0;        // finished after the port stopped: dropped
  uint64_t replayed_writes = 0;  // register writes a dead predecessor had applied
};

class AhciController {
 public:
  AhciController(AhciStateRegion& region, const GuestMemory& mem, DiskDevice disk,
                 CdromDevice cdrom, uint32_t config_flags, InterruptSink& irq);

  // A register access at `offset` in the ABAR. Only aligned 32-bit accesses
  // reach registers; anything else is counted, reads 0 and writes nothing.
  [[nodiscard]] uint32_t Read(uint64_t offset, uint8_t size);
  void Write(uint64_t offset, uint8_t size, uint64_t value);
  // The same write coming from exit ring `ring` with sequence number `seq`:
  // applied unless the region records it as applied already (a replay after
  // a restart). Returns false for a replay.
  bool WriteOnce(uint32_t ring, uint64_t seq, uint64_t offset, uint8_t size, uint64_t value);

  // The I/O side. WaitForWork blocks until a command is queued or Shutdown().
  [[nodiscard]] std::optional<WorkItem> WaitForWork();
  // Non-blocking: everything queued now (tests run commands in any order).
  [[nodiscard]] std::vector<WorkItem> TakeWork();
  void Execute(const WorkItem& item);
  void Shutdown();

  // The resample fd fired (the guest EOIed the line): raise it again if the
  // condition still holds.
  void Resample();
  // After attaching to a region a previous process left: queue every slot in
  // flight and re-raise a pending interrupt. Returns the number of commands.
  size_t Recover();
  // Machine reset: the HBA's power-on state.
  void Reset();

  [[nodiscard]] ControllerStats stats() const;

 private:
  // All below: called with mu_ held.
  uint32_t ReadLocked(uint32_t offset);
  void WriteLocked(uint32_t offset, uint32_t value);
  uint32_t ReadPort(uint32_t port, uint32_t reg) const;
  void WritePort(uint32_t port, uint32_t reg, uint32_t value);
  void WritePortCmd(uint32_t port, uint32_t value);
  void WritePortSctl(uint32_t port, uint32_t value);
  void Issue(uint32_t port, uint32_t bits);
  // Stops everything in flight on a port (ST cleared, COMRESET, reset).
  void CancelPort(uint32_t port);
  // The device behind the port answers a reset with its signature.
  void SendSignature(uint32_t port);
  void FailSlot(uint32_t port, uint32_t slot, uint32_t is_bits);
  void Complete(const WorkItem& item, const CommandOutcome& o, bool ncq, bool prd_interrupt);
  // Raises the line when an enabled port interrupt is pending and either it
  // was not raised yet or `new_event` (a newly set enabled PxIS bit: under
  // MSI every event needs its own message).
  void UpdateIrq(bool new_event);
  [[nodiscard]] bool IrqPending() const;
  [[nodiscard]] uint64_t FisBase(uint32_t port) const;
  [[nodiscard]] uint64_t ClBase(uint32_t port) const;

  AhciStateRegion& r_;
  const GuestMemory& mem_;
  DiskDevice disk_;
  CdromDevice cdrom_;
  uint32_t config_flags_;
  InterruptSink& irq_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WorkItem> queue_;
  bool shutdown_ = false;
  ControllerStats stats_;
};

}  // namespace bulkhead::ahci
