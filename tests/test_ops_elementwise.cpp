// Elementwise ops: float64 gradcheck and gradgradcheck of every op (binary ops over the broadcast
// patterns (3,4)+(4,), (3,1)+(1,4), (2,3,4)*(3,1) and ()+(2,3)), hand-derived values, stability
// at |x| = 1000, NaN propagation and error messages.
#include <limits>

#include "op_check.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;
const double kInf = std::numeric_limits<double>::infinity();

/// The broadcast patterns every binary op is checked on: (a shape, b shape).
const std::vector<std::pair<Shape, Shape>> kBroadcastPatterns = {
    {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{}, {2, 3}}, {{2, 3}, {}}};

/// NumPy's broadcast of two shapes (written out here independently of the library).
Shape broadcast(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    const std::size_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// gradcheck + gradgradcheck of a binary op over every broadcast pattern; a and b drawn from
/// [lo_a, hi_a) and [lo_b, hi_b), and the result shape checked against NumPy's rule.
void check_binary(const std::string& name, const OpFunction& f, double lo_a, double hi_a, double lo_b, double hi_b) {
  std::uint64_t seed = 10;
  for (const auto& [sa, sb] : kBroadcastPatterns) {
    Tensor a = random_leaf(sa, lo_a, hi_a, seed++), b = random_leaf(sb, lo_b, hi_b, seed++);
    const std::string what = name + " " + to_string(sa) + " with " + to_string(sb);
    CHECK(f({a, b}).shape() == broadcast(sa, sb));
    check_gradients(what, f, {a, b});
  }
}

/// gradcheck + gradgradcheck of a unary op on a (2,3) input drawn from [lo, hi).
void check_unary(const std::string& name, const OpFunction& f, double lo, double hi) {
  check_gradients(name, f, {random_leaf({2, 3}, lo, hi, 7)});
}

}  // namespace

TEST_CASE("add: broadcasting, gradients summed back to each input") {
  check_binary("add", [](const Inputs& x) { return x[0] + x[1]; }, -2, 2, -2, 2);
  // By hand: d/db sum(a + b) for b (4,) broadcast over 3 rows is 3 per element.
  Tensor a = random_leaf({3, 4}, -1, 1), b = random_leaf({4}, -1, 1, 2);
  auto g = tg::grad({sum(a + b)}, {a, b});
  CHECK(g[0].shape() == Shape{3, 4});
  CHECK(g[1].shape() == Shape{4});
  for (std::size_t i = 0; i < 4; ++i) CHECK(at(g[1], i) == 3.0);
}

TEST_CASE("sub: broadcasting") {
  check_binary("sub", [](const Inputs& x) { return x[0] - x[1]; }, -2, 2, -2, 2);
  Tensor a = param({1.0, 2.0}), b = param(5.0);
  auto g = tg::grad({sum(a - b)}, {a, b});
  CHECK(at(a - b, 1) == -3.0);
  CHECK(at(g[1], 0) == -2.0);  // two elements, each contributing -1
}

TEST_CASE("mul: broadcasting, derived by hand") {
  check_binary("mul", [](const Inputs& x) { return x[0] * x[1]; }, -2, 2, -2, 2);
  // f = sum(a * b) with a (2,) and b (2,1): f = (b0 + b1)(a0 + a1); df/da_j = b0 + b1.
  Tensor a = param({1.0, 2.0}), b = param({2, 1}, {3.0, 4.0});
  auto g = tg::grad({sum(a * b)}, {a, b});
  CHECK(at(g[0], 0) == 7.0);
  CHECK(at(g[1], 1) == 3.0);
}

TEST_CASE("div: broadcasting, both inputs") {
  check_binary("div", [](const Inputs& x) { return x[0] / x[1]; }, -2, 2, 0.5, 2);
  // d(a/b)/db = -a/b^2: a = 3, b = 2 -> -0.75
  Tensor a = param(3.0), b = param(2.0);
  auto g = tg::grad({a / b}, {a, b});
  CHECK(at(g[0], 0) == 0.5);
  CHECK(at(g[1], 0) == -0.75);
}

