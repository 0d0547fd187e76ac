/// \file
/// Random tensors: tg::Generator and the factories rand, randn, uniform, normal, randint, randperm.
///
/// Invariants
/// - A Generator is std::mt19937_64 plus tapegrad's own transforms (below), so a seed gives the
///   same values with every standard library: no std::*_distribution is involved.
/// - Every factory takes an optional `Generator*`; nullptr means the calling thread's default
///   generator. Default generators are thread-local: each thread's starts from kDefaultSeed,
///   tg::manual_seed() reseeds only the calling thread's, and no thread ever draws from another
///   thread's. So a single-threaded program is deterministic, and so is every thread of a
///   multi-threaded one whatever the interleaving. Two threads that are not seeded differently
///   draw the same values: seed each (e.g. manual_seed(base + thread_index)) when that matters.
/// - Values fill the result in row-major order, one 64-bit word per float value (more for a
///   normal pair whose polar draw is rejected).
///
/// For bit-for-bit NumPy `np.random.seed` streams use tg::NumpyRandomState (numpy_random.hpp).
#pragma once

#include <cstdint>

#include "tapegrad/tensor.hpp"

namespace tg {

/// Seed of every thread's default generator until manual_seed() is called on that thread.
inline constexpr std::uint64_t kDefaultSeed = 5489;

/// A seedable source of random numbers (std::mt19937_64 with documented transforms).
/// Not thread-safe: use one generator per thread (the default generators already are).
class Generator {
 public:
  /// Seeded with `seed` (default kDefaultSeed).
  explicit Generator(std::uint64_t seed = kDefaultSeed) { manual_seed(seed); }

  /// Restarts the stream: the engine is seeded with `seed` and any cached normal is dropped.
  void manual_seed(std::uint64_t seed);
  /// The seed of the last manual_seed() (or of the constructor).
  std::uint64_t initial_seed() const { return seed_; }

  /// The next raw 64-bit word of std::mt19937_64.
  std::uint64_t next_u64();
  /// Uniform in [0, 1): (word >> 11) * 2^-53, one word, every multiple of 2^-53 equally likely.
  double next_double();
  /// Uniform in [0, 1) with float precision: (word >> 40) * 2^-24, one word (never rounds to 1).
  float next_float();
  /// Standard normal by Marsaglia's polar method: u = 2 next_double() - 1, v likewise, retried
  /// while s = u^2 + v^2 is >= 1 or 0; then f = sqrt(-2 log(s) / s), returns f v and caches f u
  /// for the next call (so normals come in pairs; manual_seed drops the cache).
  double next_normal();
  /// Uniform integer in [0, bound] (inclusive) by masked rejection: v = word & mask, where mask
  /// is the smallest 2^k - 1 >= bound, redrawn while v > bound. Unbiased; bound 0 draws nothing.
  std::uint64_t next_below_or_equal(std::uint64_t bound);

 private:
  // The std::mt19937_64 lives in these bytes (random.cpp checks the size), so that this header
  // need not include <random>, one of the costliest standard headers.
  static constexpr std::size_t kEngineBytes = 2504;
  alignas(8) unsigned char engine_[kEngineBytes];
  std::uint64_t seed_ = kDefaultSeed;
  bool has_cached_normal_ = false;
  double cached_normal_ = 0.0;
};

/// The calling thread's default generator (created on first use with kDefaultSeed).
Generator& default_generator();
/// Seeds the calling thread's default generator (other threads are unaffected).
void manual_seed(std::uint64_t seed);

/// Uniform on [0, 1), as torch.rand. float64 values use 53 random bits (next_double), float32
/// values 24 (next_float). options: float32 (default dtype) or float64, requires_grad.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
/// Standard normal (mean 0, variance 1), as torch.randn; values by Generator::next_normal,
/// computed in double and rounded for float32.
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
/// Uniform on [low, high): low + (high - low) * u with u from rand(). Needs finite low <= high;
/// a float32 value that rounds up to high is replaced by the float just below it.
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {},
               Generator* gen = nullptr);
/// mean + std * z with z from randn(). Needs finite mean and finite std >= 0.
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options = {},
              Generator* gen = nullptr);
/// Integers uniform on [low, high) (int64), as torch.randint; needs low < high. Each value is
/// low + next_below_or_equal(high - 1 - low), so any range up to the full int64 span is exact.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator* gen = nullptr);
/// A random permutation of 0..n-1 (int64, shape (n)), as torch.randperm: Fisher-Yates from the
/// back, for i = n-1 down to 1 swap element i with j = next_below_or_equal(i). Needs n >= 0.
Tensor randperm(std::int64_t n, Generator* gen = nullptr);

}  // namespace tg
