// NumPy's legacy RandomState (numpy/random/src/legacy and distributions.c), re-expressed on
// std::mt19937. Every formula below is the one NumPy uses, in the same operation order.
#include "tapegrad/numpy_random.hpp"

#include <cmath>
#include <new>
#include <numeric>
#include <random>
#include <utility>

#include "kernels.hpp"

// NOTE: bit-exactness needs a * b + c rounded twice, as NumPy's baseline build does; forbid
// fused multiply-adds even when compiled with -march flags that offer them.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "sampling.hpp"

namespace tg {

namespace {
static_assert(std::is_trivially_copyable_v<std::mt19937> && std::is_trivially_destructible_v<std::mt19937>);
std::mt19937& engine_in(unsigned char* bytes) { return *std::launder(reinterpret_cast<std::mt19937*>(bytes)); }
}  // namespace

void NumpyRandomState::seed(std::uint64_t seed) {
  static_assert(sizeof(std::mt19937) == kEngineBytes && alignof(std::mt19937) <= 8,
                "NumpyRandomState::kEngineBytes must match std::mt19937");
  if (seed > 0xFFFFFFFFull) fail("NumpyRandomState::seed: seed must be in [0, 2^32), got ", seed);
  new (engine_) std::mt19937(static_cast<std::uint32_t>(seed));
  has_gauss_ = false;
  gauss_ = 0.0;
}

std::uint32_t NumpyRandomState::next_uint32() { return static_cast<std::uint32_t>(engine_in(engine_)()); }

double NumpyRandomState::next_double() {
  const std::uint32_t a = next_uint32() >> 5;
  const std::uint32_t b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandomState::next_gauss() {
  return detail::polar_normal([this] { return next_double(); }, gauss_, has_gauss_);
}

std::uint64_t NumpyRandomState::next_uint64() {
  // NumPy's mt19937_next64: the first word is the high half (checked against NumPy 1.24).
  const std::uint64_t high = next_uint32();
  return (high << 32) | next_uint32();
}

std::uint64_t NumpyRandomState::next_interval(std::uint64_t bound) {
  if (bound == 0) return 0;
  const std::uint64_t mask = detail::mask_covering(bound);
  std::uint64_t v;
  if (bound <= 0xFFFFFFFFull) {
    do v = next_uint32() & mask; while (v > bound);
  } else {
    do v = next_uint64() & mask; while (v > bound);
  }
  return v;
}

namespace {

/// A float64 array from draw(), rounded to float32 afterwards when the options ask for it.
template <class Draw>
Tensor fill(const char* op, const Shape& shape, const TensorOptions& options, Draw draw) {
  if (!is_floating(options.dtype_))
    fail(op, ": dtype must be float32 or float64, not ", to_string(options.dtype_));
  auto a = detail::empty_array<double>(shape, op);
  for (double& e : a) e = draw();
  if (options.dtype_ == kFloat32)
    return Tensor(xt::xarray<float>(xt::cast<float>(a)), options.requires_grad_);
  return Tensor(std::move(a), options.requires_grad_);
}

}  // namespace

Tensor NumpyRandomState::random(const Shape& shape, TensorOptions options) {
  return fill("NumpyRandomState::random", shape, options, [&] { return next_double(); });
}

Tensor NumpyRandomState::randn(const Shape& shape, TensorOptions options) {
  return fill("NumpyRandomState::randn", shape, options, [&] { return next_gauss(); });
}

Tensor NumpyRandomState::uniform(double low, double high, const Shape& shape,
                                 TensorOptions options) {
  const double range = high - low;
  if (!std::isfinite(range))
    fail("NumpyRandomState::uniform: high - low must be finite, got low = ", low,
         ", high = ", high);
  return fill("NumpyRandomState::uniform", shape, options,
              [&] { return low + range * next_double(); });
}

Tensor NumpyRandomState::randint(std::int64_t low, std::int64_t high, const Shape& shape) {
  if (low >= high)
    fail("NumpyRandomState::randint: low (", low, ") must be less than high (", high, ")");
  const std::uint64_t bound =
      static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) - 1;
  auto a = detail::empty_array<std::int64_t>(shape, "randint");
  for (auto& e : a)
    e = static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + next_interval(bound));
  return Tensor(std::move(a));
}

Tensor NumpyRandomState::permutation(std::int64_t n) {
  if (n < 0) fail("NumpyRandomState::permutation: n must be >= 0, got ", n);
  auto a = detail::empty_array<std::int64_t>(Shape{static_cast<std::size_t>(n)}, "permutation");
  std::iota(a.begin(), a.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i >= 1; --i)
    std::swap(a(i), a(next_interval(static_cast<std::uint64_t>(i))));
  return Tensor(std::move(a));
}

}  // namespace tg
