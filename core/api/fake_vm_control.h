// A VmControl for the API tests: fixed answers, records every call and the
// thread it came on, refuses what a real VM would refuse.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/vm_control.h"

namespace bulkhead::testing {

class FakeVmControl : public VmControl {
 public:
  VmStatus GetStatus() override {
    Record("status");
    std::lock_guard lock(mu);
    return VmStatus{paused, 12.25, 2, 512ull << 20};
  }

  std::vector<DeviceInfo> Devices() override {
    Record("devices");
    DeviceInfo serial{"serial", "serial", 4242, "running", 0, "", "", 0, 1500, 0, 0,
                      {{"tx_bytes", 1234}, {"rx_bytes", 56}}};
    DeviceInfo net{"net", "virtio-net", -1, "restarting", 2,
                   "killed by SIGSYS (Bad system call)", "openat (257)", 3.5, 10, 3, 1,
                   {{"rx_frames", 7}}};
    return {serial, net};
  }

  bulkhead::Status RestartDevice(const std::string& name) override {
    Record("restart " + name);
    if (name != "serial" && name != "net") return MakeError("no device named '{}'", name);
    return {};
  }

  bulkhead::Status Pause() override {
    Record("pause");
    std::lock_guard lock(mu);
    if (paused) return MakeError("already paused");
    paused = true;
    return {};
  }

  bulkhead::Status Resume() override {
    Record("resume");
    std::lock_guard lock(mu);
    if (!paused) return MakeError("not paused");
    paused = false;
    return {};
  }

  bulkhead::Status PowerOff() override {
    Record("poweroff");
    return {};
  }

  std::vector<std::string> Calls() {
    std::lock_guard lock(mu);
    return calls;
  }

  std::mutex mu;
  bool paused = false;
  std::vector<std::string> calls;
  std::set<std::thread::id> threads;  // every thread that called in
  std::atomic<int> in_call{0};
  std::atomic<bool> overlapped{false};  // two calls at once: the server must serialize

 private:
  void Record(std::string what) {
    if (in_call.fetch_add(1) != 0) overlapped = true;
    {
      std::lock_guard lock(mu);
      calls.push_back(std::move(what));
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::yield();
    in_call.fetch_sub(1);
  }
};

// A fresh directory for the socket, removed with everything in it.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/bulkhead-api-XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

}  // namespace bulkhead::testing
