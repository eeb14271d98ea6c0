// Register semantics of the 16550A model, one behaviour per test. The Linux
// driver scripts are in uart16550_linux_test.cc.
#include "devproc/serial/uart16550.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "devproc/serial/uart_test_util.h"

namespace bulkhead {
namespace {

using namespace uart;
using testing::CountingIrq;
using testing::RecordingOutput;
using testing::UartHarness;

TEST(Uart16550, PowerOnValues) {
  UartHarness h;
  EXPECT_EQ(h.In(kIer), 0);
  EXPECT_EQ(h.In(kIirFcr), kIirNoInt);
  EXPECT_EQ(h.In(kLcr), 0);
  EXPECT_EQ(h.In(kMcr), 0);
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(h.In(kMsr), kMsrDcd | kMsrDsr | kMsrCts);
  EXPECT_EQ(h.In(kScr), 0);
  EXPECT_EQ(h.irq.edges, 0);
}

TEST(Uart16550, ReservedBitsReadAsZero) {
  UartHarness h;
  h.Out(kIer, 0xFF);
  EXPECT_EQ(h.In(kIer), kIerMask);
  h.Out(kIer, 0);
  h.Out(kMcr, 0xFF & ~kMcrLoop);
  EXPECT_EQ(h.In(kMcr), kMcrMask & ~kMcrLoop);
  h.Out(kScr, 0xA5);
  EXPECT_EQ(h.In(kScr), 0xA5);
}

TEST(Uart16550, DivisorLatchRoundTripLeavesRbrAndIerAlone) {
  UartHarness h;
  h.Out(kIer, kIerRdi);
  h.Out(kLcr, kLcrWordLen8 | kLcrDlab);
  h.Out(kDll, 0x01);
  h.Out(kDlm, 0x02);
  EXPECT_EQ(h.In(kDll), 0x01);
  EXPECT_EQ(h.In(kDlm), 0x02);
  EXPECT_TRUE(h.out.str().empty()) << "a DLL write is not a THR write";
  h.Out(kLcr, kLcrWordLen8);
  EXPECT_EQ(h.In(kIer), kIerRdi) << "DLM write must not have touched IER";
  EXPECT_EQ(h.state.dll, 0x01);
  EXPECT_EQ(h.state.dlm, 0x02);
  h.Out(kRbrThr, 'x');
  EXPECT_EQ(h.out.str(), "x");
  h.Out(kLcr, kLcrDlab);
  EXPECT_EQ(h.In(kDll), 0x01) << "THR write must not have touched DLL";
}

TEST(Uart16550, FifoModeBitsAndTriggerLevels) {
  UartHarness h;
  h.Out(kIer, kIerRdi);
  struct {
    uint8_t fcr;
    size_t trigger;
  } const cases[] = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xC1, 14}};
  for (const auto& c : cases) {
    h.Out(kIirFcr, c.fcr | kFcrClearRx);
    EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
    EXPECT_EQ(h.Input(std::string(c.trigger - 1, 'a')), c.trigger - 1);
    if (c.trigger > 1) {
      EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirRxTimeout) << int(c.fcr);
    }
    EXPECT_EQ(h.Input("b"), 1u);
    EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirRdi) << int(c.fcr);
  }
  h.Out(kIirFcr, 0);
  EXPECT_EQ(h.In(kIirFcr), kIirNoInt) << "disabling the FIFOs clears them";
  EXPECT_EQ(h.In(kLsr) & kLsrDr, 0);
}

// On a 16550A, offset 2 is FCR on write whatever LCR holds. Linux relies on
// it: autoconfig() writes "EFR = 0" with LCR=0xBF, which here is FCR = 0.
TEST(Uart16550, FcrIsWrittenEvenWithDlabSet) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kLcr, kLcrConfModeB);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt) << "IIR readable under DLAB, non-zero";
  h.Out(kIirFcr, 0);
  h.Out(kLcr, 0);
  EXPECT_EQ(h.In(kIirFcr), kIirNoInt);
  h.Out(kLcr, kLcrConfModeA);
  h.Out(kIirFcr, kFcrEnable | kFcr64Byte);
  h.Out(kLcr, 0);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt) << "no 64-byte bit 5: not a TI16750";
}

TEST(Uart16550, NonFifoModeHoldsOneByte) {
  UartHarness h;
  h.Out(kIer, kIerRdi);
  EXPECT_EQ(h.Input("xy"), 1u);
  EXPECT_FALSE(h.uart.RxFifoHasRoom());
  EXPECT_EQ(h.In(kIirFcr), kIirRdi);
  EXPECT_EQ(h.In(kRbrThr), 'x');
  EXPECT_EQ(h.In(kIirFcr), kIirNoInt);
  EXPECT_EQ(h.In(kRbrThr), 0) << "an empty RBR reads 0";
}

