// xor: the classic NumPy tutorial network (Trask, "Tuning alpha") trained with tapegrad.
//
// A 3-H-1 sigmoid network learns XOR by full-batch gradient descent, once for each learning rate
// alpha in {0.001, 0.01, 0.1, 1, 10, 100, 1000}, each run starting from np.random.seed(1) weights
// (tg::NumpyRandomState), and prints what the Python original (examples/xor_numpy.py) prints:
// character for character where NumPy's exp is libm's and both use the same OpenBLAS kernels,
// and the tutorial's published errors to their 12 significant digits on any kernels (10 for the
// unstable alpha = 100 run: another kernel sums dot products in another order, and the last
// digits differ; tests/test_xor.cpp).
//
//   xor [--hidden N] [--iterations N]     defaults: 4 hidden units, 60000 iterations
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "xor_train.hpp"

namespace {

const char* const kUsage =
    "usage: xor [--hidden N] [--iterations N] [--help]\n"
    "  --hidden N      hidden units (default 4; the tutorial also tries 32)\n"
    "  --iterations N  gradient-descent steps per learning rate (default 60000)\n";

/// A positive integer from a whole command-line word, or exits with a message naming the flag.
std::size_t parse_positive(const char* flag, const char* text) {
  std::size_t value = 0;
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || value == 0) {
    std::cerr << "xor: " << flag << " needs a positive integer, got '" << text << "'\n" << kUsage;
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t hidden = 4, iterations = 60000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg != "--hidden" && arg != "--iterations") {
      std::cerr << "xor: unknown argument '" << arg << "'\n" << kUsage;
      return 2;
    }
    if (i + 1 == argc) {
      std::cerr << "xor: " << arg << " needs a value\n" << kUsage;
      return 2;
    }
    (arg == "--hidden" ? hidden : iterations) = parse_positive(argv[i], argv[i + 1]);
    ++i;
  }

  examples::print_alpha_sweep(std::cout, hidden, iterations);
  return 0;
}
