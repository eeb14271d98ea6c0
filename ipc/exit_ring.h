// ExitRing: forwards the PIO/MMIO accesses of one vCPU to one device process
// through shared memory. One single-producer/single-consumer ring per vCPU
// per device. The producer is the core's vCPU thread, the consumer is the
// device process.
//
// Protocol
//   * Writes are posted: Post() returns once the request is in the ring. FIFO
//     order is kept, and a full ring makes the producer wait for space.
//   * Reads are synchronous: Read() = Submit() + WaitReply(). Only one read can
//     be outstanding, and it is the newest request, so by the time it is
//     answered every earlier posted write has been handled.
//   * The consumer handles the request at `tail`: Peek() it, act on it, then
//     Complete(reply). Complete() writes the reply and only then advances tail.
//
// Wake-ups (eventfds): kick = producer→consumer, done = consumer→producer.
// A side that is about to block stores its "sleeping" flag, then loads the
// peer's index again. The other side stores its index, then loads the flag,
// and signals only if the flag is set. All four accesses are seq_cst, so they
// have one total order: if the publisher read the flag as 0, the sleeper's
// flag store (and so its index load) comes later and sees the new index. No
// wake-up is lost, and a busy side is never kicked. (On x86 this costs one
// xchg per publish; the loads are plain moves. seq_cst operations rather than
// fences, so ThreadSanitizer can check it.) Each side may spin for WaitOptions::spin before it
// sleeps (default 0: on 2 shared cores, spinning costs more than it saves).
//
// Crash safety (at-least-once)
//   The consumer advances tail only after a request is fully handled, so a
//   consumer killed at any instruction leaves its current request (and all
//   later ones) in the ring. A new consumer that attaches to the same memfd and
//   eventfds starts at the stored tail and serves them. A request may
//   therefore be handled twice: once by the dead consumer (its side effects
//   may have happened) and once by its successor. A device that cannot
//   tolerate that records ExitRequest::seq of the last request it applied in
//   its state region (in the same store that applies the effect, or in a
//   journal) and skips a request whose seq it has already applied.
//   A producer waiting on a dead consumer does not hang forever.
//   WaitOptions::timeout and WaitOptions::interrupt (an eventfd, e.g. "device
//   restarted", signalled by the core's supervisor) end the wait with an
//   error (ETIMEDOUT / EINTR) and leave the request pending. Calling
//   WaitReply() (or Post()) again re-kicks the consumer and resumes;
//   AbandonRead() gives the read up instead. An index-corruption error is
//   permanent for a ring: the core replaces the device and its ring.
//
// Trust: the producer is the core, the consumer is untrusted. Both sides
// validate the layout when they attach (magic, version, power-of-two
// capacity, slot size, memfd size and seals), keep their own copy of the
// geometry, and check every index read from the peer (0 <= head - tail <=
// capacity, and tail never moves backwards). A violation is an error, never
// UB. A read reply is truncated to the access size.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "ipc/event_fd.h"
#include "ipc/exit_ring_layout.h"
#include "ipc/result.h"
#include "ipc/shared_memory.h"

namespace bulkhead {

enum class AccessSpace : uint8_t { kPio = 0, kMmio = 1 };

struct ExitRequest {
  AccessSpace space = AccessSpace::kPio;
  uint8_t size = 1;  // 1, 2, 4 or 8 bytes
  bool is_write = false;
  uint64_t addr = 0;
  uint64_t data = 0;  // write data (low `size` bytes); 0 for reads
  uint64_t seq = 0;   // ring index of the request, set by the ring (see dedup above)
};

// The kernel objects of one ring. The core creates them, keeps one set, and
// passes a Dup() to each device process that it spawns for this ring.
struct ExitRingFds {
  MemFd memory;  // sealed against shrink/grow
  EventFd kick;  // producer → consumer
  EventFd done;  // consumer → producer

  [[nodiscard]] Result<ExitRingFds> Dup() const;
};

// Creates a zeroed, initialized, sealed ring. capacity: power of two in
// [1, 65536].
[[nodiscard]] Result<ExitRingFds> CreateExitRing(uint32_t capacity);

struct WaitOptions {
  std::chrono::nanoseconds spin{0};       // busy-poll before sleeping
  std::chrono::milliseconds timeout{-1};  // < 0: wait without limit
  const EventFd* interrupt = nullptr;     // readable → stop waiting (not consumed)
};

enum class WakeReason { kReady, kTimedOut, kInterrupted };

class ExitRingProducer {
 public:
  [[nodiscard]] static Result<ExitRingProducer> Attach(ExitRingFds fds);

  ExitRingProducer(ExitRingProducer&&) noexcept = default;
  ExitRingProducer& operator=(ExitRingProducer&&) noexcept = default;

  // Posts a write (request.is_write must be true); waits only while the ring
  // is full. On a timeout or interrupt nothing was posted (errnum ETIMEDOUT /
  // EINTR). Fails while a read is outstanding.
  [[nodiscard]] Status Post(const ExitRequest& request, const WaitOptions& options = {});

  // Submits a read and waits for its reply.
  [[nodiscard]] Result<uint64_t> Read(AccessSpace space, uint64_t addr, uint8_t size,
                                      const WaitOptions& options = {});

  // The two halves of Read(), so that a wait ended by a timeout or interrupt
  // can be resumed: WaitReply() may be called again until it returns a value.
  [[nodiscard]] Status Submit(AccessSpace space, uint64_t addr, uint8_t size,
                              const WaitOptions& options = {});
  [[nodiscard]] Result<uint64_t> WaitReply(const WaitOptions& options = {});

  // Gives up the outstanding read (after WaitReply() failed and the caller
  // will not resume): the ring accepts new requests again, and the reply, if
  // the consumer ever writes one, is ignored. The request itself stays in the
  // ring and is still handled, in order.
  void AbandonRead() noexcept { pending_read_.reset(); }

  [[nodiscard]] bool read_pending() const noexcept { return pending_read_.has_value(); }
  // Signals the kick eventfd regardless of the sleeping flag (e.g. after the
  // core has started a new consumer).
  [[nodiscard]] Status Rekick() const { return fds_.kick.Signal(); }

 private:
  ExitRingProducer(ExitRingFds fds, Mapping mapping, exit_ring_layout::View view, uint64_t head,
                   uint64_t tail);
  // Waits until at least `free_slots` are free / the request at `index` is
  // done.
  [[nodiscard]] Status WaitForTail(uint64_t min_tail, const WaitOptions& options);
  // Loads tail and checks it against head and the last value seen.
  [[nodiscard]] Result<uint64_t> LoadTail();
  [[nodiscard]] Status Publish(const ExitRequest& request, const WaitOptions& options);

  ExitRingFds fds_;
  Mapping mapping_;
  exit_ring_layout::View view_;
  uint64_t head_ = 0;
  uint64_t last_tail_ = 0;
  std::optional<uint64_t> pending_read_;  // index of the outstanding read
  uint8_t pending_size_ = 0;
  bool rekick_on_wait_ = false;  // the previous wait ended early
};

class ExitRingConsumer {
 public:
  // Validates everything (the producer is not trusted either) and resumes at
  // the stored tail: requests a dead predecessor left are served first.
  [[nodiscard]] static Result<ExitRingConsumer> Attach(ExitRingFds fds);

  ExitRingConsumer(ExitRingConsumer&&) noexcept = default;
  ExitRingConsumer& operator=(ExitRingConsumer&&) noexcept = default;

  // The request at tail, or nullopt if the ring is empty. Peeking again
  // without Complete() returns the same request. A malformed request or
  // corrupted indices yield an error. After a malformed request,
  // Complete() skips it (a read then gets `reply`).
  [[nodiscard]] Result<std::optional<ExitRequest>> Peek();

  // Finishes the request returned (or rejected) by the last Peek(): stores
  // reply (ignored for writes), advances tail, wakes the producer if it
  // sleeps. Fails if there is nothing to complete.
  [[nodiscard]] Status Complete(uint64_t reply = 0);

  // Returns when the ring is non-empty, or on timeout/interrupt.
  [[nodiscard]] Result<WakeReason> WaitForWork(const WaitOptions& options = {});

  // For a device process that waits on several fds in its own poll loop:
  // ArmSleep() sets the sleeping flag and returns true if work is already
  // there (flag cleared again, do not sleep); otherwise poll kick_fd()
  // together with the other fds, then call DisarmSleep() before Peek().
  [[nodiscard]] Result<bool> ArmSleep();
  void DisarmSleep();
  [[nodiscard]] const EventFd& kick() const noexcept { return fds_.kick; }

  [[nodiscard]] uint64_t tail() const noexcept { return tail_; }

 private:
  ExitRingConsumer(ExitRingFds fds, Mapping mapping, exit_ring_layout::View view, uint64_t tail);
  [[nodiscard]] Result<bool> HasWork() const;

  ExitRingFds fds_;
  Mapping mapping_;
  exit_ring_layout::View view_;
  uint64_t tail_ = 0;
  bool peeked_ = false;  // Peek() found an entry at tail_ (valid or not)
};

}  // namespace bulkhead
