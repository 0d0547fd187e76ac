// tg::Generator and the random factories. Each factory checks its arguments, fills a fresh array
// in row-major order from the generator and returns a leaf.
#include "tapegrad/random.hpp"

#include <cmath>
#include <limits>
#include <new>
#include <numeric>
#include <random>
#include <type_traits>
#include <utility>

#include "kernels.hpp"

// NOTE: the transforms are documented as separately rounded products and sums; forbid fused
// multiply-adds so a seed gives the same values on every machine and with any -march flags.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "sampling.hpp"

namespace tg {

// ---- Generator ------------------------------------------------------------------------------------

namespace {
static_assert(std::is_trivially_copyable_v<std::mt19937_64> &&
              std::is_trivially_destructible_v<std::mt19937_64>);
std::mt19937_64& engine_in(unsigned char* bytes) {
  return *std::launder(reinterpret_cast<std::mt19937_64*>(bytes));
}
}  // namespace

void Generator::manual_seed(std::uint64_t seed) {
  static_assert(sizeof(std::mt19937_64) == kEngineBytes && alignof(std::mt19937_64) <= 8,
                "Generator::kEngineBytes must match std::mt19937_64");
  new (engine_) std::mt19937_64(seed);
  seed_ = seed;
  has_cached_normal_ = false;
  cached_normal_ = 0.0;
}

std::uint64_t Generator::next_u64() { return engine_in(engine_)(); }

double Generator::next_double() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

float Generator::next_float() {
  return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f;
}

double Generator::next_normal() {
  return detail::polar_normal([this] { return next_double(); }, cached_normal_, has_cached_normal_);
}

std::uint64_t Generator::next_below_or_equal(std::uint64_t bound) {
  if (bound == 0) return 0;
  const std::uint64_t mask = detail::mask_covering(bound);
  std::uint64_t v;
  do {
    v = next_u64() & mask;
  } while (v > bound);
  return v;
}

Generator& default_generator() {
  thread_local Generator generator;
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

// ---- Factories ------------------------------------------------------------------------------------

namespace {

Generator& or_default(Generator* gen) { return gen ? *gen : default_generator(); }

void require_floating_options(const char* op, const TensorOptions& options) {
  if (!is_floating(options.dtype_))
    fail(op, ": dtype must be float32 or float64, not ", to_string(options.dtype_));
}

/// A leaf of options.dtype whose elements are draw(T{}) in row-major order.
template <class Draw>
Tensor fill_floating(const char* op, const Shape& shape, const TensorOptions& options, Draw draw) {
  auto fill = [&](auto tag) {
    using T = decltype(tag);
    auto a = detail::empty_array<T>(shape, op);
    for (T& e : a) e = draw(tag);
    return Tensor(std::move(a), options.requires_grad_);
  };
  return options.dtype_ == kFloat64 ? fill(double{}) : fill(float{});
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  require_floating_options("rand", options);
  Generator& g = or_default(gen);
  return fill_floating("rand", shape, options, [&](auto tag) {
    if constexpr (std::is_same_v<decltype(tag), double>) return g.next_double();
    else return g.next_float();
  });
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  require_floating_options("randn", options);
  Generator& g = or_default(gen);
  return fill_floating("randn", shape, options, [&](auto tag) {
    return static_cast<decltype(tag)>(g.next_normal());
  });
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator* gen) {
  require_floating_options("uniform", options);
  if (!std::isfinite(low) || !std::isfinite(high) || !(low <= high))
    fail("uniform: needs finite low <= high, got low = ", low, ", high = ", high);
  Generator& g = or_default(gen);
  const double range = high - low;
  return fill_floating("uniform", shape, options, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, double>) {
      return low + range * g.next_double();
    } else {
      // NOTE: rounding to float can reach high itself; keep the interval half-open.
      const float v = static_cast<float>(low + range * g.next_float());
      const float top = static_cast<float>(high);
      return (v >= top && low < high) ? std::nextafter(top, -std::numeric_limits<float>::infinity())
                                      : v;
    }
  });
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen) {
  require_floating_options("normal", options);
  if (!std::isfinite(mean) || !std::isfinite(std) || std < 0)
    fail("normal: needs finite mean and finite std >= 0, got mean = ", mean, ", std = ", std);
  Generator& g = or_default(gen);
  return fill_floating("normal", shape, options, [&](auto tag) {
    return static_cast<decltype(tag)>(mean + std * g.next_normal());
  });
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator* gen) {
  if (low >= high) fail("randint: low (", low, ") must be less than high (", high, ")");
  Generator& g = or_default(gen);
  // Unsigned arithmetic: high - 1 - low and low + v wrap correctly across the whole int64 range.
  const std::uint64_t bound =
      static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) - 1;
  auto a = detail::empty_array<std::int64_t>(shape, "randint");
  for (auto& e : a)
    e = static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + g.next_below_or_equal(bound));
  return Tensor(std::move(a));
}

Tensor randperm(std::int64_t n, Generator* gen) {
  if (n < 0) fail("randperm: n must be >= 0, got ", n);
  Generator& g = or_default(gen);
  auto a = detail::empty_array<std::int64_t>(Shape{static_cast<std::size_t>(n)}, "randperm");
  std::iota(a.begin(), a.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i >= 1; --i)
    std::swap(a(i), a(g.next_below_or_equal(static_cast<std::uint64_t>(i))));
  return Tensor(std::move(a));
}

}  // namespace tg
