#include "sandbox/device_log.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace bulkhead {
namespace {

std::string Sanitize(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (unsigned char c : line) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c != '\r') {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

}  // namespace

void LineSplitter::Feed(std::string_view bytes,
                        const std::function<void(std::string_view)>& on_line) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const size_t take =
        std::min(nl == std::string_view::npos ? bytes.size() : nl, max_line_ - partial_.size());
    partial_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    const bool newline = !bytes.empty() && bytes.front() == '\n';
    if (newline) bytes.remove_prefix(1);
    if (newline || partial_.size() >= max_line_) {
      on_line(partial_);
      partial_.clear();
    }
  }
}

void LineSplitter::Flush(const std::function<void(std::string_view)>& on_line) {
  if (!partial_.empty()) on_line(partial_);
  partial_.clear();
}

DeviceLog::DeviceLog(std::string name, Sink sink) : name_(std::move(name)), sink_(std::move(sink)) {
  if (!sink_) {
    sink_ = [](std::string_view name, std::string_view line) {
      spdlog::info("[{}] {}", name, line);
    };
  }
}

void DeviceLog::OnLine(std::string_view line) {
  if (auto note = ParseDeathNoteLine(line)) blocked_ = note;
  sink_(name_, Sanitize(line));
}

Result<bool> DeviceLog::ReadFrom(const UniqueFd& pipe) {
  auto on_line = [this](std::string_view line) { OnLine(line); };
  char buf[4096];
  for (;;) {
    const ssize_t n = read(pipe.get(), buf, sizeof buf);
    if (n > 0) {
      splitter_.Feed(std::string_view(buf, static_cast<size_t>(n)), on_line);
      continue;
    }
    if (n == 0) {
      splitter_.Flush(on_line);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    return ErrnoError("reading the log pipe of {}", name_);
  }
}

}  // namespace bulkhead