TEST(Uart16550, FcrClearsEachFifo) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.out.room = 0;
  h.Out(kRbrThr, '1');
  EXPECT_EQ(h.Input("abc"), 3u);
  EXPECT_EQ(h.In(kLsr), kLsrDr);
  h.Out(kIirFcr, kFcrEnable | kFcrClearRx);
  EXPECT_EQ(h.In(kLsr), 0);
  h.Out(kIirFcr, kFcrEnable | kFcrClearTx);
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt);
  h.out.room = -1;
  h.uart.DrainTx();
  EXPECT_TRUE(h.out.str().empty());
}

TEST(Uart16550, TxBackpressureHoldsBytesUntilDrained) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kIer, kIerThri);
  EXPECT_EQ(h.irq.edges, 1);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirThri);
  h.out.room = 5;
  for (char c : std::string("hello world!")) h.Out(kRbrThr, static_cast<uint8_t>(c));
  EXPECT_EQ(h.out.str(), "hello");
  EXPECT_TRUE(h.uart.TxPending());
  EXPECT_EQ(h.In(kLsr) & (kLsrThre | kLsrTemt), 0);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt) << "no THRE while bytes wait";
  // 'h' to 'o' each left at once and re-raised THRE (one edge: the line went
  // up at 'h' and stayed up); ' ' stayed in the FIFO and the line went down.
  EXPECT_EQ(h.irq.edges, 2);
  h.out.room = -1;
  h.uart.DrainTx();
  EXPECT_EQ(h.out.str(), "hello world!");
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(h.irq.edges, 3) << "the FIFO emptying raises THRE";
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirThri);
  EXPECT_EQ(h.state.counters.tx_bytes, 12u);
}

TEST(Uart16550, TxOverflowWhileStalledIsCountedNotFatal) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.out.room = 0;
  for (int i = 0; i < 20; ++i) h.Out(kRbrThr, static_cast<uint8_t>('a' + i));
  EXPECT_EQ(h.state.counters.tx_dropped, 4u);
  h.out.room = -1;
  h.uart.DrainTx();
  EXPECT_EQ(h.out.str(), "abcdefghijklmnop");
}

TEST(Uart16550, LoopbackWiresTxToRxAndMcrToMsr) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  (void)h.In(kMsr);
  h.Out(kMcr, kMcrLoop);
  // Leaving "terminal attached" (DCD/DSR/CTS up) for loopback with all
  // outputs low drops three lines: three deltas.
  EXPECT_EQ(h.In(kMsr), kMsrDdcd | kMsrDdsr | kMsrDcts);
  EXPECT_EQ(h.In(kMsr), 0) << "reading MSR clears the deltas";
  h.Out(kMcr, kMcrLoop | kMcrDtr | kMcrRts | kMcrOut1 | kMcrOut2);
  EXPECT_EQ(h.In(kMsr), 0xF0 | kMsrDdcd | kMsrDdsr | kMsrDcts);
  h.Out(kMcr, kMcrLoop | kMcrDtr | kMcrRts | kMcrOut2);
  EXPECT_EQ(h.In(kMsr), kMsrDcd | kMsrDsr | kMsrCts | kMsrTeri) << "RI 1->0 is a trailing edge";
  h.Out(kMcr, kMcrLoop | kMcrDtr | kMcrRts | kMcrOut1 | kMcrOut2);
  EXPECT_EQ(h.In(kMsr), 0xF0) << "RI 0->1 is not";

  EXPECT_EQ(h.Input("host"), 0u) << "the receiver is off the line in loopback";
  EXPECT_FALSE(h.uart.RxFifoHasRoom());
  h.Out(kRbrThr, 'L');
  EXPECT_TRUE(h.out.str().empty());
  EXPECT_EQ(h.In(kLsr), kLsrDr | kLsrThre | kLsrTemt);
  EXPECT_EQ(h.In(kRbrThr), 'L');
}

TEST(Uart16550, LoopbackOverrunSetsOeAndLineStatusInterrupt) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kMcr, kMcrLoop);
  h.Out(kIer, kIerRlsi);
  for (int i = 0; i < 17; ++i) h.Out(kRbrThr, static_cast<uint8_t>(i));
  EXPECT_EQ(h.irq.edges, 1);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirRlsi);
  EXPECT_EQ(h.In(kLsr), kLsrDr | kLsrOe | kLsrThre | kLsrTemt);
  EXPECT_EQ(h.In(kLsr) & kLsrOe, 0) << "reading LSR clears OE";
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(h.In(kRbrThr), i) << "the FIFO kept the first 16";
  EXPECT_EQ(h.state.counters.rx_overruns, 1u);
}

