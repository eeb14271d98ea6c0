// main() for fuzz targets built without libFuzzer: replays the files named on
// the command line (a corpus, or a crash a fuzzer found), or with
// `--random N` runs N seeded pseudo-random inputs, which is how the target
// runs as a unit test on every build, whatever the compiler.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--random") == 0) {
    const long runs = std::strtol(argv[2], nullptr, 10);
    std::mt19937 rng(0x16550);
    for (long i = 0; i < runs; ++i) {
      std::vector<uint8_t> input(rng() % 4096);
      for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("%ld random inputs OK\n", runs);
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "cannot open %s\n", argv[i]);
      return 1;
    }
    std::vector<uint8_t> input((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%d inputs OK\n", argc - 1);
  return 0;
}
