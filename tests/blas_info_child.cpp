// Prints tg::blas_info() as a fresh process sees it (tests/test_blas.cpp runs it under different
// environments: tapegrad's kernel check runs once per process, at first use).
#include <iostream>

#include "tapegrad/blas.hpp"

int main() {
  const tg::BlasInfo info = tg::blas_info();
  std::cout << "core " << info.core << "\ndetected " << info.detected_core << "\nbest " << info.best_core
            << "\nwarning " << info.warning << "\n";
  return 0;
}
