// Console: where the serial port's bytes go and come from, in the core. The
// serial device process only holds one end of a socketpair; the core relays
// between the other end and the backend the user chose:
//   stdio       this terminal (raw mode when it is a tty, restored on exit);
//               Ctrl-] then q stops the VM, every other byte (Ctrl-C too)
//               goes to the guest
//   file:PATH   output appended to PATH, no input
//   unix:PATH   a listening unix socket; one client at a time
// Bytes waiting for a slow or restarting device stay in the socket buffer,
// which the core owns: a device crash loses no console input.
#pragma once

#include <termios.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "ipc/event_fd.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace bulkhead {

struct ConsoleSpec {
  enum class Kind { kStdio, kFile, kUnix };
  Kind kind = Kind::kStdio;
  std::string path;
  // Parses "stdio", "file:PATH" or "unix:PATH".
  [[nodiscard]] static Result<ConsoleSpec> Parse(const std::string& text);
};

class Console {
 public:
  // Opens the backend and returns the console plus the fd for the device.
  [[nodiscard]] static Result<std::unique_ptr<Console>> Open(const ConsoleSpec& spec,
                                                             UniqueFd* device_end);
  ~Console();

  // Starts relaying; `on_quit` runs when the user types the escape sequence.
  void Start(std::function<void()> on_quit);
  void Stop();

 private:
  Console() = default;
  void Relay();
  void RestoreTerminal();

  ConsoleSpec spec_;
  UniqueFd device_;   // the core's end of the socketpair
  UniqueFd in_fd_;    // stdin, or a connected unix client (-1 for file:)
  UniqueFd out_fd_;   // stdout / the file / the client
  UniqueFd listen_fd_;
  std::optional<termios> saved_termios_;
  EventFd stop_;
  std::thread thread_;
  std::function<void()> on_quit_;
};

}  // namespace bulkhead
