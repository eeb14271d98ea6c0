// EventFd: RAII owner of one Linux eventfd, the wake-up primitive between the
// core and device processes (exit-ring kicks, virtio doorbells via
// KVM_IOEVENTFD, interrupts via KVM_IRQFD).
//
// Every wait goes through poll(2) before read(2), so the same code works on a
// blocking or a non-blocking fd. That matters because O_NONBLOCK lives in the
// open file description, which a received fd shares with the sender: we never
// flip it, we only ever read after poll said the counter is non-zero.
//
// An EventFd is meant to have ONE reader at a time (the usual case: the kick
// fd of a ring is read by its consumer only). With two readers on a blocking
// fd, one could be woken by poll, lose the race and block in read.
#pragma once

#include <sys/eventfd.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

class EventFd {
 public:
  // eventfd2(initval, flags); EFD_CLOEXEC is always added so that an fd only
  // reaches a device process when it is passed on purpose.
  [[nodiscard]] static Result<EventFd> Create(unsigned int initval = 0, int flags = 0);

  // Takes ownership of an fd received from elsewhere (e.g. over the control
  // socket). The sender is not trusted: checks that the fd is an anonymous
  // inode (not a file, pipe, socket or device). See event_fd.cc for why the
  // exact anon-inode kind cannot be checked inside a jail.
  [[nodiscard]] static Result<EventFd> Adopt(UniqueFd fd);

  EventFd() = default;
  EventFd(EventFd&&) noexcept = default;
  EventFd& operator=(EventFd&&) noexcept = default;

  // Adds n to the counter, waking a waiter. n must be > 0 and below 2^64-1.
  [[nodiscard]] Status Signal(uint64_t n = 1) const;

  // Blocks until the counter is non-zero, then reads and returns it (the
  // counter is reset to 0; with EFD_SEMAPHORE it is decremented by 1).
  [[nodiscard]] Result<uint64_t> Wait() const;

  // Like Wait() but gives up after `timeout`; returns nullopt on timeout.
  [[nodiscard]] Result<std::optional<uint64_t>> WaitFor(std::chrono::milliseconds timeout) const;

  // Never blocks: returns the counter value consumed, or 0 if it was 0.
  [[nodiscard]] Result<uint64_t> TryConsume() const;

  // A second fd for the same eventfd (e.g. one copy for the producer, one to
  // pass to the device).
  [[nodiscard]] Result<EventFd> Dup() const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }
  // Gives up ownership (for handing the fd to an API that takes it over).
  [[nodiscard]] UniqueFd release() noexcept { return std::move(fd_); }

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  // poll() for POLLIN with timeout_ms (-1 = forever); true when readable.
  [[nodiscard]] Result<bool> PollReadable(int timeout_ms) const;
  // read() after poll said readable; nullopt if another reader won (EAGAIN).
  [[nodiscard]] Result<std::optional<uint64_t>> ReadCounter() const;

  UniqueFd fd_;
};

}  // namespace bulkhead
