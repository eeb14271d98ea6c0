#include "sandbox/testing/bpf_emulator.h"

#include <cstring>

namespace bulkhead {

Result<uint32_t> RunSeccompBpf(std::span<const sock_filter> program, const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& f = program[pc];
    const uint32_t k = f.k;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k % 4 != 0 || k + 4 > sizeof data) return MakeError("pc {}: load at {}", pc, k);
        std::memcpy(&a, reinterpret_cast<const char*>(&data) + k, 4);
        break;
      case BPF_LD | BPF_IMM:
        a = k;
        break;
      case BPF_LDX | BPF_IMM:
        x = k;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) return MakeError("pc {}: scratch {}", pc, k);
        if (f.code == (BPF_LD | BPF_MEM))
          a = mem[k];
        else if (f.code == (BPF_LDX | BPF_MEM))
          x = mem[k];
        else if (f.code == BPF_ST)
          mem[k] = a;
        else
          mem[k] = x;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= k;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        a |= k;
        break;
      case BPF_ALU | BPF_AND | BPF_X:
        a &= x;
        break;
      case BPF_ALU | BPF_OR | BPF_X:
        a |= x;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_JMP | BPF_JA:
        pc += k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += (a == k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += (a > k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += (a >= k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & k) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JEQ | BPF_X:
        pc += (a == x) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_X:
        pc += (a > x) ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_X:
        pc += (a >= x) ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return k;
      case BPF_RET | BPF_A:
        return a;
      default:
        return MakeError("pc {}: unsupported opcode {:#x}", pc, f.code);
    }
  }
  return MakeError("program fell off its end");
}

}  // namespace bulkhead
