#include "devproc/serial/serial_worker.h"

#include <fcntl.h>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "devproc/serial/uart16550.h"
#include "sandbox/jail.h"

namespace bulkhead {
namespace {

constexpr size_t kMaxRings = 256;      // more than any VM's vCPUs; bounds the poll set
constexpr int kBatch = 64;             // requests per ring per pass (fairness between vCPUs)
constexpr uint64_t kMalformedLogLimit = 16;  // a hostile guest must not flood the core's log

class IrqLine final : public InterruptLine {
 public:
  IrqLine(const EventFd& fd, uint64_t& errors, bool& logged)
      : fd_(fd), errors_(errors), logged_(logged) {}
  void Trigger() override {
    if (auto s = fd_.Signal(); !s) {
      ++errors_;
      if (!logged_) {
        logged_ = true;
        spdlog::error("irqfd write failed (IRQ 4 edges may be lost): {}", s.error().message);
      }
    }
  }

 private:
  const EventFd& fd_;
  uint64_t& errors_;
  bool& logged_;
};

// Non-blocking writes to the console socket. sendmsg with MSG_DONTWAIT rather
// than O_NONBLOCK on the fd: the flag would change the core's copy too.
class BackendOutput final : public SerialOutput {
 public:
  BackendOutput(int fd, bool& closed, uint64_t& errors, bool& logged)
      : fd_(fd), closed_(closed), errors_(errors), logged_(logged) {}
  size_t Write(std::span<const uint8_t> bytes) override {
    // Nobody listens: drop the output rather than stall the guest forever.
    if (closed_ || bytes.empty()) return bytes.size();
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    ++errors_;
    if (!logged_) {
      logged_ = true;
      spdlog::error("console backend write failed, output is dropped from now on: {}",
                    std::strerror(errno));
    }
    closed_ = true;
    return bytes.size();
  }

