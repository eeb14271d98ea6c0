#include "core/backends/device_options.h"

#include <net/if.h>

#include <charconv>
#include <vector>

namespace bulkhead {
namespace {

// "k=v,k=v,flag" → (key, value) pairs; a flag has an empty value.
std::vector<std::pair<std::string_view, std::string_view>> SplitOptions(std::string_view text) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(item, std::string_view{});
    } else {
      out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
  }
  return out;
}

}  // namespace

Result<MacAddress> ParseMac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) return MakeError("MAC address '{}' is not of the form 52:54:00:12:34:56", text);
  for (size_t i = 0; i < 6; ++i) {
    const std::string_view pair = text.substr(i * 3, 2);
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') {
      return MakeError("MAC address '{}' is not of the form 52:54:00:12:34:56", text);
    }
    auto [end, ec] = std::from_chars(pair.data(), pair.data() + 2, mac[i], 16);
    if (ec != std::errc() || end != pair.data() + 2) {
      return MakeError("MAC address '{}' is not of the form 52:54:00:12:34:56", text);
    }
  }
  if (mac[0] & 1) return MakeError("MAC address '{}' is a multicast address", text);
  return mac;
}

Result<NetOptions> ParseNetOptions(std::string_view text) {
  NetOptions net;
  bool have_tap = false;
  for (auto [key, value] : SplitOptions(text)) {
    if (key == "tap") {
      if (value.empty() || value.size() >= IFNAMSIZ || value.find('/') != std::string_view::npos) {
        return MakeError("--net: tap name '{}' is not a valid interface name (1-{} characters)",
                         value, IFNAMSIZ - 1);
      }
      net.tap = std::string(value);
      have_tap = true;
    } else if (key == "mac") {
      auto mac = ParseMac(value);
      if (!mac) return MakeError("--net: {}", mac.error().message);
      net.mac = *mac;
    } else {
      return MakeError("--net: unknown option '{}' (tap=NAME[,mac=MAC])", key);
    }
  }
  if (!have_tap) return MakeError("--net: tap=NAME is required");
  return net;
}

Result<DiskOptions> ParseDiskOptions(std::string_view text, bool cdrom) {
  const char* flag = cdrom ? "--cdrom" : "--disk";
  DiskOptions disk;
  disk.readonly = cdrom;
  for (auto [key, value] : SplitOptions(text)) {
    if (key == "path" && !value.empty()) {
      disk.path = std::string(value);
    } else if (key == "readonly" && !cdrom && value.empty()) {
      disk.readonly = true;
    } else {
      return MakeError("{}: bad option '{}' ({})", flag, key,
                       cdrom ? "path=ISO" : "path=FILE[,readonly]");
    }
  }
  if (disk.path.empty()) return MakeError("{}: path=FILE is required", flag);
  return disk;
}

}  // namespace bulkhead
