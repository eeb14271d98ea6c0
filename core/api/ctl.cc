// `bulkhead ctl`: connect, make one call, format the answer.
#include "core/api/ctl.h"

#include <fmt/format.h>

#include "core/api/api_client.h"
#include "core/api/ctl_format.h"
#include "core/api/json.h"

namespace bulkhead::ctl {
namespace {

Output Failed(const Error& e) {
  // One line whatever the message holds.
  return Output{1, "", fmt::format("bulkhead ctl: {}\n", Printable(e.message))};
}

// What an action prints when it worked.
Output Done(const Command& c, std::string_view text) {
  if (c.json) {
    std::string obj = fmt::format(R"({{"ok":true,"command":{})", json::Quote(c.verb));
    if (!c.device.empty()) obj += fmt::format(R"(,"device":{})", json::Quote(c.device));
    return Output{0, obj + "}\n", ""};
  }
  return Output{0, std::string(text) + "\n", ""};
}

Output Act(const Command& c, const bulkhead::Status& st, std::string_view text) {
  if (!st) return Failed(st.error());
  return Done(c, text);
}

}  // namespace

Output Run(const Command& c) {
  if (c.socket.empty()) return Failed(Error{"--api-socket PATH is required", 0});
  auto client = ApiClient::Connect(c.socket);
  if (!client) return Failed(client.error());
  ApiClient& api = **client;

  if (c.verb == "status") {
    auto s = api.Status();
    if (!s) return Failed(s.error());
    return Output{0, c.json ? StatusJson(*s) : StatusText(*s), ""};
  }
  if (c.verb == "devices") {
    auto d = api.Devices();
    if (!d) return Failed(d.error());
    return Output{0, c.json ? DevicesJson(*d) : DevicesText(*d), ""};
  }
  if (c.verb == "restart") {
    if (c.device.empty()) return Failed(Error{"restart: which device?", 0});
    return Act(c, api.RestartDevice(c.device),
               fmt::format("{}: restart requested", Printable(c.device)));
  }
  if (c.verb == "pause") return Act(c, api.Pause(), "paused");
  if (c.verb == "resume") return Act(c, api.Resume(), "resumed");
  if (c.verb == "poweroff") return Act(c, api.PowerOff(), "powering off");
  return Failed(Error{fmt::format("unknown command '{}'", Printable(c.verb)), 0});
}

}  // namespace bulkhead::ctl
