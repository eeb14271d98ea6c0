// Register-level scripts of what Linux's 8250 driver
// (drivers/tty/serial/8250/8250_port.c) does to a port: autoconfig() at probe,
// serial8250_do_startup() and set_termios at open, the TX and RX interrupt
// paths. Each script is transcribed step by step so that a model that answers
// any probe differently from a real 16550A makes the driver (here: the script)
// conclude something else, and the test fails.
#include <gtest/gtest.h>

#include <string>

#include "devproc/serial/linux_8250_probe.h"
#include "devproc/serial/uart_test_util.h"

namespace bulkhead {
namespace {

using namespace uart;
using testing::Autoconfig;
using testing::DlWrite;
using testing::Port;
using testing::PortType;
using testing::SizeFifo;
using testing::UartHarness;

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
