// A transcription of the probe half of Linux's 8250 driver
// (drivers/tty/serial/8250/8250_port.c: autoconfig(), autoconfig_16550a(),
// autoconfig_8250(), size_fifo()) for an ISA port without quirk flags, as
// register accesses on a Port. Test-only: the scripts in
// uart16550_linux_test.cc run it against the model.
#pragma once

#include <cstdint>
#include <functional>

#include "devproc/serial/uart_regs.h"

namespace bulkhead::testing {

using namespace uart;

enum class PortType { kNone, k8250, k16450, kUnknown, k16550, k16550A, k16650, k16650V2,
                      kNs16550A, k16750, kXscale, kU6_16550A, kFsl64 };

// The port as the driver sees it: serial_in/serial_out. Tests can wrap the
// model to show the probe notices a deviation.
struct Port {
  std::function<uint8_t(uint8_t)> in;
  std::function<void(uint8_t, uint8_t)> out;
};

inline uint16_t DlRead(Port& p) { return static_cast<uint16_t>(p.in(kDll) | (p.in(kDlm) << 8)); }
inline void DlWrite(Port& p, uint16_t dl) {
  p.out(kDll, static_cast<uint8_t>(dl));
  p.out(kDlm, static_cast<uint8_t>(dl >> 8));
}

// size_fifo(): count how many loopback bytes the RX FIFO keeps.
inline int SizeFifo(Port& p) {
  const uint8_t old_lcr = p.in(kLcr);
  p.out(kLcr, 0);
  const uint8_t old_fcr = p.in(kIirFcr);  // reads IIR: the driver really does this
  const uint8_t old_mcr = p.in(kMcr);
  p.out(kIirFcr, kFcrEnable | kFcrClearRx | kFcrClearTx);
  p.out(kMcr, kMcrLoop);
  p.out(kLcr, kLcrConfModeA);
  const uint16_t old_dl = DlRead(p);
  DlWrite(p, 0x0001);
  p.out(kLcr, 0x03);
  for (int i = 0; i < 256; ++i) p.out(kRbrThr, static_cast<uint8_t>(i));
  int count = 0;
  for (; (p.in(kLsr) & kLsrDr) && count < 256; ++count) (void)p.in(kRbrThr);
  p.out(kIirFcr, old_fcr);
  p.out(kMcr, old_mcr);
  p.out(kLcr, kLcrConfModeA);
  DlWrite(p, old_dl);
  p.out(kLcr, old_lcr);
  return count;
}

// autoconfig_16550a(), for a port without UPF_EXAR_EFR.
inline PortType Autoconfig16550A(Port& p) {
  PortType type = PortType::k16550A;
  p.out(kLcr, kLcrConfModeA);
  if (p.in(kIirFcr) == 0) {  // EFR readable with DLAB: ST16C650V1
    p.out(kIirFcr, 0xA8);
    type = p.in(kIirFcr) != 0 ? PortType::k16650 : PortType::kFsl64;
    p.out(kIirFcr, 0);
    return type;
  }
  p.out(kLcr, kLcrConfModeB);
  if (p.in(kIirFcr) == 0) return PortType::k16650V2;  // (broken_efr() aside)
  // National Semiconductor SuperIO: bank 2 EXCR1 mirrors MCR.LOOP.
  p.out(kLcr, 0);
  const uint8_t mcr = p.in(kMcr);
  p.out(kLcr, 0xE0);
  uint8_t excr1 = p.in(kIirFcr);
  if (!((excr1 ^ mcr) & kMcrLoop)) {
    p.out(kLcr, 0);
    p.out(kMcr, mcr ^ kMcrLoop);
    p.out(kLcr, 0xE0);
    excr1 = p.in(kIirFcr);
    p.out(kLcr, 0);
    p.out(kMcr, mcr);
    if ((excr1 ^ mcr) & kMcrLoop) return PortType::kNs16550A;
  }
  // TI16750: IIR bit 5 follows FCR bit 5 only with DLAB set.
  p.out(kLcr, 0);
  p.out(kIirFcr, kFcrEnable | kFcr64Byte);
  const uint8_t status1 = p.in(kIirFcr) >> 5;
  p.out(kIirFcr, kFcrEnable);
  p.out(kLcr, kLcrConfModeA);
  p.out(kIirFcr, kFcrEnable | kFcr64Byte);
  const uint8_t status2 = p.in(kIirFcr) >> 5;
  p.out(kIirFcr, kFcrEnable);
  p.out(kLcr, 0);
  if (status1 == 6 && status2 == 7) return PortType::k16750;
  // XScale: IER bit 6 (UUE) sticks.
  const uint8_t iersave = p.in(kIer);
  p.out(kIer, iersave & ~0x40);
  if (!(p.in(kIer) & 0x40)) {
    p.out(kIer, iersave | 0x40);
    if (p.in(kIer) & 0x40) return PortType::kXscale;
  }
  p.out(kIer, iersave);
  if (SizeFifo(p) == 64) return PortType::kU6_16550A;
  return type;
}

// autoconfig() for an ISA port at 0x3f8 (no UPF_BUGGY_UART, no UPF_SKIP_TEST).
inline PortType Autoconfig(Port& p) {
  uint8_t scratch = p.in(kIer);
  p.out(kIer, 0);
  const uint8_t scratch2 = p.in(kIer) & 0x0F;
  p.out(kIer, 0x0F);
  const uint8_t scratch3 = p.in(kIer) & 0x0F;
  p.out(kIer, scratch);
  if (scratch2 != 0 || scratch3 != 0x0F) return PortType::kNone;

  const uint8_t save_mcr = p.in(kMcr);
  const uint8_t save_lcr = p.in(kLcr);
  p.out(kMcr, kMcrLoop | 0x0A);
  const uint8_t status1 = p.in(kMsr) & 0xF0;
  p.out(kMcr, save_mcr);
  if (status1 != 0x90) return PortType::kNone;

  p.out(kLcr, kLcrConfModeB);
  p.out(kIirFcr, 0);  // "EFR" = 0; on a 16550A this is FCR = 0
  p.out(kLcr, 0);
  p.out(kIirFcr, kFcrEnable);
  scratch = p.in(kIirFcr) >> 6;
  PortType type = PortType::kUnknown;
  switch (scratch) {
    case 0: {
      // autoconfig_8250(): a scratch register makes it a 16450.
      const uint8_t old = p.in(kScr);
      p.out(kScr, 0xA5);
      const uint8_t s1 = p.in(kScr);
      p.out(kScr, 0x5A);
      const uint8_t s2 = p.in(kScr);
      p.out(kScr, old);
      type = (s1 == 0xA5 && s2 == 0x5A) ? PortType::k16450 : PortType::k8250;
      break;
    }
    case 1: type = PortType::kUnknown; break;
    case 2: type = PortType::k16550; break;
    case 3: type = Autoconfig16550A(p); break;
  }
  p.out(kLcr, save_lcr);
  // Reset the UART: restore MCR, serial8250_clear_fifos(), read RX, IER = 0.
  p.out(kMcr, save_mcr);
  p.out(kIirFcr, kFcrEnable);
  p.out(kIirFcr, kFcrEnable | kFcrClearRx | kFcrClearTx);
  p.out(kIirFcr, 0);
  (void)p.in(kRbrThr);
  p.out(kIer, 0);
  return type;
}

}  // namespace bulkhead::testing
