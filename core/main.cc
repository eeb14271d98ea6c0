// bulkhead: the core process. `bulkhead run` boots a Linux guest with every
// device model in its own sandboxed process. Exit status: 0 when the guest
// powers off (or reboots with --on-reboot=exit, or the user quits from the
// console), 1 on any error, with one line that names it.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <cstdio>
#include <filesystem>

#include "core/api/ctl.h"
#include "core/machine.h"
#include "core/size_parser.h"

namespace {

std::string DefaultDeviceDir() {
  // Installed side by side (/usr/bin), or in the build tree (core/ and devproc/).
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  const auto dir = self.parent_path();
  if (std::filesystem::exists(dir / "bulkhead-serial")) return dir.string();
  return (dir.parent_path() / "devproc").string();
}

int Fail(const bulkhead::Error& e) {
  std::fprintf(stderr, "bulkhead: %s\n", e.message.c_str());
  return 1;
}

// "N/SECONDS" (e.g. 100/60): more than N device restarts within SECONDS fail
// the device. N may be 0 (no restarts); SECONDS must be at least 1.
bool ParseRestartBudget(const std::string& text, bulkhead::RestartPolicy& policy) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return false;
  auto number = [](const std::string& s, unsigned long max, unsigned long& out) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoul(s);
    return out <= max;
  };
  unsigned long n = 0, secs = 0;
  if (!number(text.substr(0, slash), 1000000, n) || !number(text.substr(slash + 1), 86400, secs) ||
      secs == 0) {
    return false;
  }
  policy.max_restarts = static_cast<uint32_t>(n);
  policy.window = std::chrono::seconds(secs);
  return true;
}

