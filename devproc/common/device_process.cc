#include "devproc/common/device_process.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <set>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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

class Device final : public DeviceControlHandler {
 public:
  Device(std::string kind, DeviceWorkerFactory factory, DeviceProcessOptions options,
         std::set<int> loop_fds)
      : kind_(std::move(kind)),
        factory_(std::move(factory)),
        options_(std::move(options)),
        loop_fds_(std::move(loop_fds)) {}

  Status Attach(DeviceAttachment attachment) override {
    if (worker_) return MakeError("already attached");
    auto worker = factory_(std::move(attachment));
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
    auto program = FindSeccompProgram(kind_);
    if (!program) Fatal("no seccomp program", program.error());
    JailSpec spec;
    spec.keep_fds.assign(keep.begin(), keep.end());
    spec.seccomp = *program;
    spec.max_file_size = worker_->max_file_size();
    if (auto s = EnterJail(spec); !s) Fatal("entering the jail", s.error());
    if (options_.after_jail) options_.after_jail();
    spdlog::info("attached and jailed ({} fds kept, {} of them held by the RPC layer)",
                 keep.size(), keep.size() - ours);
    worker_->Start();
    return {};
  }

  DeviceHealth Health() override { return worker_ ? worker_->Health() : DeviceHealth{}; }

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
  [[noreturn]] static void Fatal(const char* what, const Error& e) {
    spdlog::critical("{}: {}", what, e.message);
    spdlog::shutdown();
    std::_Exit(3);
  }

  std::string kind_;
  DeviceWorkerFactory factory_;
  DeviceProcessOptions options_;
  std::set<int> loop_fds_;
  std::unique_ptr<DeviceWorker> worker_;
};

}  // namespace

int RunDeviceProcess(const char* kind, DeviceWorkerFactory factory, DeviceProcessOptions options) {
  // One line per event on stderr; the core's log pipe adds the device name.
  auto logger = spdlog::stderr_logger_mt(kind);
  logger->set_pattern("%l: %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  // A closed backend socket must be an error return, not a death.
  std::signal(SIGPIPE, SIG_IGN);
  // A write past RLIMIT_FSIZE must fail with EFBIG (an I/O error the device
  // reports), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);

  auto loop = ControlLoop::Create();
  if (!loop) {
    spdlog::critical("control loop: {}", loop.error().message);
    return 1;
  }
  if (::fcntl(kControlFd, F_GETFD) < 0) {
    spdlog::critical("no control socket on fd {}", kControlFd);
    return 1;
  }
  Device device(kind, std::move(factory), std::move(options), OpenFds());
  auto end = ServeDeviceControl(**loop, UniqueFd(kControlFd), device);
  device.StopWorker();
  if (!end) {
    spdlog::error("control: {}", end.error().message);
    return 1;
  }
  spdlog::info(*end == ServeEnd::kShutdown ? "shut down" : "core hung up: exiting");
  return 0;
}

}  // namespace bulkhead
