// A minimal MC146818 CMOS RTC at ports 0x70/0x71: the wall-clock time in
// binary 24-hour mode (register B = 0x06), update-in-progress never set, and
// the 50 bytes of CMOS RAM. Linux reads the time at boot; without an RTC it
// loops on the UIP bit and then gives up, leaving the guest in 1970.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>

#include "core/bus.h"

namespace bulkhead {

class CmosRtc : public BusDevice {
 public:
  // `now` is injectable for tests.
  explicit CmosRtc(std::function<time_t()> now = [] { return ::time(nullptr); }) : now_(std::move(now)) {}
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint8_t ReadRegister(uint8_t reg);

  std::function<time_t()> now_;
  std::mutex mu_;
  uint8_t index_ = 0;
  std::array<uint8_t, 128> ram_{};
};

}  // namespace bulkhead