int RunVm(const bulkhead::MachineConfig& config, bool restart_on_reboot) {
  for (;;) {
    auto machine = bulkhead::Machine::Create(config);
    if (!machine) {
      std::fprintf(stderr, "bulkhead: %s\n", machine.error().message.c_str());
      return 1;
    }
    std::string why;
    const auto end = (*machine)->Run(&why);
    machine->reset();
    switch (end) {
      case bulkhead::MachineEnd::kPowerOff:
        spdlog::info("guest powered off");
        return 0;
      case bulkhead::MachineEnd::kUserQuit:
        spdlog::info("stopped from the console");
        return 0;
      case bulkhead::MachineEnd::kReboot:
        if (!restart_on_reboot) {
          spdlog::info("guest rebooted ({}); exiting as --on-reboot=exit asks", why);
          return 0;
        }
        spdlog::info("guest rebooted ({}); starting it again", why);
        continue;
      case bulkhead::MachineEnd::kFatal:
        std::fprintf(stderr, "bulkhead: %s\n", why.c_str());
        return 1;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Bulkhead: a KVM VMM with every device in its own sandboxed process"};
  app.require_subcommand(1);
  auto* run = app.add_subcommand("run", "boot a Linux guest");
  bulkhead::MachineConfig config;
  std::string memory = "512M", serial = "stdio", log_level = "info", on_reboot = "restart";
  run->add_option("--kernel", config.kernel_path, "bzImage or PVH vmlinux")->required();
  run->add_option("--initrd", config.initrd_path, "initramfs");
  run->add_option("--cmdline", config.cmdline, "kernel command line")->default_val("console=ttyS0");
  run->add_option("--memory", memory, "guest RAM, e.g. 512M, 2G")->capture_default_str();
  run->add_option("--cpus", config.cpus, "vCPUs")->capture_default_str();
  run->add_option("--serial", serial, "stdio | file:PATH | unix:PATH")->capture_default_str();
  run->add_option("--on-reboot", on_reboot, "restart | exit")
      ->check(CLI::IsMember({"restart", "exit"}))->capture_default_str();
  run->add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  run->add_option("--device-dir", config.device_dir, "where the bulkhead-<kind> device binaries are");
  run->add_option("--kvm", config.kvm_path, "KVM device")->capture_default_str();
  std::string restart_budget;
  run->add_option("--restart-budget", restart_budget,
                  "device restarts tolerated: N/SECONDS (default 10/60)");
  std::string on_device_failure = "stop";
  run->add_option("--on-device-failure", on_device_failure,
                  "a device past its restart budget: stop the VM, or detach the device "
                  "(its registers then read all-ones, like a removed card)")
      ->check(CLI::IsMember({"stop", "detach"}))->capture_default_str();
  std::string net, disk, cdrom;
  run->add_option("--net", net, "virtio-net on a tap: tap=NAME[,mac=MAC]");
  run->add_option("--disk", disk, "AHCI disk: path=FILE[,readonly]");
  run->add_option("--cdrom", cdrom, "AHCI ATAPI CD-ROM: path=ISO");
  run->add_option("--api-socket", config.api_socket,
                  "serve the management API (bulkhead ctl) on this unix socket");

  auto* ctl = app.add_subcommand("ctl", "manage a running VM through its --api-socket");
  bulkhead::ctl::Command ctl_command;
  ctl->add_option("--api-socket", ctl_command.socket, "the VM's API socket")->required();
  ctl->add_flag("--json", ctl_command.json, "print one JSON object");
  // Subcommands inherit this: `ctl --api-socket P devices --json` works too.
  ctl->fallthrough();
  ctl->require_subcommand(1);
  for (const auto& [verb, help] : {std::pair{"status", "uptime, vCPUs, memory, paused or not"},
                                   {"devices", "every device process and its counters"},
                                   {"pause", "stop the vCPUs"},
                                   {"resume", "run the vCPUs again"},
                                   {"poweroff", "end the VM as if the guest powered off"}}) {
    ctl->add_subcommand(verb, help)->callback([&ctl_command, v = std::string(verb)] {
      ctl_command.verb = v;
    });
  }
  auto* restart = ctl->add_subcommand("restart", "kill a device's process; a new one takes over");
  restart->add_option("DEVICE", ctl_command.device, "serial, net, ahci")->required();
  restart->callback([&ctl_command] { ctl_command.verb = "restart"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (ctl->parsed()) {
    const auto out = bulkhead::ctl::Run(ctl_command);
    std::fputs(out.out.c_str(), stdout);
    std::fputs(out.err.c_str(), stderr);
    return out.exit_code;
  }

  // Logs go to stderr: stdout may be the guest's console.
  auto logger = spdlog::stderr_color_mt("bulkhead");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");

  auto size = bulkhead::ParseSize(memory);
  if (!size) {
    std::fprintf(stderr, "bulkhead: --memory: %s\n", size.error().message.c_str());
    return 1;
  }
  config.memory = *size;
  auto console = bulkhead::ConsoleSpec::Parse(serial);
  if (!console) {
    std::fprintf(stderr, "bulkhead: %s\n", console.error().message.c_str());
    return 1;
  }
  config.serial = *console;
  if (!restart_budget.empty() && !ParseRestartBudget(restart_budget, config.restart)) {
    std::fprintf(stderr,
                 "bulkhead: --restart-budget '%s': expected N/SECONDS, e.g. 100/60 (N 0-1000000, "
                 "SECONDS 1-86400)\n",
                 restart_budget.c_str());
    return 1;
  }
  config.detach_failed_devices = on_device_failure == "detach";
  if (!net.empty()) {
    auto n = bulkhead::ParseNetOptions(net);
    if (!n) return Fail(n.error());
    config.net = *n;
  }
  if (!disk.empty()) {
    auto d = bulkhead::ParseDiskOptions(disk, false);
    if (!d) return Fail(d.error());
    config.disk = *d;
  }
  if (!cdrom.empty()) {
    auto d = bulkhead::ParseDiskOptions(cdrom, true);
    if (!d) return Fail(d.error());
    config.cdrom = *d;
  }
  if (config.device_dir.empty()) config.device_dir = DefaultDeviceDir();
  return RunVm(config, on_reboot == "restart");
}
