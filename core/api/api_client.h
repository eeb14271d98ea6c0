// ApiClient: the client half of the management API, used by `bulkhead ctl`
// (and tests). Synchronous: each call runs this client's own KJ event loop
// until the answer arrives or the timeout passes, so it must be used on a
// thread that has no other KJ loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/vm_control.h"
#include "ipc/result.h"

namespace bulkhead {

inline constexpr std::chrono::milliseconds kDefaultApiTimeout{5000};

class ApiClient {
 public:
  // Connects to the socket at `path`. Errors are one line: "PATH: No such
  // file or directory", "PATH: Permission denied", ...
  [[nodiscard]] static Result<std::unique_ptr<ApiClient>> Connect(
      const std::string& path, std::chrono::milliseconds timeout = kDefaultApiTimeout);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Errors carry the server's one-line message ("restart: no device named
  // 'x'"), or say the connection failed or timed out.
  [[nodiscard]] Result<VmStatus> Status();
  [[nodiscard]] Result<std::vector<DeviceInfo>> Devices();
  [[nodiscard]] bulkhead::Status RestartDevice(const std::string& name);
  [[nodiscard]] bulkhead::Status Pause();
  [[nodiscard]] bulkhead::Status Resume();
  [[nodiscard]] bulkhead::Status PowerOff();

  struct Impl;

 private:
  explicit ApiClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead
