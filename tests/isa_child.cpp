// Prints which instruction set tapegrad's own kernels run here, and a hash of what each kernel
// computes over a sweep of float32 values (and of transposing copies), so that tests/test_isa.cpp
// can compare a process capped by TAPEGRAD_MAX_ISA with an uncapped one: the cap is read once per
// process.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace {

/// FNV-1a over a tensor's bytes, every NaN counted as one value (the kernels promise NaN for NaN,
/// not its payload).
template <class T>
std::uint64_t hash(const tg::Tensor& t) {
  std::uint64_t h = 1469598103934665603ULL;
  for (double v : t.to_vector()) {
    T x = std::isnan(v) ? T(NAN) : static_cast<T>(v);
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &x, sizeof(T));
    for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ULL;
  }
  return h;
}

}  // namespace

int main() {
  std::cout << "tapegrad kernels " << tg::blas_info().tapegrad_kernels << "\n";
  // 2^16 float32 bit patterns spread over every exponent and sign, NaN, infinities and subnormals
  // included, plus a dense run around 0 where the kernels switch between their branches.
  std::vector<double> values;
  for (std::uint32_t i = 0; i < (1u << 16); ++i) {
    const std::uint32_t bits = i * 0x9E3779B1u;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    values.push_back(f);
  }
  for (int i = -4096; i < 4096; ++i) values.push_back(i / 256.0);
  const tg::Tensor x = tg::from_vector(values, {static_cast<std::size_t>(values.size())}, tg::kFloat32);
  std::cout << "exp " << hash<float>(tg::exp(x)) << "\n";
  std::cout << "tanh " << hash<float>(tg::tanh(x)) << "\n";
  std::cout << "sigmoid " << hash<float>(tg::sigmoid(x)) << "\n";
  std::cout << "log " << hash<float>(tg::log(x)) << "\n";
  // Finite values for the softmaxes (rows of 73, over the last and a middle axis).
  const tg::Tensor finite = tg::slice(tg::tanh(x), 0, 0, 73 * 900).reshape({900, 73}) * 30.0;
  std::cout << "softmax " << hash<float>(tg::softmax(finite, 1)) << "\n";
  std::cout << "log_softmax " << hash<float>(tg::log_softmax(finite, 1)) << "\n";
  std::cout << "softmax middle " << hash<float>(tg::softmax(finite.reshape({30, 30, 73}), 1)) << "\n";
  // The transposing copies: plain planes and windows across planes, float32 and float64.
  for (tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
    const char* name = dtype == tg::kFloat32 ? "float32" : "float64";
    const tg::Tensor a = tg::arange(0, 37 * 29 * 11 * 19, 1, dtype).reshape({37, 29, 11, 19});
    std::cout << "permute 3210 " << name << " " << hash<double>(tg::permute(a, {3, 2, 1, 0})) << "\n";
    std::cout << "permute 2310 " << name << " " << hash<double>(tg::permute(a, {2, 3, 1, 0})) << "\n";
    const tg::Tensor m = tg::arange(0, 613 * 301, 1, dtype).reshape({613, 301});
    std::cout << "transpose " << name << " " << hash<double>(tg::transpose(m, 0, 1)) << "\n";
  }
  return 0;
}