TEST(Uart16550, InterruptPriorityAndEdgesAreExact) {
  UartHarness h;
  h.Out(kIirFcr, kFcrEnable);
  h.Out(kIer, kIerMask);  // THRE latches: one edge
  EXPECT_EQ(h.irq.edges, 1);
  EXPECT_EQ(h.Input("a"), 1u);  // line already high: RX adds no edge
  h.Out(kMcr, kMcrDtr);         // outside loopback: no MSR change, no delta
  EXPECT_EQ(h.irq.edges, 1);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirRdi) << "trigger level 1 is reached";
  EXPECT_EQ(h.In(kRbrThr), 'a');
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirThri);  // clears THRE
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
  h.Out(kMcr, kMcrLoop);  // delta bits: modem status interrupt, new edge
  EXPECT_EQ(h.irq.edges, 2);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirMsi);
  (void)h.In(kMsr);
  EXPECT_EQ(h.In(kIirFcr), kIirFifoEnabled | kIirNoInt);
  h.Out(kIer, 0);
  EXPECT_EQ(h.Input(""), 0u);
  EXPECT_EQ(h.irq.edges, 2);
}

TEST(Uart16550, MaskedConditionRaisesEdgeWhenUnmasked) {
  UartHarness h;
  EXPECT_EQ(h.Input("z"), 1u);
  EXPECT_EQ(h.irq.edges, 0);
  h.Out(kIer, kIerRdi);
  EXPECT_EQ(h.irq.edges, 1);
  h.Out(kIer, kIerRdi);  // no change, no new edge
  EXPECT_EQ(h.irq.edges, 1);
}

TEST(Uart16550, BadOffsetsAndReadOnlyWritesAreCounted) {
  UartHarness h;
  EXPECT_EQ(h.In(8), 0xFF);
  h.Out(200, 1);
  h.Out(kLsr, 0);
  h.Out(kMsr, 0xFF);
  EXPECT_EQ(h.state.counters.bad_offsets, 2u);
  EXPECT_EQ(h.state.counters.readonly_writes, 2u);
  EXPECT_EQ(h.In(kLsr), kLsrThre | kLsrTemt);
}

// A restarted device process builds a new Uart16550 over the same bytes; the
// guest must not be able to tell. Run one script straight through and the same
// script with the model torn down and rebuilt from a byte copy after every
// step; everything the guest and backend observe must match.
TEST(Uart16550, StateSurvivesRestartAtAnyStep) {
  struct Step {
    bool write;
    uint8_t offset;
    uint8_t value;
  };
  std::vector<Step> script = {
      {true, kIirFcr, 0x81}, {true, kIer, 0x0F}, {false, kIirFcr, 0}, {true, kRbrThr, 'h'},
      {true, kRbrThr, 'i'},  {true, kMcr, 0x1B}, {true, kRbrThr, 'Q'}, {false, kMsr, 0},
      {false, kIirFcr, 0},   {false, kLsr, 0},   {false, kRbrThr, 0},  {true, kMcr, 0x0B},
      {false, kIirFcr, 0},   {true, kLcr, 0x83}, {true, kDll, 3},      {false, kDll, 0},
      {true, kLcr, 0x03},    {false, kIer, 0},   {false, kIirFcr, 0},  {false, kRbrThr, 0},
  };
  UartHarness straight;
  std::string reads_straight;
  for (const Step& s : script) {
    if (s.write) {
      straight.Out(s.offset, s.value);
    } else {
      reads_straight.push_back(static_cast<char>(straight.In(s.offset)));
    }
    if (s.offset == kMcr) (void)straight.Input("in");
  }

  SerialState region;
  ResetSerialState(region);
  CountingIrq irq;
  RecordingOutput out;
  std::string reads_restarted;
  for (const Step& s : script) {
    SerialState fresh;
    std::memcpy(&fresh, &region, sizeof(region));  // a new process maps the region
    ASSERT_TRUE(ValidateSerialState(fresh).clean());
    auto uart = std::make_unique<Uart16550>(fresh, irq, out);
    if (s.write) {
      uart->Write(s.offset, s.value);
    } else {
      reads_restarted.push_back(static_cast<char>(uart->Read(s.offset)));
    }
    if (s.offset == kMcr) (void)uart->EnqueueInput(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>("in"), 2));
    uart.reset();
    std::memcpy(&region, &fresh, sizeof(region));
  }
  EXPECT_EQ(reads_restarted, reads_straight);
  EXPECT_EQ(out.str(), straight.out.str());
  EXPECT_EQ(irq.edges, straight.irq.edges);
  EXPECT_EQ(std::memcmp(&region, &straight.state, sizeof(region)), 0);
}

TEST(Uart16550, ResumeReRaisesAPendingInterrupt) {
  UartHarness h;
  h.Out(kIer, kIerRdi);
  EXPECT_EQ(h.Input("k"), 1u);
  EXPECT_EQ(h.irq.edges, 1);
  // The old process may have died before its irqfd write: resume re-raises.
  CountingIrq irq2;
  RecordingOutput out2;
  Uart16550 resumed(h.state, irq2, out2);
  resumed.Resume();
  EXPECT_EQ(irq2.edges, 1);
  // Nothing pending: nothing raised.
  EXPECT_EQ(resumed.Read(kRbrThr), 'k');
  CountingIrq irq3;
  Uart16550 idle(h.state, irq3, out2);
  idle.Resume();
  EXPECT_EQ(irq3.edges, 0);
}

}  // namespace
}  // namespace bulkhead
