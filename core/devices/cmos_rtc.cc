#include "core/devices/cmos_rtc.h"

namespace bulkhead {
namespace {
constexpr uint8_t kRegA = 0x0A, kRegB = 0x0B, kRegC = 0x0C, kRegD = 0x0D;
constexpr uint8_t kRegBBinary24h = 0x06;  // DM (binary) | 24/12 (24-hour)
constexpr uint8_t kRegDValidRam = 0x80;   // VRT: battery good
constexpr uint8_t kRegCentury = 0x32;
}  // namespace

uint8_t CmosRtc::ReadRegister(uint8_t reg) {
  const time_t t = now_();
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  switch (reg) {
    case 0x00: return static_cast<uint8_t>(tm.tm_sec);
    case 0x02: return static_cast<uint8_t>(tm.tm_min);
    case 0x04: return static_cast<uint8_t>(tm.tm_hour);
    case 0x06: return static_cast<uint8_t>(tm.tm_wday + 1);
    case 0x07: return static_cast<uint8_t>(tm.tm_mday);
    case 0x08: return static_cast<uint8_t>(tm.tm_mon + 1);
    case 0x09: return static_cast<uint8_t>(tm.tm_year % 100);
    case kRegCentury: return static_cast<uint8_t>(19 + tm.tm_year / 100);
    case kRegA: return 0x26;  // 32.768 kHz base, 1024 Hz rate, UIP clear
    case kRegB: return kRegBBinary24h;
    case kRegC: return 0;     // no interrupt flags
    case kRegD: return kRegDValidRam;
    default: return ram_[reg & 0x7F];
  }
}

void CmosRtc::Read(uint64_t offset, std::span<uint8_t> data) {
  if (data.size() != 1) return;
  std::lock_guard lock(mu_);
  data[0] = offset == 1 ? ReadRegister(index_) : index_;
}

void CmosRtc::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1) return;
  std::lock_guard lock(mu_);
  if (offset == 0) {
    index_ = data[0] & 0x7F;  // bit 7 is the NMI mask
  } else if (index_ > kRegD && index_ != kRegCentury) {
    ram_[index_] = data[0];  // time registers are read-only: the host clock rules
  }
}

}  // namespace bulkhead
