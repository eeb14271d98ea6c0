// The core's side of a device's stdout/stderr pipe (Child::stderr_pipe):
// splits what the device writes into lines and logs each one with the
// device's name, so device processes can simply log with spdlog to stderr.
//
// Everything read here is device-controlled: lines are capped in length,
// non-printable bytes are escaped before they reach the core's log, and a
// death note line (sandbox/death_note.h) is remembered for the exit report.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "sandbox/death_note.h"

namespace bulkhead {

// Splits a byte stream into lines of at most max_line bytes (longer lines
// are cut into pieces, so a device cannot make the core buffer without end).
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 1024) : max_line_(max_line) {}
  void Feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);
  // Emits a last unterminated line, if any (at EOF).
  void Flush(const std::function<void(std::string_view)>& on_line);

 private:
  size_t max_line_;
  std::string partial_;
};

class DeviceLog {
 public:
  // `sink` receives each sanitized line; by default it goes to spdlog as
  // "[name] line".
  using Sink = std::function<void(std::string_view name, std::string_view line)>;
  explicit DeviceLog(std::string name, Sink sink = {});

  // Reads what is available on `pipe` (which should be O_NONBLOCK when used
  // from an event loop) and logs complete lines. Returns false at EOF.
  [[nodiscard]] Result<bool> ReadFrom(const UniqueFd& pipe);

  // The last death note the device wrote, if any.
  [[nodiscard]] const std::optional<BlockedSyscall>& blocked_syscall() const { return blocked_; }

 private:
  void OnLine(std::string_view line);

  std::string name_;
  Sink sink_;
  LineSplitter splitter_;
  std::optional<BlockedSyscall> blocked_;
};

}  // namespace bulkhead
