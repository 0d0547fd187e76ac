// Weight initialisers (see init.hpp for the formulas).
#include "tapegrad/nn/init.hpp"

#include <cmath>
#include <vector>

#include "internal.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::nn::init {

namespace {

/// Checks t is a floating leaf tensor; op names the initialiser in messages.
void require_fillable(const char* op, const Tensor& t) {
  if (!t.defined()) fail(op, ": got an undefined tensor");
  if (!t.is_floating_point()) fail(op, ": expected a float32 or float64 tensor, got ", to_string(t.dtype()));
  if (!t.is_leaf()) fail(op, ": can only fill a leaf tensor, not the output of '", t.grad_fn_name(), "'");
}

/// Sets every element to draw() (called in row-major order).
template <class Draw>
Tensor fill(const char* op, Tensor t, Draw draw) {
  require_fillable(op, t);
  detail::visit_floating_mut(op, t, [&](auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    for (auto& v : values) v = static_cast<T>(draw());
  });
  return t;
}

/// Copies random values of t's shape and dtype, made by make(options), into t.
template <class Make>
Tensor fill_random(const char* op, Tensor t, Make make) {
  require_fillable(op, t);
  if (t.numel() > 0) detail::copy_values(t, make(TensorOptions(t.dtype())));
  return t;
}

Tensor fill_uniform(const char* op, Tensor t, double a, double b, Generator* gen) {
  if (!(a <= b)) fail(op, ": lower bound ", a, " exceeds upper bound ", b);
  const Shape shape = t.shape();
  return fill_random(op, std::move(t), [&](TensorOptions o) { return uniform(shape, a, b, o, gen); });
}

Tensor fill_normal(const char* op, Tensor t, double mean, double std, Generator* gen) {
  if (!(std >= 0)) fail(op, ": std must be >= 0, got ", std);
  const Shape shape = t.shape();
  return fill_random(op, std::move(t), [&](TensorOptions o) { return normal(shape, mean, std, o, gen); });
}

std::size_t fan_for(const char* op, const Tensor& t, const std::string& mode) {
  const Fans f = calculate_fans(t);
  if (mode == "fan_in") return f.fan_in;
  if (mode == "fan_out") return f.fan_out;
  fail(op, ": mode must be \"fan_in\" or \"fan_out\", got \"", mode, "\"");
}

}  // namespace

Fans calculate_fans(const Tensor& weight) {
  if (!weight.defined() || weight.dim() < 2)
    fail("calculate_fans: fans need a tensor with at least 2 axes, got shape ",
         weight.defined() ? to_string(weight.shape()) : std::string("(undefined)"));
  const Shape s = weight.shape();
  std::size_t receptive_field = 1;
  for (std::size_t i = 2; i < s.size(); ++i) receptive_field *= s[i];
  return {s[1] * receptive_field, s[0] * receptive_field};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "identity" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  fail("calculate_gain: unknown nonlinearity \"", nonlinearity,
       "\" (expected linear, identity, sigmoid, tanh, relu, leaky_relu or selu)");
}

Tensor constant_(Tensor t, double value) {
  return fill("constant_", std::move(t), [value] { return value; });
}
Tensor zeros_(Tensor t) { return fill("zeros_", std::move(t), [] { return 0.0; }); }
Tensor ones_(Tensor t) { return fill("ones_", std::move(t), [] { return 1.0; }); }

Tensor uniform_(Tensor t, double a, double b, Generator* gen) {
  return fill_uniform("uniform_", std::move(t), a, b, gen);
}

Tensor normal_(Tensor t, double mean, double std, Generator* gen) {
  return fill_normal("normal_", std::move(t), mean, std, gen);
}

Tensor xavier_uniform_(Tensor t, double gain, Generator* gen) {
  const Fans f = calculate_fans(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  return fill_uniform("xavier_uniform_", std::move(t), -bound, bound, gen);
}

Tensor xavier_normal_(Tensor t, double gain, Generator* gen) {
  const Fans f = calculate_fans(t);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  return fill_normal("xavier_normal_", std::move(t), 0.0, std, gen);
}

Tensor kaiming_uniform_(Tensor t, double a, const std::string& mode, const std::string& nonlinearity,
                        Generator* gen) {
  const double fan = static_cast<double>(fan_for("kaiming_uniform_", t, mode));
  const double bound = std::sqrt(3.0) * calculate_gain(nonlinearity, a) / std::sqrt(fan);
  return fill_uniform("kaiming_uniform_", std::move(t), -bound, bound, gen);
}

Tensor kaiming_normal_(Tensor t, double a, const std::string& mode, const std::string& nonlinearity,
                       Generator* gen) {
  const double fan = static_cast<double>(fan_for("kaiming_normal_", t, mode));
  return fill_normal("kaiming_normal_", std::move(t), 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan),
                     gen);
}

Tensor lecun_uniform_(Tensor t, Generator* gen) {
  const double bound = std::sqrt(3.0 / static_cast<double>(calculate_fans(t).fan_in));
  return fill_uniform("lecun_uniform_", std::move(t), -bound, bound, gen);
}

Tensor lecun_normal_(Tensor t, Generator* gen) {
  const double std = 1.0 / std::sqrt(static_cast<double>(calculate_fans(t).fan_in));
  return fill_normal("lecun_normal_", std::move(t), 0.0, std, gen);
}

Tensor orthogonal_(Tensor t, double gain, Generator* gen) {
  require_fillable("orthogonal_", t);
  if (t.dim() < 2) fail("orthogonal_: needs a tensor with at least 2 axes, got shape ", to_string(t.shape()));
  const std::size_t rows = t.size(0), cols = rows ? t.numel() / rows : 0;
  // Work on an (m, n) matrix with m >= n whose columns we orthonormalise; transpose back after.
  const bool transposed = rows < cols;
  const std::size_t m = transposed ? cols : rows, n = transposed ? rows : cols;
  // Column j is q[j*m .. j*m + m), filled with independent standard normals.
  const xt::xarray<double> gaussian = randn({m * n}, TensorOptions(kFloat64), gen).value<double>();
  std::vector<double> q(gaussian.begin(), gaussian.end());
  for (std::size_t j = 0; j < n; ++j) {
    double* v = &q[j * m];
    // Modified Gram-Schmidt, run twice ("twice is enough") so Q is orthonormal to rounding.
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t i = 0; i < j; ++i) {
        const double* u = &q[i * m];
        double dot = 0;
        for (std::size_t k = 0; k < m; ++k) dot += u[k] * v[k];
        for (std::size_t k = 0; k < m; ++k) v[k] -= dot * u[k];
      }
    double norm = 0;
    for (std::size_t k = 0; k < m; ++k) norm += v[k] * v[k];
    norm = std::sqrt(norm);
    for (std::size_t k = 0; k < m; ++k) v[k] /= norm;
  }
  // Element (r, c) of the result: Q[r][c] = q[c*m + r], or Q^T when transposed.
  std::size_t flat = 0;
  return fill("orthogonal_", std::move(t), [&] {
    const std::size_t r = flat / cols, c = flat % cols;
    ++flat;
    return gain * (transposed ? q[r * m + c] : q[c * m + r]);
  });
}

}  // namespace tg::nn::init
