// Register-level scripts of what Linux's 8250 driver
// (drivers/tty/serial/8250/8250_port.c) does to a port: autoconfig() at probe,
// serial8250_do_startup() and set_termios at open, the TX and RX interrupt
// paths. Each script is transcribed step by step so that a model that answers
// any probe differently from a real 16550A makes the driver (here: the script)
// conclude something else, and the test fails.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "devproc/serial/uart_test_util.h"

namespace bulkhead {
namespace {

using namespace uart;
using testing::UartHarness;

enum class PortType { kNone, k8250, k16450, kUnknown, k16550, k16550A, k16650, k16650V2,
                      kNs16550A, k16750, kXscale, kU6_16550A, kFsl64 };

// The port as the driver sees it: serial_in/serial_out. Tests can wrap the
// model to show the probe notices a deviation.
struct Port {
  std::function<uint8_t(uint8_t)> in;
  std::function<void(uint8_t, uint8_t)> out;
};

uint16_t DlRead(Port& p) { return static_cast<uint16_t>(p.in(kDll) | (p.in(kDlm) << 8)); }
void DlWrite(Port& p, uint16_t dl) {
  p.out(kDll, static_cast<uint8_t>(dl));
  p.out(kDlm, static_cast<uint8_t>(dl >> 8));
}

// size_fifo(): count how many loopback bytes the RX FIFO keeps.
int SizeFifo(Port& p) {
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
PortType Autoconfig16550A(Port& p) {
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
PortType Autoconfig(Port& p) {
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

Port PortOf(UartHarness& h) {
  return Port{[&h](uint8_t o) { return h.In(o); }, [&h](uint8_t o, uint8_t v) { h.Out(o, v); }};
}

TEST(Uart16550Linux, AutoconfigDetects16550A) {
  UartHarness h;
  Port p = PortOf(h);
  EXPECT_EQ(Autoconfig(p), PortType::k16550A);
  // The probe leaves the port quiet: IER off, FIFOs off, nothing pending.
  EXPECT_EQ(h.In(kIer), 0);
  EXPECT_EQ(h.In(kIirFcr), kIirNoInt);
  // The IER existence test writes IER=0x0F with the transmitter empty, which
  // raises THRE: one edge. (A PC gates INTR with MCR.OUT2, still 0 here; this
  // model does not gate, like QEMU and vm-superio, so the guest sees one
  // interrupt it has not asked for yet. It is harmless: the IOAPIC pin is
  // masked until the driver requests the IRQ.)
  EXPECT_EQ(h.irq.edges, 1);
  EXPECT_TRUE(h.out.str().empty()) << "loopback bytes must not reach the line";
  EXPECT_EQ(h.state.counters.bad_offsets, 0u);
}

TEST(Uart16550Linux, SizeFifoCountsSixteen) {
  UartHarness h;
  Port p = PortOf(h);
  EXPECT_EQ(SizeFifo(p), 16);
  EXPECT_EQ(h.state.counters.rx_overruns, 240u) << "256 loopback bytes into 16 places";
  EXPECT_EQ(h.In(kMcr), 0) << "size_fifo restores MCR";
  EXPECT_EQ(h.state.dll, 12) << "and the divisor";
}

// The scripts are only worth something if they can fail: each wrapper below
// changes one answer and the probe must notice.
TEST(Uart16550Linux, AutoconfigNoticesDeviations) {
  {
    UartHarness h;
    Port p = PortOf(h);
    auto in = p.in;
    p.in = [in](uint8_t o) { return o == kIirFcr ? static_cast<uint8_t>(in(o) & 0x3F) : in(o); };
    EXPECT_EQ(Autoconfig(p), PortType::k16450) << "IIR without FIFO bits is a 16450";
  }
  {
    UartHarness h;
    Port p = PortOf(h);
    auto in = p.in;
    p.in = [in](uint8_t o) { return o == kMsr ? static_cast<uint8_t>(in(o) & 0x7F) : in(o); };
    EXPECT_EQ(Autoconfig(p), PortType::kNone) << "loopback MSR must read 0x90";
  }
  {
    UartHarness h;
    Port p = PortOf(h);
    uint8_t ier = 0;
    auto in = p.in;
    auto out = p.out;
    p.out = [out, &ier](uint8_t o, uint8_t v) {
      if (o == kIer) ier = v;
      out(o, v);
    };
    p.in = [in, &h, &ier](uint8_t o) {
      return (o == kIer && !(h.In(kLcr) & kLcrDlab)) ? ier : in(o);
    };
    EXPECT_EQ(Autoconfig(p), PortType::kXscale) << "a sticky IER bit 6 is an XScale";
  }
}

// serial8250_do_startup() followed by serial8250_do_set_termios() at 115200 8N1.
struct StartupResult {
  bool bug_thre = false;
  bool bug_txen = false;
  bool lsr_safety = false;
};

StartupResult Startup(UartHarness& h) {
  StartupResult r;
  h.Out(kIirFcr, kFcrEnable);  // serial8250_clear_fifos()
  h.Out(kIirFcr, kFcrEnable | kFcrClearRx | kFcrClearTx);
  h.Out(kIirFcr, 0);
  (void)h.In(kLsr);
  (void)h.In(kRbrThr);
  (void)h.In(kIirFcr);
  (void)h.In(kMsr);
  r.lsr_safety = h.In(kLsr) == 0xFF;
  // THRE test.
  while (!(h.In(kLsr) & kLsrThre)) {
  }
  h.Out(kIer, kIerThri);
  const uint8_t iir1 = h.In(kIirFcr);
  h.Out(kIer, 0);
  h.Out(kIer, kIerThri);
  const uint8_t iir = h.In(kIirFcr);
  h.Out(kIer, 0);
  r.bug_thre = !(iir1 & kIirNoInt) && (iir & kIirNoInt);
  h.Out(kLcr, kLcrWordLen8);
  h.Out(kMcr, kMcrOut2);  // set_mctrl(OUT2): the port has an IRQ
  // TX enable test.
  h.Out(kIer, kIerThri);
  const uint8_t lsr = h.In(kLsr);
  const uint8_t iir2 = h.In(kIirFcr);
  h.Out(kIer, 0);
  r.bug_txen = (lsr & kLsrTemt) && (iir2 & kIirNoInt);
  (void)h.In(kLsr);
  (void)h.In(kRbrThr);
  (void)h.In(kIirFcr);
  (void)h.In(kMsr);
  // set_termios: IER shadow = RLSI|RDI, divisor 1 (115200), then the FIFOs:
  // ENABLE first, then ENABLE | R_TRIG_10 (trigger level 8), then modem lines.
  h.Out(kIer, kIerRlsi | kIerRdi);
  h.Out(kLcr, kLcrWordLen8 | kLcrDlab);
  h.Out(kDll, 1);
  h.Out(kDlm, 0);
  h.Out(kLcr, kLcrWordLen8);
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kIirFcr, kFcrEnable | 0x80);
  h.Out(kMcr, kMcrDtr | kMcrRts | kMcrOut2);
  return r;
}

TEST(Uart16550Linux, StartupFindsNoBugs) {
  UartHarness h;
  Port p = PortOf(h);
  ASSERT_EQ(Autoconfig(p), PortType::k16550A);
  const int probe_edges = h.irq.edges;
  const StartupResult r = Startup(h);
  EXPECT_FALSE(r.lsr_safety);
  EXPECT_FALSE(r.bug_thre) << "THRE must be re-asserted when ETBEI is re-enabled";
  EXPECT_FALSE(r.bug_txen);
  EXPECT_EQ(h.In(kLcr), kLcrWordLen8);
  EXPECT_EQ(h.In(kIer), kIerRlsi | kIerRdi);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(h.In(kMsr), kMsrDcd | kMsrDsr | kMsrCts);
  // Each ETBEI enable during startup raised the line once: THRE test (twice)
  // and TXEN test (once). Nothing else did.
  EXPECT_EQ(h.irq.edges - probe_edges, 3);
}

// serial8250_interrupt() -> serial8250_handle_irq(), looping until IIR says
// no interrupt, with the TX side of serial8250_tx_chars() (tx_loadsz 16) fed
// from `xmit`, and the RX side of serial8250_rx_chars() appending to `rx`.
struct Driver {
  UartHarness& h;
  std::string xmit = {};
  std::string rx = {};
  int handled = 0;
  int spurious = 0;
  uint8_t ier = kIerRlsi | kIerRdi;

  void StartTx() {
    if (!(ier & kIerThri)) {
      ier |= kIerThri;
      h.Out(kIer, ier);
    }
  }
  void Isr() {
    bool any = false;
    for (;;) {
      const uint8_t iir = h.In(kIirFcr);
      if (iir & kIirNoInt) break;
      any = true;
      ++handled;
      uint8_t lsr = h.In(kLsr);
      if ((lsr & (kLsrDr | kLsrBi)) && (iir & kIirRdi)) {
        for (int max = 256; max > 0 && (lsr & (kLsrDr | kLsrBi)); --max) {
          rx.push_back(static_cast<char>(h.In(kRbrThr)));
          lsr = h.In(kLsr);
        }
      }
      (void)h.In(kMsr);
      if (lsr & kLsrThre) TxChars();
    }
    if (!any) ++spurious;
  }
  void TxChars() {
    if (xmit.empty()) return StopTx();
    for (int count = 16; count > 0 && !xmit.empty(); --count) {
      h.Out(kRbrThr, static_cast<uint8_t>(xmit.front()));
      xmit.erase(0, 1);
    }
    if (xmit.empty()) StopTx();
  }
  void StopTx() {
    if (ier & kIerThri) {
      ier &= static_cast<uint8_t>(~kIerThri);
      h.Out(kIer, ier);
    }
  }
};

// Delivers edges to the driver like the IOAPIC and LAPIC would: edges raised
// while the ISR runs set IRR once and cause one more ISR run after EOI.
void DeliverInterrupts(Driver& d, int& seen_edges) {
  while (seen_edges < d.h.irq.edges) {
    seen_edges = d.h.irq.edges;
    d.Isr();
  }
}

TEST(Uart16550Linux, TxFillsFifoOnThreInOrder) {
  UartHarness h;
  Port p = PortOf(h);
  ASSERT_EQ(Autoconfig(p), PortType::k16550A);
  (void)Startup(h);
  int seen = h.irq.edges;
  const int before = h.irq.edges;
  Driver d{h};
  std::string message;
  for (int i = 0; i < 40; ++i) message.push_back(static_cast<char>('A' + i % 26));
  d.xmit = message;
  d.StartTx();
  EXPECT_EQ(h.irq.edges, seen + 1) << "ETBEI on an empty transmitter raises exactly one edge";
  DeliverInterrupts(d, seen);
  EXPECT_EQ(h.out.str(), message);
  // 40 bytes = three THRE rounds of at most 16. The first THR write of each
  // round re-arms THRE after the ISR's IIR read cleared it; later writes in the
  // same round find the line already high and raise nothing.
  EXPECT_EQ(d.handled, 3);
  EXPECT_EQ(h.irq.edges - before, 4) << "1 for StartTx + 3 rounds";
  // The ISR run for the last round's edge finds the interrupt already handled
  // (the loop in the previous run drained it): real hardware does the same.
  EXPECT_EQ(d.spurious, 1);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
  EXPECT_EQ(h.In(kIer), kIerRlsi | kIerRdi);
}

TEST(Uart16550Linux, RxInterruptThenDrainUntilDrClears) {
  UartHarness h;
  Port p = PortOf(h);
  ASSERT_EQ(Autoconfig(p), PortType::k16550A);
  (void)Startup(h);
  int seen = h.irq.edges;
  Driver d{h};
  // Three bytes: below the trigger level of 8, so the IIR says "timeout".
  EXPECT_EQ(h.Input("abc"), 3u);
  EXPECT_EQ(h.irq.edges, seen + 1);
  EXPECT_EQ(h.uart.PeekIir(), kIirFifoEnabled | kIirRxTimeout);
  DeliverInterrupts(d, seen);
  EXPECT_EQ(d.rx, "abc");
  // Twenty bytes: sixteen fit, four wait in the backend. Sixteen is above
  // the trigger level, so the IIR says "data available".
  const std::string burst = "0123456789ABCDEFGHIJ";
  const size_t taken = h.Input(burst);
  EXPECT_EQ(taken, 16u);
  EXPECT_FALSE(h.uart.RxFifoHasRoom());
  EXPECT_EQ(h.uart.PeekIir(), kIirFifoEnabled | kIirRdi);
  DeliverInterrupts(d, seen);
  EXPECT_TRUE(h.uart.RxFifoHasRoom());
  EXPECT_EQ(h.Input(burst.substr(taken)), 4u);
  DeliverInterrupts(d, seen);
  EXPECT_EQ(d.rx, "abc" + burst);
  EXPECT_EQ(d.spurious, 0);
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt) << "no overrun: flow control held the excess";
}

TEST(Uart16550Linux, EchoWhileTransmittingLosesNothing) {
  UartHarness h;
  Port p = PortOf(h);
  ASSERT_EQ(Autoconfig(p), PortType::k16550A);
  (void)Startup(h);
  int seen = h.irq.edges;
  Driver d{h};
  std::string typed;
  for (int round = 0; round < 10; ++round) {
    const std::string line = "line " + std::to_string(round) + "\n";
    typed += line;
    size_t off = 0;
    while (off < line.size()) {
      off += h.Input(line.substr(off));
      DeliverInterrupts(d, seen);
    }
    // The "tty" echoes what it received.
    d.xmit += d.rx;
    d.rx.clear();
    d.StartTx();
    DeliverInterrupts(d, seen);
  }
  EXPECT_EQ(h.out.str(), typed);
}

}  // namespace
}  // namespace bulkhead
