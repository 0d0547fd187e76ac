// Shared tolerances and helpers for the op tests (test_ops_*.cpp, test_reference_*.cpp).
//
// - check_gradients(): first- and second-order gradcheck of a float64 function on small inputs,
//   with one set of finite-difference tolerances for every op.
// - Reference comparisons: |ours - torch| <= atol + rtol |torch| elementwise, with the worst
//   errors collected so each fixture test can report them.
// - float32 vs float64: one tolerance for "agrees to float32 precision".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::testing {

// ---- Tolerances ----------------------------------------------------------------------------------

/// Central differences in float64 with h = 1e-6 err by about h^2 |f'''| (truncation) plus
/// 1e-16 |f| / h (rounding), i.e. < 1e-8 for the O(1) functions and small inputs used here; the
/// bounds below leave a margin of 10-100 over that and are still far below any real derivative
/// error (a wrong formula is off by O(1)).
inline GradcheckOptions op_gradcheck_options() { return GradcheckOptions().eps(1e-6).atol(1e-7).rtol(1e-5); }

/// PyTorch fixtures: outputs and first-order gradients agree to 1e-12 + 1e-10 |torch|.
inline constexpr double kReferenceAtol = 1e-12;
inline constexpr double kReferenceRtol = 1e-10;
/// Second-order quantities (HVPs, double backward) go through longer chains: 1e-8 relative.
inline constexpr double kSecondOrderAtol = 1e-12;
inline constexpr double kSecondOrderRtol = 1e-8;

/// float32 results agree with float64 ones when |f32 - f64| <= rtol (|f64| + max |f64|): about 40
/// float32 ulps (eps = 1.2e-7) relative to the tensor's scale, which allows for the cancellation
/// in sums and the chains of a backward pass.
inline constexpr double kFloat32Rtol = 5e-6;

// ---- Inputs ----------------------------------------------------------------------------------------

/// A float64 leaf requiring grad with values drawn uniformly from [lo, hi) (fixed seed per call).
inline Tensor random_leaf(const Shape& shape, double lo, double hi, std::uint64_t seed = 1) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  xt::xarray<double> v = xt::xarray<double>::from_shape(shape);
  for (auto& e : v) e = dist(gen);
  return Tensor(std::move(v), true);
}

/// Like random_leaf() in [-hi, hi], but every value at least `gap` away from 0 (for kinks at 0).
inline Tensor away_from_zero(const Shape& shape, double gap, double hi, std::uint64_t seed = 1) {
  Tensor t = random_leaf(shape, -hi, hi, seed);
  for (auto& e : t.mutable_value<double>()) e = e < 0 ? e - gap : e + gap;
  return t;
}

/// A float64 leaf requiring grad from a number or nested lists.
inline Tensor param(const NestedList& values) { return tensor(values, TensorOptions(kFloat64).requires_grad()); }
/// A float64 leaf requiring grad of the given shape, from row-major values.
inline Tensor param(const Shape& shape, const std::vector<double>& values) {
  xt::xarray<double> v = xt::xarray<double>::from_shape(shape);
  REQUIRE(v.size() == values.size());
  std::copy(values.begin(), values.end(), v.begin());
  return Tensor(std::move(v), true);
}

/// An int64 index tensor, from nested lists or from a shape and row-major values.
inline Tensor indices(xt::xarray<std::int64_t> values) { return Tensor(std::move(values)); }
inline Tensor indices(const Shape& shape, const std::vector<std::int64_t>& values) {
  xt::xarray<std::int64_t> v = xt::xarray<std::int64_t>::from_shape(shape);
  REQUIRE(v.size() == values.size());
  std::copy(values.begin(), values.end(), v.begin());
  return Tensor(std::move(v));
}

// ---- Gradient checks -------------------------------------------------------------------------------

using OpFunction = std::function<Tensor(const std::vector<Tensor>&)>;