TEST_CASE("neg") {
  check_unary("neg", [](const Inputs& x) { return -x[0]; }, -2, 2);
}

TEST_CASE("operators with scalars: x+s, s+x, x-s, s-x, x*s, s*x, x/s, s/x") {
  check_unary("x + 1.5", [](const Inputs& x) { return x[0] + 1.5; }, -2, 2);
  check_unary("1.5 + x", [](const Inputs& x) { return 1.5 + x[0]; }, -2, 2);
  check_unary("x - 1.5", [](const Inputs& x) { return x[0] - 1.5; }, -2, 2);
  check_unary("1.5 - x", [](const Inputs& x) { return 1.5 - x[0]; }, -2, 2);
  check_unary("x * -2.5", [](const Inputs& x) { return x[0] * -2.5; }, -2, 2);
  check_unary("-2.5 * x", [](const Inputs& x) { return -2.5 * x[0]; }, -2, 2);
  check_unary("x / 4", [](const Inputs& x) { return x[0] / 4.0; }, -2, 2);
  check_unary("3 / x", [](const Inputs& x) { return 3.0 / x[0]; }, 0.5, 2);
  // By hand at x = 2: d(3/x)/dx = -3/4, d(1.5 - x)/dx = -1.
  Tensor x = param(2.0);
  CHECK(at(tg::grad({3.0 / x}, {x})[0], 0) == -0.75);
  CHECK(at(tg::grad({1.5 - x}, {x})[0], 0) == -1.0);
  CHECK(at(x - 1.5, 0) == 0.5);
  // The scalar takes the tensor's dtype.
  CHECK((ones({2}) * 2.0).dtype() == kFloat32);
}

TEST_CASE("pow: tensor^scalar, tensor^tensor, scalar^tensor") {
  for (double p : {2.0, 3.0, 0.5, -1.5, 0.0, 1.0})
    check_unary("x^" + std::to_string(p), [p](const Inputs& x) { return pow(x[0], p); }, 0.5, 2);
  // Integer powers of negative numbers are fine.
  check_unary("x^3 (negative x)", [](const Inputs& x) { return pow(x[0], 3.0); }, -2, -0.5);
  check_binary("tensor^tensor", [](const Inputs& x) { return pow(x[0], x[1]); }, 0.5, 2, -1.5, 1.5);
  check_unary("2^x", [](const Inputs& x) { return pow(2.0, x[0]); }, -2, 2);
  check_unary("0.3^x", [](const Inputs& x) { return pow(0.3, x[0]); }, -2, 2);
  // By hand: d/dx x^3 = 3x^2 = 12 at 2; d/db a^b = a^b log a = 8 log 2 at a = 2, b = 3.
  Tensor a = param(2.0), b = param(3.0);
  auto g = tg::grad({pow(a, b)}, {a, b});
  CHECK(at(g[0], 0) == Approx(12.0).epsilon(1e-15));
  CHECK(at(g[1], 0) == Approx(8.0 * std::log(2.0)).epsilon(1e-15));
  CHECK(at(tg::grad({pow(2.0, b)}, {b})[0], 0) == Approx(8.0 * std::log(2.0)).epsilon(1e-15));
  // At a = 0 PyTorch defines d/da 0^0 = 0 and d/db 0^b = 0 (b >= 0) instead of 0 * inf = NaN.
  Tensor z = param({0.0, 0.0}), e = param({0.0, 2.0});
  auto gz = tg::grad({sum(pow(z, e))}, {z, e});
  CHECK(at(gz[0], 0) == 0.0);
  CHECK(at(gz[0], 1) == 0.0);
  CHECK(at(gz[1], 0) == 0.0);
  CHECK(at(gz[1], 1) == 0.0);
  CHECK(at(tg::grad({sum(pow(z, 0.0))}, {z})[0], 0) == 0.0);
}

