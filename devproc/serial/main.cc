// bulkhead-serial: the 16550A device process.
//
// Started by the core (core/device_host.cc) with sandbox Spawn: fd 3 is the
// control socket, stdin /dev/null, stdout/stderr the core's log pipe. It
// serves DeviceControl on fd 3. On attach it maps and checks everything it
// was given, creates its worker thread (the jail allows no new thread), enters
// the jail, and only then lets the worker touch anything the guest controls.
// It exits when the core asks it to or hangs up.
//
// Built twice: the second build (BULKHEAD_TEST_OPENAT_AFTER_JAIL, binary
// bulkhead-serial-openat) opens a file right after jailing, to prove the
// seccomp filter kills a device that tries.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <set>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "devproc/serial/serial_worker.h"
#include "ipc/control.h"
#include "sandbox/jail.h"
#include "sandbox/seccomp_program.h"

namespace bulkhead {
namespace {

constexpr int kControlFd = 3;

// Every fd open now. Used once at start-up, after the control loop exists, to
// learn the fds KJ's event loop holds (epoll, eventfd, signalfd, timerfd):
// the jail must keep them or the control plane dies with the first poll.
std::set<int> OpenFds() {
  std::set<int> fds;
  rlimit nofile{};
  rlim_t limit = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536) limit = nofile.rlim_cur;
  for (int fd = 0; fd < static_cast<int>(limit); ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) fds.insert(fd);
  }
  return fds;
}

class SerialDevice final : public DeviceControlHandler {
 public:
  explicit SerialDevice(std::set<int> loop_fds) : loop_fds_(std::move(loop_fds)) {}

  Status Attach(DeviceAttachment attachment) override {
    if (worker_) return MakeError("already attached");
    auto worker = SerialWorker::Create(std::move(attachment));
    if (!worker) {
      spdlog::error("attach refused: {}", worker.error().message);
      return tl::unexpected(worker.error());
    }
    worker_ = std::move(*worker);

    // Keep-list: ours (control socket, KJ's event loop, the worker's fds)
    // plus whatever else is open now. The process started with 0-3 only, so
    // anything else is a received fd: the copies Cap'n Proto still holds in
    // the attach message (we hold dup()s) and closes itself once the call
    // returns. Closing them under its feet makes that close fail with EBADF,
    // which KJ treats as fatal.
    std::set<int> keep = loop_fds_;
    keep.insert(kControlFd);
    for (int fd : worker_->fds()) keep.insert(fd);
    const size_t ours = keep.size();
    for (int fd : OpenFds()) keep.insert(fd);
    auto program = FindSeccompProgram("serial");
    if (!program) return Fatal("no seccomp program", program.error());
    JailSpec spec;
    spec.keep_fds.assign(keep.begin(), keep.end());
    spec.seccomp = *program;
    if (auto s = EnterJail(spec); !s) return Fatal("entering the jail", s.error());
#ifdef BULKHEAD_TEST_OPENAT_AFTER_JAIL
    // Test build: a compromised device reaching for the file system.
    spdlog::warn("test build: calling openat inside the jail");
    const int fd = ::openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
    spdlog::error("openat inside the jail returned {}: the filter did not kill us", fd);
#endif
    spdlog::info("attached and jailed ({} fds kept, {} of them held by the RPC layer)",
                 keep.size(), keep.size() - ours);
    worker_->Start();
    return {};
  }

  DeviceHealth Health() override {
    if (!worker_) return {};
    const SerialWorkerStats s = worker_->stats();
    return {s.served, s.replayed, s.malformed};
  }

  Status Reset() override {
    if (!worker_) return MakeError("reset before attach");
    return worker_->Reset();
  }

  void Shutdown() override { StopWorker(); }

  void StopWorker() {
    if (worker_) worker_->Stop();
  }

 private:
  // A half-entered jail cannot be undone: leave now, the core sees why.
  [[noreturn]] static Status Fatal(const char* what, const Error& e) {
    spdlog::critical("{}: {}", what, e.message);
    spdlog::shutdown();
    std::_Exit(3);
  }

  std::set<int> loop_fds_;
  std::unique_ptr<SerialWorker> worker_;
};

}  // namespace
}  // namespace bulkhead

int main() {
  using namespace bulkhead;
  // One line per event on stderr, the core's log pipe adds the device name.
  auto logger = spdlog::stderr_logger_mt("serial");
  logger->set_pattern("%l: %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  // A closed console socket must be an error return, not a death.
  std::signal(SIGPIPE, SIG_IGN);

  auto loop = ControlLoop::Create();
  if (!loop) {
    spdlog::critical("control loop: {}", loop.error().message);
    return 1;
  }
  if (::fcntl(kControlFd, F_GETFD) < 0) {
    spdlog::critical("no control socket on fd {}", kControlFd);
    return 1;
  }
  SerialDevice device(OpenFds());
  auto end = ServeDeviceControl(**loop, UniqueFd(kControlFd), device);
  device.StopWorker();
  if (!end) {
    spdlog::error("control: {}", end.error().message);
    return 1;
  }
  spdlog::info(*end == ServeEnd::kShutdown ? "shut down" : "core hung up: exiting");
  return 0;
}
