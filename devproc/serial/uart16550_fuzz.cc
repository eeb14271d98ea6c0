// Fuzz entry point for the 16550A model: random register accesses, host input,
// sink stalls and process restarts, over a state that may start out as random
// bytes. Besides memory safety (run under ASan/UBSan) it checks, after every
// step, that
// - the state is one ValidateSerialState() would not touch;
// - the interrupt line is raised exactly on 0 -> 1 transitions of INTR;
// - both FIFOs hold exactly the bytes a shadow copy says they should, in order:
//   nothing is lost, duplicated or reordered between THR and the sink, and
//   between the input backend (or loopback) and RBR.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <span>

#include "devproc/serial/serial_state.h"
#include "devproc/serial/uart16550.h"
#include "devproc/serial/uart_regs.h"

namespace bulkhead {
namespace {

using namespace uart;

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                    \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

struct Irq : InterruptLine {
  void Trigger() override { ++edges; }
  int edges = 0;
};

// A sink with a budget; every byte it takes must be the oldest shadow TX byte.
struct Sink : SerialOutput {
  size_t Write(std::span<const uint8_t> bytes) override {
    const size_t n = bytes.size() < room ? bytes.size() : room;
    room -= n;
    for (size_t i = 0; i < n; ++i) {
      FUZZ_CHECK(!shadow->empty());
      FUZZ_CHECK(shadow->front() == bytes[i]);
      shadow->pop_front();
    }
    return n;
  }
  size_t room = 0;
  std::deque<uint8_t>* shadow = nullptr;
};

bool SameContents(const SerialFifo& f, const std::deque<uint8_t>& shadow) {
  if (f.count != shadow.size()) return false;
  for (size_t i = 0; i < shadow.size(); ++i) {
    if (f.bytes[(f.head + i) % kSerialFifoCapacity] != shadow[i]) return false;
  }
  return true;
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::span<const uint8_t> Take(size_t n) {
    n = n < size_ - pos_ ? n : size_ - pos_;
    std::span<const uint8_t> s(data_ + pos_, n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void Run(const uint8_t* data, size_t size) {
  Reader in(data, size);
  SerialState state;
  ResetSerialState(state);
  if (in.Next() & 1) {
    // Start from a region a hostile previous process left behind.
    auto* raw = reinterpret_cast<uint8_t*>(&state);
    for (size_t i = 8; i < sizeof(state); ++i) raw[i] = in.Next();
  }
  (void)ValidateSerialState(state);

  std::deque<uint8_t> tx_shadow(state.tx.count, 0);
  std::deque<uint8_t> rx_shadow(state.rx.count, 0);
  for (size_t i = 0; i < state.tx.count; ++i)
    tx_shadow[i] = state.tx.bytes[(state.tx.head + i) % kSerialFifoCapacity];
  for (size_t i = 0; i < state.rx.count; ++i)
    rx_shadow[i] = state.rx.bytes[(state.rx.head + i) % kSerialFifoCapacity];

  Irq irq;
  Sink sink;
  sink.shadow = &tx_shadow;
  sink.room = 1u << 20;
  Uart16550* uart = new Uart16550(state, irq, sink);
  uart->Resume();

  while (!in.empty()) {
    const uint8_t op = in.Next();
    const uint8_t arg = in.Next();
    const uint8_t cap = SerialFifoCapacity(state);
    const bool dlab = (state.lcr & kLcrDlab) != 0;
    const bool loop = (state.mcr & kMcrLoop) != 0;
    const uint8_t level_before = state.irq_level;
    const int edges_before = irq.edges;
    const uint8_t rx_before = state.rx.count;
    const uint8_t tx_before = state.tx.count;
    bool fcr_write = false;
    bool resumed = false;

    switch (op % 6) {
      case 0: {  // register read
        const uint8_t offset = arg % 9;  // 8: an out-of-range offset
        const uint8_t v = uart->Read(offset);
        if (offset == kRbrThr && !dlab && rx_before != 0) {
          FUZZ_CHECK(v == rx_shadow.front());
          rx_shadow.pop_front();
        }
        break;
      }
      case 1:
      case 2: {  // register write (twice as likely: writes drive the state)
        const uint8_t offset = arg % 9;
        const uint8_t value = in.Next();
        if (offset == kRbrThr && !dlab) {
          if (loop) {
            if (rx_before < cap) rx_shadow.push_back(value);
          } else if (tx_before < cap) {
            tx_shadow.push_back(value);
          }
        }
        fcr_write = offset == kIirFcr;
        uart->Write(offset, value);
        break;
      }
      case 3: {  // host input
        const std::span<const uint8_t> bytes = in.Take(arg % 24);
        const size_t n = uart->EnqueueInput(bytes);
        FUZZ_CHECK(n <= bytes.size());
        FUZZ_CHECK(loop ? n == 0 : n == std::min<size_t>(bytes.size(), cap - rx_before));
        for (size_t i = 0; i < n; ++i) rx_shadow.push_back(bytes[i]);
        break;
      }
      case 4:  // the backend stalls or drains
        sink.room = arg < 128 ? arg % 8 : 1u << 20;
        uart->DrainTx();
        break;
      case 5:  // the device process restarts over the same bytes
        delete uart;
        FUZZ_CHECK(ValidateSerialState(state).clean());
        uart = new Uart16550(state, irq, sink);
        uart->Resume();
        resumed = true;
        break;
    }

    // A FIFO shrinking other than through the sink or RBR must be an FCR clear.
    if (!SameContents(state.tx, tx_shadow)) {
      FUZZ_CHECK(fcr_write && state.tx.count == 0);
      tx_shadow.clear();
    }
    if (!SameContents(state.rx, rx_shadow)) {
      FUZZ_CHECK(fcr_write && state.rx.count == 0);
      rx_shadow.clear();
    }

    SerialState copy;
    std::memcpy(&copy, &state, sizeof(copy));
    FUZZ_CHECK(ValidateSerialState(copy).clean());
    const bool pending = (uart->PeekIir() & kIirNoInt) == 0;
    FUZZ_CHECK(state.irq_level == (pending ? 1 : 0));
    const int new_edges = irq.edges - edges_before;
    if (resumed) {
      FUZZ_CHECK(new_edges == (pending ? 1 : 0));
    } else {
      FUZZ_CHECK(new_edges == ((level_before == 0 && pending) ? 1 : 0));
    }
    const uint8_t iir = uart->PeekIir();
    FUZZ_CHECK((iir & 0x30) == 0);
    FUZZ_CHECK(((iir & kIirFifoEnabled) != 0) == ((state.fcr & kFcrEnable) != 0));
  }
  delete uart;
}

}  // namespace
}  // namespace bulkhead

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bulkhead::Run(data, size);
  return 0;
}