TEST_CASE("exp, log, sqrt") {
  check_unary("exp", [](const Inputs& x) { return exp(x[0]); }, -2, 2);
  check_unary("log", [](const Inputs& x) { return log(x[0]); }, 0.2, 3);
  check_unary("sqrt", [](const Inputs& x) { return sqrt(x[0]); }, 0.2, 3);
  Tensor x = param(4.0);
  CHECK(at(tg::grad({sqrt(x)}, {x})[0], 0) == 0.25);
  CHECK(at(tg::grad({log(x)}, {x})[0], 0) == 0.25);
}

TEST_CASE("abs: gradient sign(x), 0 at 0 as in PyTorch") {
  check_gradients("abs", [](const Inputs& x) { return abs(x[0]); }, {away_from_zero({2, 3}, 0.1, 2)});
  Tensor x = param({-2.0, 0.0, 3.0});
  auto g = tg::grad({sum(abs(x))}, {x});
  CHECK(at(g[0], 0) == -1.0);
  CHECK(at(g[0], 1) == 0.0);
  CHECK(at(g[0], 2) == 1.0);
}

TEST_CASE("sin, cos, tanh") {
  check_unary("sin", [](const Inputs& x) { return sin(x[0]); }, -3, 3);
  check_unary("cos", [](const Inputs& x) { return cos(x[0]); }, -3, 3);
  check_unary("tanh", [](const Inputs& x) { return tanh(x[0]); }, -2, 2);
  Tensor x = param(0.0);
  CHECK(at(tg::grad({tanh(x)}, {x})[0], 0) == 1.0);
  CHECK(at(tg::grad({cos(x)}, {x})[0], 0) == 0.0);
}

TEST_CASE("erf: d/dx = 2/sqrt(pi) exp(-x^2)") {
  check_unary("erf", [](const Inputs& x) { return erf(x[0]); }, -2, 2);
  Tensor x = param(1.0);
  CHECK(at(erf(x), 0) == Approx(0.8427007929497149).epsilon(1e-15));
  CHECK(at(tg::grad({erf(x)}, {x})[0], 0) == Approx(2.0 / std::sqrt(M_PI) * std::exp(-1.0)).epsilon(1e-15));
}

TEST_CASE("sigmoid: values, derivatives and saturation at |x| = 1000") {
  check_unary("sigmoid", [](const Inputs& x) { return sigmoid(x[0]); }, -4, 4);
  check_unary("sigmoid (saturated)", [](const Inputs& x) { return sigmoid(x[0]); }, 15, 30);
  Tensor x = param({0.0, 1000.0, -1000.0, 40.0, -40.0});
  const Tensor y = sigmoid(x);
  CHECK(at(y, 0) == 0.5);
  CHECK(at(y, 1) == 1.0);
  CHECK(at(y, 2) == 0.0);  // exp(-1000) underflows to 0, no NaN from inf/inf
  CHECK(at(y, 4) == Approx(std::exp(-40.0)).epsilon(1e-14));  // stays accurate deep in the left tail
  auto g = tg::grad({sum(y)}, {x}, {}, std::nullopt, true);
  CHECK(at(g[0], 0) == 0.25);
  CHECK(at(g[0], 1) == 0.0);
  CHECK(at(g[0], 2) == 0.0);
  const Tensor h = tg::grad({sum(g[0])}, {x})[0];  // sigmoid'' = s(1-s)(1-2s)
  CHECK(all_finite(h));
  CHECK(at(h, 0) == 0.0);
}

TEST_CASE("relu: gradient 1 where x > 0, else 0 (also at 0)") {
  check_gradients("relu", [](const Inputs& x) { return relu(x[0]); }, {away_from_zero({2, 3}, 0.1, 2)});
  Tensor x = param({-1.0, 0.0, 2.0});
  auto g = tg::grad({sum(relu(x))}, {x});
  CHECK(at(g[0], 0) == 0.0);
  CHECK(at(g[0], 1) == 0.0);
  CHECK(at(g[0], 2) == 1.0);
}