 private:
  int fd_;
  bool& closed_;
  uint64_t& errors_;
  bool& logged_;
};

class NullIrq final : public InterruptLine {
 public:
  void Trigger() override {}
};
class NullOutput final : public SerialOutput {
 public:
  size_t Write(std::span<const uint8_t>) override { return 0; }
};

// recvmsg (the policy allows it, not recvfrom) without blocking.
ssize_t Receive(int fd, uint8_t* buf, size_t len, int flags) {
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return ::recvmsg(fd, &msg, flags | MSG_DONTWAIT);
}

}  // namespace

Result<std::unique_ptr<SerialWorker>> SerialWorker::Create(DeviceAttachment a) {
  if (a.kind != "serial") return MakeError("attach: kind '{}' is not serial", a.kind);
  if (!a.state_region) return MakeError("attach: no state region");
  if (a.rings.empty() || a.rings.size() > kMaxRings) {
    return MakeError("attach: {} rings (need 1 to {})", a.rings.size(), kMaxRings);
  }
  if (a.irqs.size() != 1) return MakeError("attach: {} irqs (need exactly 1)", a.irqs.size());
  if (a.backend.size() != 1) {
    return MakeError("attach: {} backend fds (need exactly 1)", a.backend.size());
  }

  std::unique_ptr<SerialWorker> w(new SerialWorker());
  w->state_fd_ = std::move(*a.state_region);
  if (auto s = w->state_fd_.RequireSeals(); !s) return tl::unexpected(s.error());
  if (w->state_fd_.size() < sizeof(SerialStateRegion)) {
    return MakeError("attach: state region of {} bytes is smaller than {}", w->state_fd_.size(),
                     sizeof(SerialStateRegion));
  }
  auto map = Mapping::Map(w->state_fd_);
  if (!map) return tl::unexpected(map.error());
  w->state_map_ = std::move(*map);
  auto region = w->state_map_.as<SerialStateRegion>(0);
  if (!region) return tl::unexpected(region.error());
  // SAFETY: `as` checked bounds and alignment; the mapping lives as long as
  // the worker, and AttachSerialStateRegion validates every field before use.
  w->region_ = *region;
  const SerialStateRepair repair = AttachSerialStateRegion(*w->region_);
  if (repair.reinitialized) {
    spdlog::info("state region was blank or foreign: UART starts in its power-on state");
  } else if (repair.fields_fixed != 0) {
    spdlog::warn("state region: repaired {} fields left by the previous process",
                 repair.fields_fixed);
  } else {
    spdlog::info("state region: resuming the previous UART state");
  }

  for (auto& r : a.rings) {
    w->fds_.insert(w->fds_.end(), {r.fds.memory.fd(), r.fds.kick.fd(), r.fds.done.fd()});
    auto c = ExitRingConsumer::Attach(std::move(r.fds));
    if (!c) return MakeError("ring of vcpu {}: {}", r.vcpu, c.error().message);
    w->rings_.push_back(std::move(*c));
  }
  w->ring_broken_.assign(w->rings_.size(), false);
  if (a.irqs[0].gsi != 4) spdlog::warn("serial IRQ is GSI {}, not the PC's 4", a.irqs[0].gsi);
  w->irq_ = std::move(a.irqs[0].trigger);

  w->backend_ = std::move(a.backend[0]);
  struct stat st {};
  if (::fstat(w->backend_.get(), &st) != 0) return ErrnoError("attach: fstat backend");
  if (!S_ISSOCK(st.st_mode)) return MakeError("attach: console backend is not a socket");

  auto stop = EventFd::Create(0, EFD_NONBLOCK);
  if (!stop) return tl::unexpected(stop.error());
  w->stop_ = std::move(*stop);
  auto reset = EventFd::Create(0, EFD_NONBLOCK);
  if (!reset) return tl::unexpected(reset.error());
  w->reset_ = std::move(*reset);

  // The thread must exist before the jail; it drops its own capabilities
  // and waits for Start().
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  std::unique_lock lock(w->mu_);
  w->cv_.wait(lock, [&] { return w->caps_dropped_ != 0; });
  if (w->caps_dropped_ < 0) {
    lock.unlock();
    w->Stop();
    return MakeError("worker thread could not drop its capabilities");
  }
  return w;
}

SerialWorker::~SerialWorker() { Stop(); }

std::vector<int> SerialWorker::fds() const {
  std::vector<int> out = fds_;
  out.insert(out.end(), {state_fd_.fd(), irq_.fd(), backend_.get(), stop_.fd(), reset_.fd()});
  return out;
}

void SerialWorker::Start() {
  std::lock_guard lock(mu_);
  started_ = true;
  cv_.notify_all();
}

void SerialWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    abort_start_ = true;
    cv_.notify_all();
  }
  if (stop_.valid()) (void)stop_.Signal();
  if (thread_.joinable()) thread_.join();
}

SerialWorkerStats SerialWorker::stats() const {
  return {served_.load(), replayed_.load(), malformed_.load()};
}

Status SerialWorker::Reset() {
  std::unique_lock lock(mu_);
  const uint64_t target = resets_requested_.fetch_add(1) + 1;
  if (auto s = reset_.Signal(); !s) return tl::unexpected(s.error());
  if (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return resets_done_ >= target; })) {
    return MakeError("serial reset: the worker did not answer within a second");
  }
  return {};
}

