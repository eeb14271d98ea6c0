// Register offsets and bit names of the 16550A, as the datasheet (TI TL16C550C,
// National PC16550D) and Linux's include/uapi/linux/serial_reg.h name them.
// Shared by the model, its tests and its fuzzer so all three speak one language.
#pragma once

#include <cstdint>

namespace bulkhead::uart {

// Offsets from the port base (0x3f8 for COM1). Offsets 0 and 1 change meaning
// when LCR.DLAB is set; offset 2 is IIR on read and FCR on write.
inline constexpr uint8_t kRbrThr = 0;  // DLAB=0: receive buffer (read) / transmit holding (write)
inline constexpr uint8_t kIer = 1;     // DLAB=0: interrupt enable
inline constexpr uint8_t kDll = 0;     // DLAB=1: divisor latch low
inline constexpr uint8_t kDlm = 1;     // DLAB=1: divisor latch high
inline constexpr uint8_t kIirFcr = 2;  // read: interrupt identification / write: FIFO control
inline constexpr uint8_t kLcr = 3;
inline constexpr uint8_t kMcr = 4;
inline constexpr uint8_t kLsr = 5;
inline constexpr uint8_t kMsr = 6;
inline constexpr uint8_t kScr = 7;
inline constexpr uint8_t kRegisterCount = 8;

// IER: only the low nibble exists on a 16550A. Linux's probe tells an XScale
// (bit 6, UUE) and TI16750 apart by whether upper bits stick, so they must not.
inline constexpr uint8_t kIerRdi = 0x01;   // ERBFI: received data available (and timeout)
inline constexpr uint8_t kIerThri = 0x02;  // ETBEI: transmitter holding register empty
inline constexpr uint8_t kIerRlsi = 0x04;  // ELSI: receiver line status
inline constexpr uint8_t kIerMsi = 0x08;   // EDSSI: modem status
inline constexpr uint8_t kIerMask = 0x0F;

// IIR: interrupt identification, bit 0 set means "nothing pending".
inline constexpr uint8_t kIirNoInt = 0x01;
inline constexpr uint8_t kIirMsi = 0x00;
inline constexpr uint8_t kIirThri = 0x02;
inline constexpr uint8_t kIirRdi = 0x04;
inline constexpr uint8_t kIirRlsi = 0x06;
inline constexpr uint8_t kIirRxTimeout = 0x0C;
inline constexpr uint8_t kIirIdMask = 0x0F;
inline constexpr uint8_t kIirFifoEnabled = 0xC0;  // both bits set = 16550A with working FIFOs

// FCR (write-only).
inline constexpr uint8_t kFcrEnable = 0x01;
inline constexpr uint8_t kFcrClearRx = 0x02;
inline constexpr uint8_t kFcrClearTx = 0x04;
inline constexpr uint8_t kFcrDmaMode = 0x08;
inline constexpr uint8_t kFcr64Byte = 0x20;  // TI16750 only; a 16550A ignores it
inline constexpr uint8_t kFcrTriggerMask = 0xC0;
// The FCR bits a 16550A keeps (enable, DMA mode, RX trigger level).
inline constexpr uint8_t kFcrStoredMask = kFcrEnable | kFcrDmaMode | kFcrTriggerMask;

// LCR.
inline constexpr uint8_t kLcrWordLen8 = 0x03;
inline constexpr uint8_t kLcrBreak = 0x40;
inline constexpr uint8_t kLcrDlab = 0x80;
inline constexpr uint8_t kLcrConfModeA = 0x80;  // Linux: DLAB only
inline constexpr uint8_t kLcrConfModeB = 0xBF;  // Linux: "EFR access" magic on 16650-class parts

// MCR: bits 5..7 read as 0 on a 16550A.
inline constexpr uint8_t kMcrDtr = 0x01;
inline constexpr uint8_t kMcrRts = 0x02;
inline constexpr uint8_t kMcrOut1 = 0x04;
inline constexpr uint8_t kMcrOut2 = 0x08;
inline constexpr uint8_t kMcrLoop = 0x10;
inline constexpr uint8_t kMcrMask = 0x1F;

// LSR.
inline constexpr uint8_t kLsrDr = 0x01;    // data ready
inline constexpr uint8_t kLsrOe = 0x02;    // overrun error
inline constexpr uint8_t kLsrPe = 0x04;    // parity error
inline constexpr uint8_t kLsrFe = 0x08;    // framing error
inline constexpr uint8_t kLsrBi = 0x10;    // break interrupt
inline constexpr uint8_t kLsrThre = 0x20;  // transmit holding register (FIFO) empty
inline constexpr uint8_t kLsrTemt = 0x40;  // transmitter completely empty
inline constexpr uint8_t kLsrFifoError = 0x80;
inline constexpr uint8_t kLsrErrorBits = kLsrOe | kLsrPe | kLsrFe | kLsrBi;

// MSR: high nibble is line state, low nibble the "changed since last read" deltas.
inline constexpr uint8_t kMsrDcts = 0x01;
inline constexpr uint8_t kMsrDdsr = 0x02;
inline constexpr uint8_t kMsrTeri = 0x04;  // trailing edge of RI (1 -> 0)
inline constexpr uint8_t kMsrDdcd = 0x08;
inline constexpr uint8_t kMsrDeltaMask = 0x0F;
inline constexpr uint8_t kMsrCts = 0x10;
inline constexpr uint8_t kMsrDsr = 0x20;
inline constexpr uint8_t kMsrRi = 0x40;
inline constexpr uint8_t kMsrDcd = 0x80;

}  // namespace bulkhead::uart