TEST_CASE("leaky_relu") {
  for (double slope : {0.01, 0.2})
    check_gradients("leaky_relu", [slope](const Inputs& x) { return leaky_relu(x[0], slope); },
                    {away_from_zero({2, 3}, 0.1, 2)});
  Tensor x = param({-2.0, 3.0});
  CHECK(at(leaky_relu(x, 0.2), 0) == -0.4);
  CHECK(at(tg::grad({sum(leaky_relu(x, 0.2))}, {x})[0], 0) == 0.2);
}

TEST_CASE("elu") {
  for (double alpha : {1.0, 0.5})
    check_gradients("elu", [alpha](const Inputs& x) { return elu(x[0], alpha); }, {away_from_zero({2, 3}, 0.1, 2)});
  // x = -1, alpha 0.5: 0.5 (e^-1 - 1); derivative 0.5 e^-1.
  Tensor x = param(-1.0);
  CHECK(at(elu(x, 0.5), 0) == Approx(0.5 * std::expm1(-1.0)).epsilon(1e-15));
  CHECK(at(tg::grad({elu(x, 0.5)}, {x})[0], 0) == Approx(0.5 * std::exp(-1.0)).epsilon(1e-15));
}

TEST_CASE("softplus: beta, threshold, and no overflow at |x| = 1000") {
  check_unary("softplus", [](const Inputs& x) { return softplus(x[0]); }, -3, 3);
  check_unary("softplus beta 2", [](const Inputs& x) { return softplus(x[0], 2.0, 20.0); }, -3, 3);
  // Above the threshold softplus is x (as PyTorch), gradient 1.
  check_unary("softplus linear region", [](const Inputs& x) { return softplus(x[0], 1.0, 5.0); }, 6, 9);
  Tensor x = param({0.0, 1000.0, -1000.0, 30.0});
  const Tensor y = softplus(x);
  CHECK(at(y, 0) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(at(y, 1) == 1000.0);
  CHECK(at(y, 2) == 0.0);
  CHECK(at(y, 3) == 30.0);
  // With a threshold out of reach the stable formula itself must cope with 1000.
  Tensor big = param({1000.0, -1000.0});
  const Tensor z = softplus(big, 1.0, 1e9);
  CHECK(at(z, 0) == 1000.0);
  CHECK(at(z, 1) == 0.0);
  auto g = tg::grad({sum(z)}, {big}, {}, std::nullopt, true);
  CHECK(at(g[0], 0) == 1.0);
  CHECK(at(g[0], 1) == 0.0);
  CHECK(all_finite(tg::grad({sum(g[0])}, {big})[0]));
}

TEST_CASE("gelu: exact (erf) and tanh approximation") {
  check_unary("gelu exact", [](const Inputs& x) { return gelu(x[0]); }, -3, 3);
  check_unary("gelu tanh", [](const Inputs& x) { return gelu(x[0], "tanh"); }, -3, 3);
  // gelu(1) = Phi(1) = 0.5 (1 + erf(1/sqrt 2)); gelu'(x) = Phi(x) + x phi(x).
  Tensor x = param(1.0);
  const double phi1 = std::exp(-0.5) / std::sqrt(2 * M_PI), Phi1 = 0.5 * (1 + std::erf(1 / std::sqrt(2.0)));
  CHECK(at(gelu(x), 0) == Approx(Phi1).epsilon(1e-15));
  CHECK(at(tg::grad({gelu(x)}, {x})[0], 0) == Approx(Phi1 + phi1).epsilon(1e-14));
  const double k = std::sqrt(2 / M_PI);
  CHECK(at(gelu(x, "tanh"), 0) == Approx(0.5 * (1 + std::tanh(k * 1.044715))).epsilon(1e-15));
  // Saturated inputs stay finite.
  Tensor big = param({-1000.0, 1000.0});
  for (const char* approx : {"none", "tanh"}) {
    const Tensor y = gelu(big, approx);
    CHECK(at(y, 0) == 0.0);
    CHECK(at(y, 1) == 1000.0);
    CHECK(all_finite(tg::grad({sum(y)}, {big})[0]));
  }
}

TEST_CASE("clamp: gradient 1 on [min, max], bounds optional") {
  Tensor x = away_from_zero({2, 3}, 0.1, 2);
  // Keep inputs 0.05 away from the bounds +-0.5.
  for (auto& e : x.mutable_value<double>())
    if (std::abs(std::abs(e) - 0.5) < 0.05) e += 0.1;
  check_gradients("clamp both", [](const Inputs& v) { return clamp(v[0], -0.5, 0.5); }, {x});
  check_gradients("clamp min", [](const Inputs& v) { return clamp(v[0], -0.5, kInf); }, {x});
  check_gradients("clamp max", [](const Inputs& v) { return clamp(v[0], -kInf, 0.5); }, {x});
  Tensor y = param({-1.0, 0.0, 1.0, 0.5});
  const Tensor c = clamp(y, -0.5, 0.5);
  CHECK(at(c, 0) == -0.5);
  CHECK(at(c, 2) == 0.5);
  auto g = tg::grad({sum(c)}, {y});
  CHECK(at(g[0], 0) == 0.0);
  CHECK(at(g[0], 1) == 1.0);
  CHECK(at(g[0], 3) == 1.0);  // at the bound, as PyTorch
}

TEST_CASE("maximum and minimum: broadcasting, ties share the gradient") {
  // Operands from disjoint ranges cannot tie: a in [0.1, 2), b in [-2, -0.1) then swapped roles.
  check_binary("maximum", [](const Inputs& x) { return maximum(x[0], x[1]); }, 0.1, 2, -2, -0.1);
  check_binary("maximum (b wins)", [](const Inputs& x) { return maximum(x[0], x[1]); }, -2, -0.1, 0.1, 2);
  check_binary("minimum", [](const Inputs& x) { return minimum(x[0], x[1]); }, 0.1, 2, -2, -0.1);
  check_binary("minimum (b wins)", [](const Inputs& x) { return minimum(x[0], x[1]); }, -2, -0.1, 0.1, 2);
  Tensor a = param({1.0, 2.0, 3.0}), b = param({3.0, 2.0, 1.0});
  auto g = tg::grad({sum(maximum(a, b))}, {a, b});
  CHECK(at(g[0], 0) == 0.0);
  CHECK(at(g[0], 1) == 0.5);
  CHECK(at(g[1], 1) == 0.5);
  CHECK(at(g[0], 2) == 1.0);
  auto h = tg::grad({sum(minimum(a, b))}, {a, b});
  CHECK(at(h[0], 0) == 1.0);
  CHECK(at(h[1], 1) == 0.5);
}

TEST_CASE("where: broadcasting condition and branches, scalar branches") {
  const Tensor cond =
      Tensor(xt::xarray<bool>{{true, false, true, false}, {false, false, true, true}, {true, true, false, true}});
  Tensor a = random_leaf({3, 4}, -1, 1), b = random_leaf({4}, -1, 1, 3), s = random_leaf({}, -1, 1, 4);
  check_gradients("where, b (4,)", [cond](const Inputs& x) { return where(cond, x[0], x[1]); }, {a, b});
  check_gradients("where, 0-d a", [cond](const Inputs& x) { return where(cond, x[0], x[1]); }, {s, b});
  check_gradients("where, (3,1) and (1,4)", [cond](const Inputs& x) { return where(cond, x[0], x[1]); },
                  {random_leaf({3, 1}, -1, 1, 5), random_leaf({1, 4}, -1, 1, 6)});
  const Tensor row = Tensor(xt::xarray<bool>{true, false, false, true});
  check_gradients("where, cond (4,) broadcast", [row](const Inputs& x) { return where(row, x[0], x[1]); },
                  {random_leaf({2, 3, 4}, -1, 1, 8), random_leaf({3, 1}, -1, 1, 9)});
  CHECK(where(row, random_leaf({2, 3, 4}, -1, 1), random_leaf({3, 1}, -1, 1)).shape() == Shape{2, 3, 4});
  check_gradients("where, scalar b", [cond](const Inputs& x) { return where(cond, x[0], 2.0); }, {a});
  check_gradients("where, scalar a", [cond](const Inputs& x) { return where(cond, -1.0, x[0]); }, {b});
  // By hand: gradient of a is the condition, of b its complement, summed over broadcast axes.
  auto g = tg::grad({sum(where(cond, a, b))}, {a, b});
  CHECK(at(g[0], 0) == 1.0);
  CHECK(at(g[0], 1) == 0.0);
  CHECK(at(g[1], 0) == 1.0);  // column 0: one false
  CHECK(at(g[1], 1) == 2.0);  // column 1: two false
}

TEST_CASE("elementwise: NaN propagates like PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tensor({nan, 1.0}, kFloat64), zero = zeros({2}, kFloat64);
  CHECK(std::isnan(at(relu(x), 0)));
  CHECK(std::isnan(at(maximum(x, zero), 0)));
  CHECK(std::isnan(at(maximum(zero, x), 0)));
  CHECK(std::isnan(at(minimum(x, zero), 0)));
  CHECK(std::isnan(at(minimum(zero, x), 0)));
  CHECK(std::isnan(at(clamp(x, -1, 1), 0)));
  CHECK(std::isnan(at(sigmoid(x), 0)));
  CHECK(std::isnan(at(softplus(x), 0)));
  CHECK(at(maximum(x, zero), 1) == 1.0);
}

TEST_CASE("elementwise: bad input raises tg::Error naming the op and shapes") {
  const Tensor a = zeros({3, 4}, kFloat64), b = zeros({5}, kFloat64);
  CHECK_THROWS_AS(a + b, Error);
  CHECK_THROWS_WITH(a + b, "add: shapes (3,4) and (5) cannot be broadcast together");
  CHECK_THROWS_WITH(a * zeros({4, 3}, kFloat64), Catch::Contains("mul") && Catch::Contains("(3,4) and (4,3)"));
  CHECK_THROWS_WITH(maximum(a, b), Catch::StartsWith("maximum: shapes (3,4) and (5)"));
  CHECK_THROWS_WITH(pow(a, b), Catch::StartsWith("pow: shapes (3,4) and (5)"));
  CHECK_THROWS_WITH(where(zeros({3, 4}, kBool), a, b), Catch::StartsWith("where: shapes (3,4) and (5)"));
  // float32 and float64 never mix silently.
  CHECK_THROWS_WITH(zeros({2}) - zeros({2}, kFloat64),
                    Catch::StartsWith("sub: dtype mismatch, float32(2) and float64(2)"));
  CHECK_THROWS_WITH(div(zeros({2}, kFloat64), zeros({2})), Catch::Contains("div: dtype mismatch"));
  CHECK_THROWS_WITH(where(zeros({2}, kBool), zeros({2}), zeros({2}, kFloat64)),
                    Catch::Contains("where: dtype mismatch"));
  // Non-floating or undefined inputs.
  CHECK_THROWS_WITH(exp(Tensor(xt::xarray<std::int64_t>{1, 2})),
                    "exp: expected a float32 or float64 tensor, got int64 of shape (2)");
  CHECK_THROWS_WITH(tanh(Tensor()), "tanh: got an undefined tensor");
  CHECK_THROWS_WITH(where(a, a, a), Catch::StartsWith("where: condition must be a bool tensor, got float64(3,4)"));
  // Bad arguments.
  CHECK_THROWS_WITH(gelu(a, "fast"), Catch::StartsWith("gelu: approximate must be"));
  CHECK_THROWS_WITH(clamp(a, 1.0, -1.0), Catch::StartsWith("clamp: min 1 is greater than max -1"));
  CHECK_THROWS_WITH(softplus(a, 0.0), Catch::StartsWith("softplus: beta must be non-zero"));
}
