// Human and JSON output of `bulkhead ctl`.
#include "core/api/ctl_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/api/json.h"

namespace bulkhead::ctl {

std::string Printable(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

namespace {

std::string HumanBytes(uint64_t bytes) {
  constexpr std::array<const char*, 4> kUnits = {"KiB", "MiB", "GiB", "TiB"};
  std::string best = fmt::format("{} bytes", bytes);
  double v = static_cast<double>(bytes);
  for (const char* unit : kUnits) {
    v /= 1024;
    if (v < 1) break;
    best = fmt::format("{:g} {}", v, unit);
  }
  return best;
}

std::string LastExit(const DeviceInfo& d) {
  std::string s = d.last_exit.empty() ? "-" : Printable(d.last_exit);
  if (!d.blocked_syscall.empty()) s += fmt::format(" (seccomp: {})", Printable(d.blocked_syscall));
  return s;
}

std::string Counters(const DeviceInfo& d) {
  std::string s;
  for (const auto& [name, value] : d.counters) {
    if (!s.empty()) s += ' ';
    s += fmt::format("{}={}", Printable(name), value);
  }
  return s.empty() ? "-" : s;
}

}  // namespace

std::string StatusText(const VmStatus& s) {
  return fmt::format(
      "state:   {}\n"
      "uptime:  {:.1f} s\n"
      "vcpus:   {}\n"
      "memory:  {} ({})\n",
      s.paused ? "paused" : "running", s.uptime_seconds, s.vcpus, HumanBytes(s.memory_bytes),
      s.memory_bytes);
}

std::string StatusJson(const VmStatus& s) {
  return fmt::format(R"({{"paused":{},"uptime_seconds":{},"vcpus":{},"memory_bytes":{}}})"
                     "\n",
                     s.paused, json::Number(s.uptime_seconds), s.vcpus, s.memory_bytes);
}

std::string DevicesText(const std::vector<DeviceInfo>& devices) {
  using Row = std::vector<std::string>;
  std::vector<Row> rows = {{"NAME", "KIND", "PID", "STATE", "RESTARTS", "LAST EXIT",
                            "RECOVERY MS", "SERVED/REPLAYED/MALFORMED", "COUNTERS"}};
  for (const DeviceInfo& d : devices) {
    rows.push_back({Printable(d.name), Printable(d.kind),
                    d.pid < 0 ? "-" : fmt::format("{}", d.pid), Printable(d.state),
                    fmt::format("{}", d.restarts), LastExit(d),
                    d.restarts == 0 ? "-" : fmt::format("{:.1f}", d.last_recovery_ms),
                    fmt::format("{}/{}/{}", d.requests_served, d.requests_replayed,
                                d.malformed_requests),
                    Counters(d)});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      // Two spaces between columns; the last one is not padded.
      out += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    }
    out += '\n';
  }
  return out;
}

std::string DevicesJson(const std::vector<DeviceInfo>& devices) {
  std::string out = R"({"devices":[)";
  for (size_t i = 0; i < devices.size(); ++i) {
    const DeviceInfo& d = devices[i];
    if (i > 0) out += ',';
    out += fmt::format(
        R"({{"name":{},"kind":{},"pid":{},"state":{},"restarts":{},"last_exit":{},)"
        R"("blocked_syscall":{},"last_recovery_ms":{},"requests_served":{},)"
        R"("requests_replayed":{},"malformed_requests":{},"counters":{{)",
        json::Quote(d.name), json::Quote(d.kind), d.pid, json::Quote(d.state), d.restarts,
        json::Quote(d.last_exit), json::Quote(d.blocked_syscall),
        json::Number(d.last_recovery_ms), d.requests_served, d.requests_replayed,
        d.malformed_requests);
    for (size_t k = 0; k < d.counters.size(); ++k) {
      if (k > 0) out += ',';
      out += fmt::format("{}:{}", json::Quote(d.counters[k].first), d.counters[k].second);
    }
    out += "}}";
  }
  out += "]}\n";
  return out;
}

}  // namespace bulkhead::ctl