void SerialWorker::Serve(size_t ring, const ExitRequest& req) {
  const uint64_t id = SerialRequestId(ring, req.seq);
  const SerialSlot& committed = CommittedSlot(*region_);
  uint64_t reply = 0;
  if (committed.applied_seq == id) {
    // The previous process applied it and died before completing it.
    reply = committed.reply;
    replayed_.fetch_add(1, std::memory_order_relaxed);
  } else if (req.space != AccessSpace::kPio || req.size != 1 || (req.addr >> 3) != 0) {
    // Not a register of this UART: a core bus bug or a corrupted ring.
    const uint64_t n = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= kMalformedLogLimit) {
      spdlog::warn("malformed request on ring {}: space {} size {} addr {:#x}{}", ring,
                   static_cast<int>(req.space), req.size, req.addr,
                   n == kMalformedLogLimit ? " (not logging further ones)" : "");
    }
    reply = req.is_write ? 0 : ~uint64_t{0};
  } else {
    SerialState& s = BeginAccess(*region_);
    IrqLine irq(irq_, irq_errors_, irq_error_logged_);
    BackendOutput out(backend_.get(), backend_closed_, output_errors_, backend_error_logged_);
    Uart16550 uart(s, irq, out);
    const auto offset = static_cast<uint8_t>(req.addr & 0x7);
    if (req.is_write) {
      uart.Write(offset, static_cast<uint8_t>(req.data & 0xFF));
    } else {
      reply = uart.Read(offset);
    }
    CommitAccess(*region_, id, reply);
    served_.fetch_add(1, std::memory_order_relaxed);
  }
  if (auto s = rings_[ring].Complete(reply); !s) {
    spdlog::error("ring {}: complete failed, ring abandoned: {}", ring, s.error().message);
    ring_broken_[ring] = true;
  }
#ifdef BULKHEAD_TEST_OPENAT_ON_SCRATCH_EB
  // Test build: a compromised device reaching for the file system while the
  // guest runs — after the write that triggers it is complete, so a
  // successor does not replay it.
  if (req.is_write && req.space == AccessSpace::kPio && (req.addr & 0x7) == 7 && (req.data & 0xFF) == 0xEB) {
    spdlog::warn("test build: the guest wrote 0xEB to the scratch register; calling openat");
    const int fd = ::openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
    spdlog::error("openat inside the jail returned {}: the filter did not kill us", fd);
  }
#endif
}

bool SerialWorker::ServeRing(size_t i) {
  for (int n = 0; n < kBatch && !ring_broken_[i]; ++n) {
    auto r = rings_[i].Peek();
    if (!r) {
      // The ring rejected the entry: skip it (a read gets all-ones).
      const uint64_t m = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (m <= kMalformedLogLimit) spdlog::warn("ring {}: {}", i, r.error().message);
      if (auto s = rings_[i].Complete(~uint64_t{0}); !s) {
        spdlog::error("ring {} is corrupted, abandoned: {}", i, s.error().message);
        ring_broken_[i] = true;
      }
      continue;
    }
    if (!*r) return false;
    Serve(i, **r);
  }
  return !ring_broken_[i];  // batch used up: there may be more
}

template <class F>
void SerialWorker::HostChange(F&& change) {
  const SerialSlot& committed = CommittedSlot(*region_);
  const uint64_t id = committed.applied_seq;
  const uint64_t reply = committed.reply;
  SerialState& s = BeginAccess(*region_);
  IrqLine irq(irq_, irq_errors_, irq_error_logged_);
  BackendOutput out(backend_.get(), backend_closed_, output_errors_, backend_error_logged_);
  Uart16550 uart(s, irq, out);
  change(uart, s);
  CommitAccess(*region_, id, reply);
}

void SerialWorker::ReadInput() {
  // Peek first, take from the socket only what the FIFO accepted: a crash in
  // between repeats input bytes at worst, it never loses one.
  uint8_t buf[kSerialFifoCapacity];
  const ssize_t n = Receive(backend_.get(), buf, sizeof buf, MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    spdlog::error("console backend read failed, input stops: {}", std::strerror(errno));
    backend_closed_ = true;
    return;
  }
  if (n == 0) {
    spdlog::info("console backend closed");
    backend_closed_ = true;
    return;
  }
  size_t taken = 0;
  HostChange([&](Uart16550& u, SerialState&) { taken = u.EnqueueInput({buf, static_cast<size_t>(n)}); });
  if (taken > 0 && Receive(backend_.get(), buf, taken, 0) != static_cast<ssize_t>(taken)) {
    // Only this process reads the socket, so the peeked bytes are still first.
    spdlog::error("console backend: could not consume {} peeked bytes", taken);
    backend_closed_ = true;
  }
}

