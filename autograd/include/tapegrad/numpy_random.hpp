/// \file
/// tg::NumpyRandomState: NumPy's legacy `np.random.seed(s)` streams, bit for bit.
///
/// It reproduces numpy.random.RandomState (the module-level np.random.* functions) for integer
/// seeds, so programs ported from NumPy tutorials print the same numbers:
/// - seed(s): MT19937 init_genrand(s), exactly what `std::mt19937 engine(s)` does, so the engine's
///   32-bit outputs are NumPy's words; any cached Gaussian is dropped.
/// - random(): two words a, b -> ((a >> 5) * 2^26 + (b >> 6)) / 2^53, in [0, 1).
/// - randn(): the legacy polar method (pairs of normals, the second cached for the next call).
/// - randint(low, high): masked rejection on 32-bit words (64-bit words, high word first, when
///   high - 1 - low >= 2^32); permutation(n): Fisher-Yates from the back with the same rejection.
/// Arrays are filled in row-major order, like NumPy's. Values are float64 unless the options ask
/// for float32 (then they are NumPy's float64 values rounded, as `.astype(np.float32)` would).
/// Checked against numpy_rng.json (NumPy 1.24) in tests/test_random.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tapegrad/tensor.hpp"

namespace tg {

/// NumPy's legacy RandomState for integer seeds. Not thread-safe: one instance per thread.
class NumpyRandomState {
 public:
  /// Seeded as np.random.seed(seed); seed must be in [0, 2^32).
  explicit NumpyRandomState(std::uint64_t seed = 0) { this->seed(seed); }

  /// np.random.seed(seed): restarts the stream. Throws tg::Error unless 0 <= seed < 2^32.
  void seed(std::uint64_t seed);

  /// np.random.random(shape) (= random_sample, rand): uniform on [0, 1).
  Tensor random(const Shape& shape, TensorOptions options = kFloat64);
  /// np.random.randn(*shape) (= standard_normal): standard normal, legacy polar method.
  Tensor randn(const Shape& shape, TensorOptions options = kFloat64);
  /// np.random.uniform(low, high, shape): low + (high - low) * random(). As in NumPy, low > high
  /// is allowed (values then lie in (high, low]); high - low must be finite.
  Tensor uniform(double low, double high, const Shape& shape, TensorOptions options = kFloat64);
  /// np.random.randint(low, high, shape): int64 uniform on [low, high); needs low < high.
  Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape);
  /// np.random.permutation(n): a shuffled 0..n-1 (int64, shape (n)); needs n >= 0.
  Tensor permutation(std::int64_t n);

  /// One tempered 32-bit MT19937 word (NumPy's next_uint32).
  std::uint32_t next_uint32();
  /// One double from two words, as NumPy's legacy random_sample.
  double next_double();
  /// One standard normal, as NumPy's legacy_gauss.
  double next_gauss();
  /// Uniform integer in [0, bound] by NumPy's masked rejection (bound 0 draws nothing).
  std::uint64_t next_interval(std::uint64_t bound);

 private:
  std::uint64_t next_uint64();

  // The std::mt19937 lives in these bytes (numpy_random.cpp checks the size), so that this
  // header need not include <random>.
  static constexpr std::size_t kEngineBytes = 5000;
  alignas(8) unsigned char engine_[kEngineBytes];
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

}  // namespace tg
