// Helpers shared by the nn tests: closeness checks and gradcheck of a module's parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::testing {

/// What operator<< prints for v (a module's repr, for example).
template <class T>
std::string streamed(const T& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

/// Normwise relative error max|actual - expected| / max|expected| (absolute when expected is 0).
inline double rel_error(const xt::xarray<double>& actual, const xt::xarray<double>& expected) {
  REQUIRE(actual.shape() == expected.shape());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff = std::max(diff, std::abs(actual.data()[i] - expected.data()[i]));
    scale = std::max(scale, std::abs(expected.data()[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/// Checks actual against expected with a normwise relative tolerance, naming the quantity.
inline void check_rel(const std::string& what, const Tensor& actual, const xt::xarray<double>& expected,
                      double tol) {
  REQUIRE(actual.defined());
  const double err = rel_error(actual.to_double(), expected);
  INFO(what << ": relative error " << err << " (tolerance " << tol << ")");
  CHECK(err <= tol);
}

/// Elementwise |a - b| <= atol + rtol |b|, the comparison the reference README suggests.
inline void check_allclose(const std::string& what, const Tensor& actual, const xt::xarray<double>& expected,
                           double rtol = 1e-10, double atol = 1e-12) {
  REQUIRE(actual.defined());
  const xt::xarray<double> a = actual.to_double();
  INFO(what << ": shape " << to_string(actual.shape()));
  REQUIRE(a.shape() == expected.shape());
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a.data()[i] - expected.data()[i]);
    if (!(err <= atol + rtol * std::abs(expected.data()[i]))) ++bad;
    worst = std::max(worst, err);
  }
  INFO(what << ": " << bad << " elements out of tolerance, worst abs error " << worst);
  CHECK(bad == 0);
}

/// A float64 array of the given shape with entries uniform in [lo, hi), from gen.
inline xt::xarray<double> random_array(std::mt19937_64& gen, const Shape& shape, double lo = -1.0,
                                       double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  auto a = xt::xarray<double>::from_shape(shape);
  for (auto& v : a) v = dist(gen);
  return a;
}

/// gradcheck of module.forward with respect to the input x and every parameter of the module
/// (all float64). gradcheck probes copies of its inputs, so the function writes the probed
/// parameter values into the module before each forward; the originals are restored at the end.
inline GradcheckReport module_gradcheck(nn::Module& module, const Tensor& x, GradcheckOptions options = {}) {
  std::vector<Tensor> params = module.parameters();
  std::vector<Tensor> saved;
  for (const Tensor& p : params) saved.push_back(p.detach());
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), params.begin(), params.end());
  auto f = [&](const std::vector<Tensor>& in) {
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!in[i + 1].is_same(params[i])) params[i].mutable_value<double>() = in[i + 1].value<double>();
    return module.forward(in[0]);
  };
  GradcheckReport report = gradcheck(SingleFunction(f), inputs, options);
  for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_value<double>() = saved[i].value<double>();
  return report;
}

}  // namespace tg::testing