void SerialWorker::Run() {
  // capset and the bounding set are per thread: EnterJail in the main thread
  // would leave this one with every capability of the device's namespace.
  Status dropped = DropAllCapabilities();
  if (dropped && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    dropped = ErrnoError("PR_SET_NO_NEW_PRIVS");
  }
  if (!dropped) spdlog::error("worker: {}", dropped.error().message);
  {
    std::unique_lock lock(mu_);
    caps_dropped_ = dropped ? 1 : -1;
    cv_.notify_all();
    cv_.wait(lock, [&] { return started_ || abort_start_; });
    if (!started_ || !dropped) return;
  }
  spdlog::info("serving {} ring(s)", rings_.size());

  // The previous process may have died between deciding on an edge and
  // writing the irqfd.
  HostChange([](Uart16550& u, SerialState&) { u.Resume(); });

  const size_t n = rings_.size();
  std::vector<pollfd> pfds(n + 3);
  std::vector<bool> armed(n);
  bool backend_hup = false;
  for (;;) {
    bool work = false;
    for (size_t i = 0; i < n; ++i) {
      if (!ring_broken_[i] && ServeRing(i)) work = true;
    }

    NullIrq null_irq;
    NullOutput null_out;
    SerialState snapshot = CommittedSlot(*region_).state;
    Uart16550 view(snapshot, null_irq, null_out);
    const bool want_in = !backend_closed_ && view.RxFifoHasRoom();
    const bool want_out = !backend_closed_ && view.TxPending();

    for (size_t i = 0; i < n; ++i) {
      armed[i] = false;
      pfds[i] = {-1, POLLIN, 0};
      if (ring_broken_[i]) continue;
      pfds[i].fd = rings_[i].kick().fd();
      if (work) continue;
      auto a = rings_[i].ArmSleep();
      if (!a) {
        spdlog::error("ring {} is corrupted, abandoned: {}", i, a.error().message);
        ring_broken_[i] = true;
        pfds[i].fd = -1;
      } else if (*a) {
        work = true;  // something arrived: do not sleep
      } else {
        armed[i] = true;
      }
    }
    const short backend_events =
        static_cast<short>((want_in ? POLLIN : 0) | (want_out ? POLLOUT : 0));
    // After a hang-up poll reports POLLHUP whatever we ask: only look at the
    // socket when there is something to do with it, or the loop would spin.
    const bool poll_backend = !backend_closed_ && (!backend_hup || backend_events != 0);
    pfds[n] = {poll_backend ? backend_.get() : -1, backend_events, 0};
    pfds[n + 1] = {stop_.fd(), POLLIN, 0};
    pfds[n + 2] = {reset_.fd(), POLLIN, 0};

    const int rc = ::poll(pfds.data(), pfds.size(), work ? 0 : -1);
    for (size_t i = 0; i < n; ++i) {
      if (armed[i]) rings_[i].DisarmSleep();
    }
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll failed: {}", std::strerror(errno));
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      if (pfds[i].revents & POLLIN) (void)rings_[i].kick().TryConsume();
    }
    if (pfds[n + 1].revents) break;
    if (pfds[n + 2].revents) {
      (void)reset_.TryConsume();
      HostChange([](Uart16550&, SerialState& s) { ResetSerialState(s); });
      std::lock_guard lock(mu_);
      resets_done_ = resets_requested_.load();
      cv_.notify_all();
    }
    const short rev = pfds[n].revents;
    if (rev & POLLNVAL) {
      spdlog::error("console backend fd is invalid, dropping it");
      backend_closed_ = true;
    }
    if (rev & (POLLHUP | POLLERR)) backend_hup = true;
    if (want_in && (rev & (POLLIN | POLLHUP | POLLERR))) ReadInput();
    if (want_out && !backend_closed_ && (rev & (POLLOUT | POLLHUP | POLLERR))) {
      HostChange([](Uart16550& u, SerialState&) { u.DrainTx(); });
    }
  }
  spdlog::info("stopping: served {}, replayed {}, malformed {}, output errors {}, irq errors {}",
               served_.load(), replayed_.load(), malformed_.load(), output_errors_, irq_errors_);
}

}  // namespace bulkhead