/// gradcheck and gradgradcheck of f at inputs with the shared tolerances; `what` labels failures.
inline void check_gradients(const std::string& what, const OpFunction& f, const std::vector<Tensor>& inputs,
                            bool second_order = true) {
  INFO(what);
  const GradcheckReport first = gradcheck(f, inputs, op_gradcheck_options());
  INFO(first.to_string());
  CHECK(first.passed);
  if (!second_order) return;
  const GradcheckReport second = gradgradcheck(f, inputs, op_gradcheck_options());
  INFO(second.to_string());
  CHECK(second.passed);
}

// ---- Elementwise comparison -------------------------------------------------------------------------

/// The worst disagreement seen over many comparisons.
struct ErrorStats {
  double max_abs = 0;          ///< max |ours - expected|
  double max_rel = 0;          ///< max |ours - expected| / |expected| over elements with |expected| >= 1e-8
  double max_tol_ratio = 0;    ///< max |ours - expected| / (atol + rtol |expected|): <= 1 means within tolerance
  std::string worst;           ///< label of the comparison with the largest tol ratio
  std::string worst_rel;       ///< label of the comparison with the largest max_rel
  std::size_t values = 0;      ///< elements compared

  void merge(const ErrorStats& o) {
    max_abs = std::max(max_abs, o.max_abs);
    if (o.max_rel >= max_rel) {
      max_rel = o.max_rel;
      worst_rel = o.worst_rel;
    }
    if (o.max_tol_ratio >= max_tol_ratio) {
      max_tol_ratio = o.max_tol_ratio;
      worst = o.worst;
    }
    values += o.values;
  }
};

/// Compares ours with expected elementwise (shapes must match; NaN never passes). Returns the
/// errors; the caller CHECKs max_tol_ratio <= 1.
inline ErrorStats compare_values(const std::string& label, const Tensor& ours, const Tensor& expected, double atol,
                                 double rtol) {
  ErrorStats s;
  s.worst = s.worst_rel = label;
  INFO(label);
  REQUIRE(ours.defined());
  REQUIRE(ours.shape() == expected.shape());
  const xt::xarray<double> a = ours.to_double(), b = expected.to_double();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    const double err = std::abs(x - y);
    const double ratio = std::isnan(err) ? INFINITY : err / (atol + rtol * std::abs(y));
    s.max_abs = std::max(s.max_abs, std::isnan(err) ? INFINITY : err);
    if (std::abs(y) >= 1e-8) s.max_rel = std::max(s.max_rel, err / std::abs(y));
    s.max_tol_ratio = std::max(s.max_tol_ratio, ratio);
  }
  s.values = a.size();
  return s;
}

/// float32 vs float64: |f32 - f64| <= kFloat32Rtol (|f64| + max |f64|) + FLT_MIN elementwise
/// (values below float32's normal range may flush to 0).
inline void check_float32_matches(const std::string& label, const Tensor& f32, const Tensor& f64) {
  INFO(label);
  REQUIRE(f32.dtype() == kFloat32);
  REQUIRE(f64.dtype() == kFloat64);
  REQUIRE(f32.shape() == f64.shape());
  const xt::xarray<double> a = f32.to_double(), b = f64.to_double();
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": float32 " << a.data()[i] << " vs float64 " << b.data()[i]);
    CHECK(std::abs(a.data()[i] - b.data()[i]) <=
          kFloat32Rtol * (std::abs(b.data()[i]) + scale) + std::numeric_limits<float>::min());
  }
}

/// Every element finite.
inline bool all_finite(const Tensor& t) {
  const xt::xarray<double> v = t.to_double();
  return std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e); });
}

/// All elements as doubles in row-major order (for CHECK(values(t) == std::vector<double>{...})).
inline std::vector<double> values(const Tensor& t) {
  const xt::xarray<double> v = t.to_double();
  return std::vector<double>(v.begin(), v.end());
}

/// Element i of a tensor as a double (row-major flat index).
inline double at(const Tensor& t, std::size_t i) { return t.to_double().data()[i]; }

}  // namespace tg::testing
