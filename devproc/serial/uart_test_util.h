// Test doubles for the 16550A model: an interrupt line that counts edges, an
// output sink that records bytes and can be made to push back, and a harness
// bundling them with a freshly reset SerialState.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devproc/serial/serial_state.h"
#include "devproc/serial/uart16550.h"
#include "devproc/serial/uart_regs.h"

namespace bulkhead::testing {

class CountingIrq : public InterruptLine {
 public:
  void Trigger() override { ++edges; }
  int edges = 0;
};

class RecordingOutput : public SerialOutput {
 public:
  size_t Write(std::span<const uint8_t> bytes) override {
    size_t n = bytes.size();
    if (room >= 0) {
      n = std::min(n, static_cast<size_t>(room));
      room -= static_cast<long>(n);
    }
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
    return n;
  }
  std::string str() const { return std::string(bytes_.begin(), bytes_.end()); }

  long room = -1;  // < 0: unlimited; otherwise bytes accepted before pushing back

 private:
  std::vector<uint8_t> bytes_;
};

struct UartHarness {
  UartHarness() { ResetSerialState(state); }

  uint8_t In(uint8_t offset) { return uart.Read(offset); }
  void Out(uint8_t offset, uint8_t value) { uart.Write(offset, value); }
  size_t Input(const std::string& s) {
    return uart.EnqueueInput(
        std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  SerialState state{};
  CountingIrq irq;
  RecordingOutput out;
  Uart16550 uart{state, irq, out};
};

}  // namespace bulkhead::testing
