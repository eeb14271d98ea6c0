// `bulkhead ctl`: one management command against a running VM's API socket.
// main.cc parses the command line; RunCtl does the rest and returns what to
// print, so the whole command is unit-tested without a child process.
#pragma once

#include <string>

namespace bulkhead::ctl {

struct Command {
  std::string socket;  // --api-socket PATH
  std::string verb;    // status | devices | restart | pause | resume | poweroff
  std::string device;  // restart's DEVICE
  bool json = false;
};

struct Output {
  int exit_code = 0;  // 0 on success, 1 on any error
  std::string out;    // for stdout
  std::string err;    // for stderr: one line "bulkhead ctl: <why>" on error
};

[[nodiscard]] Output Run(const Command& command);

}  // namespace bulkhead::ctl
