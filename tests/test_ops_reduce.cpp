// Reductions and the softmax family: float64 gradcheck and gradgradcheck over all axes, single
// axes, axis lists, negative axes and keepdim; hand-derived values; stability at |x| = 1000;
// zero-size inputs; error messages.
#include <algorithm>
#include <numeric>

#include "op_check.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;

/// A reduction called with (x, axes, keepdim).
using Reduction = std::function<Tensor(const Tensor&, const Axes&, bool)>;

/// The axis arguments every reduction is checked with on a (2,3,4) input.
const std::vector<std::pair<Axes, bool>> kAxisPatterns = {{{}, false},     {{}, true},        {{1}, false},
                                                          {{0}, true},     {{-1}, false},     {{0, 2}, false},
                                                          {{-1, 0}, true}, {{0, 1, 2}, false}};

std::string describe(const Axes& axes, bool keepdim) {
  std::string s = "axes {";
  for (std::size_t i = 0; i < axes.size(); ++i) s += (i ? "," : "") + std::to_string(axes[i]);
  return s + "}" + (keepdim ? " keepdim" : "");
}

/// Shape of reducing `shape` over axes (empty = all), written out independently of the library.
Shape reduced(const Shape& shape, Axes axes, bool keepdim) {
  const int n = static_cast<int>(shape.size());
  if (axes.empty()) axes.resize(shape.size()), std::iota(axes.begin(), axes.end(), 0);
  for (int& a : axes) a = a < 0 ? a + n : a;
  Shape out;
  for (int d = 0; d < n; ++d) {
    const bool r = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!r)
      out.push_back(shape[static_cast<std::size_t>(d)]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

/// gradcheck + gradgradcheck of a reduction over every axis pattern on x, checking the shape.
void check_reduction(const std::string& name, const Reduction& f, const Tensor& x) {
  for (const auto& [axes, keepdim] : kAxisPatterns) {
    const std::string what = name + " " + describe(axes, keepdim);
    INFO(what);
    CHECK(f(x, axes, keepdim).shape() == reduced(x.shape(), axes, keepdim));
    check_gradients(what, [&, axes = axes, keepdim = keepdim](const Inputs& v) { return f(v[0], axes, keepdim); }, {x});
  }
}

/// A (2,3,4) float64 leaf with distinct values at least 0.3 apart (no ties for max/min).
Tensor distinct_values(std::uint64_t seed) {
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.3 * static_cast<double>(i) - 3.5;
  std::mt19937_64 gen(seed);
  std::shuffle(v.begin(), v.end(), gen);
  return param({2, 3, 4}, v);
}

}  // namespace

TEST_CASE("sum: all, axes, negative axes, keepdim") {
  check_reduction(
      "sum", [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); }, random_leaf({2, 3, 4}, -2, 2));
  // By hand: every element gets the upstream gradient of its group.
  Tensor x = param({{1, 2, 3}, {4, 5, 6}});
  const Tensor s = sum(x, {0});
  CHECK(at(s, 2) == 9.0);
  auto g = tg::grad({s}, {x}, {tensor({1.0, 10.0, 100.0}, kFloat64)});
  CHECK(at(g[0], 4) == 10.0);
  CHECK(at(sum(x), 0) == 21.0);
  CHECK(x.sum({-1}, true).shape() == Shape{2, 1});
}

TEST_CASE("mean: all, axes, negative axes, keepdim") {
  check_reduction(
      "mean", [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); }, random_leaf({2, 3, 4}, -2, 2));
  Tensor x = param({{1, 2, 3}, {4, 5, 6}});
  CHECK(at(mean(x, {1}), 1) == 5.0);
  CHECK(at(tg::grad({mean(x)}, {x})[0], 3) == Approx(1.0 / 6).epsilon(1e-15));
}

TEST_CASE("max and min: all elements and along an axis") {
  const Tensor x = distinct_values(3);
  for (bool is_max : {true, false}) {
    const std::string name = is_max ? "max" : "min";
    check_gradients(name + " all", [is_max](const Inputs& v) { return is_max ? max(v[0]) : min(v[0]); }, {x});
    for (int axis : {0, 1, 2, -1, -3})
      for (bool keepdim : {false, true}) {
        const std::string what = name + " axis " + std::to_string(axis) + (keepdim ? " keepdim" : "");
        CHECK((is_max ? max(x, axis, keepdim) : min(x, axis, keepdim)).values().shape() ==
              reduced(x.shape(), {axis}, keepdim));
        check_gradients(
            what, [=](const Inputs& v) { return is_max ? max(v[0], axis, keepdim) : min(v[0], axis, keepdim); }, {x});
      }
  }
  // By hand: the gradient goes to the extremum; argmax/argmin give its index.
  Tensor y = param({{1.0, 5.0, 3.0}, {7.0, -2.0, 0.0}});
  CHECK(at(max(y), 0) == 7.0);
  CHECK(at(min(y), 0) == -2.0);
  CHECK(at(max(y, 1), 0) == 5.0);
  CHECK(values(argmax(y, 1)) == std::vector<double>{1, 0});
  CHECK(values(argmin(y, 0, true)) == std::vector<double>{0, 1, 1});
  auto g = tg::grad({sum(max(y, 1))}, {y});
  CHECK(values(g[0]) == std::vector<double>{0, 1, 0, 1, 0, 0});
  // Ties: max of all elements shares the gradient evenly (torch.max(x)); along an axis it goes
  // to the first extremum, the index argmax returns (torch.max(x, dim)).
  Tensor t = param({{2.0, 2.0}, {1.0, 2.0}});
  CHECK(values(tg::grad({max(t)}, {t})[0]) == std::vector<double>{1.0 / 3, 1.0 / 3, 0, 1.0 / 3});
  CHECK(values(tg::grad({sum(max(t, 1))}, {t})[0]) == std::vector<double>{1, 0, 0, 1});
  // NaN wins, as in PyTorch.
  CHECK(std::isnan(at(max(tensor({1.0, std::nan(""), 3.0}, kFloat64)), 0)));
  CHECK(std::isnan(at(min(tensor({{1.0, std::nan("")}}, kFloat64), 1), 0)));
}

TEST_CASE("prod: all, axes, and inputs containing zeros (first and second order)") {
  check_reduction(
      "prod", [](const Tensor& x, const Axes& a, bool k) { return prod(x, a, k); }, random_leaf({2, 3, 4}, 0.5, 1.5));
  // One zero, two zeros in a group, and a zero in only one group of several.
  Tensor one_zero = param({{2.0, 0.0, 3.0}, {1.5, -0.5, 2.0}});
  Tensor two_zeros = param({{0.0, 0.7, 0.0}, {1.5, -0.5, 2.0}});
  for (const Tensor& x : {one_zero, two_zeros}) {
    check_gradients("prod all, zeros", [](const Inputs& v) { return prod(v[0]); }, {x});
    check_gradients("prod axis 1, zeros", [](const Inputs& v) { return prod(v[0], {1}); }, {x});
    check_gradients("prod axis 0 keepdim, zeros", [](const Inputs& v) { return prod(v[0], {0}, true); }, {x});
  }
  // By hand: d/dx_i prod = product of the others: (2, 0, 3) -> (0, 6, 0).
  Tensor x = param({2.0, 0.0, 3.0});
  const Tensor p = prod(x);
  CHECK(at(p, 0) == 0.0);
  auto g = tg::grad({p}, {x}, {}, std::nullopt, true);
  CHECK(values(g[0]) == std::vector<double>{0, 6, 0});
  // Second order: d2/dx_i dx_j = product of all but i and j; row 1 of the Hessian is (3, 0, 2).
  auto h = tg::grad({select(g[0], 0, 1)}, {x});
  CHECK(values(h[0]) == std::vector<double>{3, 0, 2});
}

TEST_CASE("var and std: biased and unbiased, axes, keepdim") {
  const Tensor x = random_leaf({2, 3, 4}, -2, 2);
  for (bool unbiased : {true, false}) {
    const std::string u = unbiased ? " unbiased" : " biased";
    check_reduction(
        "var" + u, [unbiased](const Tensor& v, const Axes& a, bool k) { return var(v, a, unbiased, k); }, x);
    check_reduction(
        "std" + u, [unbiased](const Tensor& v, const Axes& a, bool k) { return tg::std(v, a, unbiased, k); }, x);
  }
  // By hand: x = (1, 2, 3, 4), mean 2.5, squared deviations sum to 5.
  Tensor y = param({1.0, 2.0, 3.0, 4.0});
  CHECK(at(var(y), 0) == Approx(5.0 / 3).epsilon(1e-15));
  CHECK(at(var(y, {}, false), 0) == 1.25);
  CHECK(at(tg::std(y, {}, false), 0) == Approx(std::sqrt(1.25)).epsilon(1e-15));
  // d var / dx_i = 2 (x_i - mean) / (n - 1): x_0 -> 2 (-1.5) / 3 = -1.
  CHECK(at(tg::grad({var(y)}, {y})[0], 0) == Approx(-1.0).epsilon(1e-15));
  // d std / dx_i = (x_i - mean) / (n std) (biased): x_3 -> 1.5 / (4 sqrt(1.25)).
  CHECK(at(tg::grad({tg::std(y, {}, false)}, {y})[0], 3) == Approx(1.5 / (4 * std::sqrt(1.25))).epsilon(1e-14));
}

TEST_CASE("logsumexp: axes, keepdim, and inputs of magnitude 1000") {
  check_reduction(
      "logsumexp", [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); },
      random_leaf({2, 3, 4}, -2, 2));
  // By hand: logsumexp(log 1, log 3) = log 4; gradient softmax = (1/4, 3/4).
  Tensor x = param({0.0, std::log(3.0)});
  CHECK(at(logsumexp(x), 0) == Approx(std::log(4.0)).epsilon(1e-15));
  const Tensor gx = tg::grad({logsumexp(x)}, {x})[0];
  CHECK(at(gx, 0) == Approx(0.25).epsilon(1e-15));
  CHECK(at(gx, 1) == Approx(0.75).epsilon(1e-15));
  // |x| = 1000: naive exp overflows (exp(1000) = inf) or underflows (exp(-1000) = 0).
  Tensor big = param({{1000.0, 999.0, 1000.0}, {-1000.0, -1001.0, -1000.0}});
  const Tensor l = logsumexp(big, {1});
  const double tail = std::log(2.0 + std::exp(-1.0));
  CHECK(at(l, 0) == Approx(1000.0 + tail).epsilon(1e-15));
  CHECK(at(l, 1) == Approx(-1000.0 + tail).epsilon(1e-15));
  auto g = tg::grad({sum(l)}, {big}, {}, std::nullopt, true);
  CHECK(at(g[0], 0) == Approx(1.0 / (2.0 + std::exp(-1.0))).epsilon(1e-15));
  CHECK(at(g[0], 4) == Approx(std::exp(-1.0) / (2.0 + std::exp(-1.0))).epsilon(1e-15));
  CHECK(all_finite(tg::grad({sum(g[0] * g[0])}, {big})[0]));
  check_gradients("logsumexp large", [](const Inputs& v) { return logsumexp(v[0], {1}); },
                  {random_leaf({2, 3}, 998, 1001)});
  // A group of all -inf gives -inf, not NaN.
  CHECK(at(logsumexp(full({2}, -INFINITY, kFloat64)), 0) == -INFINITY);
}

TEST_CASE("logsumexp over one axis: the backward's kept softmax is softmax(x), and higher orders still see x") {
  // A first-order backward multiplies by the softmax the forward kept; a backward that records
  // (create_graph) differentiates softmax(x) instead. Both must give the same bits, softmax's own.
  for (const DType dtype : {kFloat64, kFloat32}) {
    const Tensor x = random_leaf({3, 4, 5}, -3, 3).to(dtype).detach().requires_grad_();
    const Tensor w = random_leaf({3, 4, 5}, -1, 1).to(dtype).detach();
    for (int axis : {0, 1, 2, -1})
      for (bool keepdim : {false, true}) {
        const Tensor weights = sum(w, {axis}, keepdim);  // the gradient reaching logsumexp
        auto loss = [&] { return sum(logsumexp(x, {axis}, keepdim) * weights); };
        const Tensor first = tg::grad({loss()}, {x})[0];
        const Tensor recorded = tg::grad({loss()}, {x}, {}, std::nullopt, true)[0];
        const Tensor expected = sum(w, {axis}, true) * softmax(x, axis);
        CHECK(values(first) == values(expected));
        CHECK(values(recorded) == values(expected));
      }
  }
  const Tensor x = random_leaf({3, 4}, -2, 2);
  CHECK(gradgradcheck([](const Inputs& v) { return logsumexp(v[0], {1}); }, {x}));
  CHECK(gradgradcheck([](const Inputs& v) { return logsumexp(v[0], {0}, true); }, {x}));
  // The kept softmax does not excuse a write to x: the backward still checks x's version.
  Tensor h = x * 2.0;
  const Tensor l = sum(logsumexp(h, {1}));
  h += 1;
  CHECK_THROWS_WITH(l.backward(),
                    Catch::Contains("logsumexp backward") && Catch::Contains("modified by an in-place operation"));
}

TEST_CASE("softmax and log_softmax: every axis, and inputs of magnitude 1000") {
  const Tensor x = random_leaf({2, 3, 4}, -2, 2);
  for (int axis : {0, 1, 2, -1}) {
    check_gradients("softmax axis " + std::to_string(axis), [axis](const Inputs& v) { return softmax(v[0], axis); },
                    {x});
    check_gradients("log_softmax axis " + std::to_string(axis),
                    [axis](const Inputs& v) { return log_softmax(v[0], axis); }, {x});
    const Tensor s = sum(softmax(x, axis), {axis});
    for (double e : s.to_double()) CHECK(e == Approx(1.0).epsilon(1e-15));
  }
  // By hand: softmax(0, log 3) = (1/4, 3/4); log_softmax = log of that.
  Tensor y = param({0.0, std::log(3.0)});
  CHECK(at(softmax(y, 0), 1) == Approx(0.75).epsilon(1e-15));
  CHECK(at(log_softmax(y, 0), 0) == Approx(std::log(0.25)).epsilon(1e-15));
  // Magnitude 1000 in both directions: values and gradients finite and exact.
  Tensor big = param({{1000.0, 999.0, 1000.0}, {-1000.0, -1001.0, -1000.0}});
  const double z = 2.0 + std::exp(-1.0);
  const Tensor p = softmax(big, 1), lp = log_softmax(big, 1);
  for (std::size_t row = 0; row < 2; ++row) {
    CHECK(at(p, 3 * row) == Approx(1.0 / z).epsilon(1e-15));
    CHECK(at(p, 3 * row + 1) == Approx(std::exp(-1.0) / z).epsilon(1e-15));
    CHECK(at(lp, 3 * row + 1) == Approx(-1.0 - std::log(z)).epsilon(1e-15));
  }
  check_gradients("softmax large", [](const Inputs& v) { return softmax(v[0], 1); },
                  {random_leaf({2, 3}, -1001, -998)});
  check_gradients("log_softmax large", [](const Inputs& v) { return log_softmax(v[0], 1); },
                  {random_leaf({2, 3}, 998, 1001)});
  // Very different scales in one row: log_softmax of the small entry is exact, not -inf.
  Tensor spread = param({1000.0, -1000.0});
  CHECK(at(log_softmax(spread, 0), 1) == -2000.0);
  CHECK(at(softmax(spread, 0), 1) == 0.0);
  CHECK(all_finite(tg::grad({sum(log_softmax(spread, 0))}, {spread})[0]));
}

TEST_CASE("logsumexp, softmax, log_softmax at magnitude 1000 are accurate to float64 precision") {
  // Compared with a long double evaluation (64-bit mantissa): shifting by the exact maximum keeps
  // the error at a few ulp of the result, not ulp(1000) = 1.1e-13 (the torch fixture's own
  // logsumexp_dim_neg1_large gradient is 5.5e-14 off the exact value for that reason).
  const Tensor x = random_leaf({3, 5}, 995, 1005, 9);
  Tensor xn = x.detach();
  for (auto& e : xn.mutable_value<double>()) e = -e;
  for (const Tensor& v : {x, xn}) {
    Tensor leaf = v.detach().requires_grad_();
    const Tensor p = softmax(leaf, 1), lp = log_softmax(leaf, 1);
    const Tensor g = tg::grad({sum(logsumexp(leaf, {1}))}, {leaf})[0];
    const auto& xv = v.value<double>();
    for (std::size_t i = 0; i < 3; ++i) {
      long double m = xv(i, 0), s = 0;
      for (std::size_t j = 1; j < 5; ++j) m = std::max<long double>(m, xv(i, j));
      for (std::size_t j = 0; j < 5; ++j) s += std::exp(static_cast<long double>(xv(i, j)) - m);
      for (std::size_t j = 0; j < 5; ++j) {
        const long double shifted = static_cast<long double>(xv(i, j)) - m;
        const double exact_p = static_cast<double>(std::exp(shifted) / s);
        const double exact_lp = static_cast<double>(shifted - std::log(s));
        CHECK(p.value<double>()(i, j) == Approx(exact_p).epsilon(4e-16));
        CHECK(g.value<double>()(i, j) == Approx(exact_p).epsilon(4e-16));
        // log of a sum of 5 rounded terms: a few ulp of log(s) = O(1), hence the absolute margin.
        CHECK(lp.value<double>()(i, j) == Approx(exact_lp).epsilon(4e-16).margin(2e-15));
      }
    }
  }
}

TEST_CASE("cross-entropy-like composition -sum(P * log_softmax(z)) is stable at |z| = 1000") {
  // Gradient by hand: softmax(z) * sum(P) - P per row.
  Tensor z = param({{1000.0, 0.0, -1000.0}, {-1000.0, -999.0, -1000.0}});
  const Tensor P = tensor({{0.2, 0.3, 0.5}, {0.0, 1.0, 0.0}}, kFloat64);
  const Tensor loss = -sum(P * log_softmax(z, 1));
  const double z1 = 1.0 + 2.0 * std::exp(-1.0);
  CHECK(at(loss, 0) == Approx(0.3 * 1000.0 + 0.5 * 2000.0 + std::log(z1)).epsilon(1e-14));
  auto g = tg::grad({loss}, {z}, {}, std::nullopt, true);
  CHECK(at(g[0], 0) == Approx(1.0 - 0.2).epsilon(1e-14));
  CHECK(at(g[0], 2) == Approx(-0.5).epsilon(1e-14));
  CHECK(at(g[0], 4) == Approx(1.0 / z1 - 1.0).epsilon(1e-14));
  CHECK(all_finite(tg::grad({sum(g[0] * g[0])}, {z})[0]));
  check_gradients("soft cross-entropy large", [P](const Inputs& v) { return -sum(P * log_softmax(v[0], 1)); },
                  {random_leaf({2, 3}, 997, 1003)});
}

TEST_CASE("reductions of zero-size tensors: sum 0, prod 1, the others raise") {
  const Tensor e = zeros({0, 3}, kFloat64).requires_grad_();
  CHECK(at(sum(e), 0) == 0.0);
  CHECK(at(prod(e), 0) == 1.0);
  CHECK(values(sum(e, {0})) == std::vector<double>{0, 0, 0});
  CHECK(values(prod(e, {0}, true)) == std::vector<double>{1, 1, 1});
  CHECK(sum(e, {1}).shape() == Shape{0});  // no groups: an empty result
  CHECK(tg::grad({sum(e)}, {e})[0].shape() == Shape{0, 3});
  CHECK(tg::grad({prod(e)}, {e})[0].shape() == Shape{0, 3});
  CHECK_THROWS_WITH(mean(e), "mean: no elements to average in a tensor of shape (0,3)");
  CHECK_THROWS_WITH(mean(e, {0}), Catch::StartsWith("mean: no elements"));
  CHECK_THROWS_WITH(max(e), "max: tensor of shape (0,3) has no elements");
  CHECK_THROWS_WITH(min(e), "min: tensor of shape (0,3) has no elements");
  CHECK_THROWS_WITH(max(e, 0), "max: axis 0 of shape (0,3) is empty");
  CHECK_THROWS_WITH(argmin(e, 0), "argmin: axis 0 of shape (0,3) is empty");
  CHECK_THROWS_WITH(var(e), "var: no elements in a tensor of shape (0,3)");
  CHECK_THROWS_WITH(tg::std(e, {0}), Catch::StartsWith("var: no elements"));
  CHECK_THROWS_WITH(logsumexp(e), "logsumexp: no elements in a tensor of shape (0,3)");
  CHECK_THROWS_WITH(logsumexp(e, {0}), Catch::StartsWith("logsumexp: no elements"));
  // Reducing over a non-empty axis of an empty tensor has nothing to compute, as in PyTorch.
  CHECK(max(e, 1).values().shape() == Shape{0});
  CHECK(logsumexp(e, {1}).shape() == Shape{0});
  CHECK(mean(e, {1}).shape() == Shape{0});
  // softmax of an empty tensor is empty along any axis (nothing to normalise).
  CHECK(softmax(e, 0).shape() == Shape{0, 3});
  CHECK(log_softmax(e, 1).shape() == Shape{0, 3});
  CHECK(tg::grad({sum(softmax(e, 0))}, {e})[0].shape() == Shape{0, 3});
}

TEST_CASE("reductions: bad axes raise tg::Error naming the op and the shape") {
  const Tensor x = zeros({3, 4}, kFloat64);
  CHECK_THROWS_WITH(sum(x, {2}), "sum: axis 2 is out of range for a tensor of shape (3,4)");
  CHECK_THROWS_WITH(mean(x, {-3}), "mean: axis -3 is out of range for a tensor of shape (3,4)");
  CHECK_THROWS_WITH(prod(x, {5}), Catch::StartsWith("prod: axis 5 is out of range"));
  CHECK_THROWS_WITH(var(x, {2}), Catch::StartsWith("var: axis 2 is out of range"));
  CHECK_THROWS_WITH(tg::std(x, {2}), Catch::StartsWith("var: axis 2 is out of range"));
  CHECK_THROWS_WITH(logsumexp(x, {2}), Catch::StartsWith("logsumexp: axis 2 is out of range"));
  CHECK_THROWS_WITH(max(x, 2), Catch::StartsWith("max: axis 2 is out of range"));
  CHECK_THROWS_WITH(min(x, -3), Catch::StartsWith("min: axis -3 is out of range"));
  CHECK_THROWS_WITH(argmax(x, 7), Catch::StartsWith("argmax: axis 7 is out of range"));
  CHECK_THROWS_WITH(softmax(x, 2), Catch::StartsWith("softmax: axis 2 is out of range for a tensor of shape (3,4)"));
  CHECK_THROWS_WITH(log_softmax(x, -3), Catch::StartsWith("log_softmax: axis -3 is out of range"));
  CHECK_THROWS_WITH(sum(x, {1, -1}), "sum: axis listed twice for shape (3,4)");
  // Unbiased variance of one element per group has no answer (PyTorch returns NaN with a warning).
  CHECK_THROWS_WITH(var(zeros({3, 1}, kFloat64), {1}),
                    Catch::StartsWith("var: unbiased variance needs at least 2 elements"));
  // sum of int64 is an int64 sum (test_compare_count.cpp); mean of int64 is refused, as PyTorch.
  CHECK_THROWS_WITH(mean(Tensor(xt::xarray<std::int64_t>{1, 2})),
                    Catch::StartsWith("mean: could not infer the output dtype: input is int64(2)"));
  CHECK_THROWS_WITH(sum_to(x, {5}), "sum_to: cannot reduce shape (3,4) to (5)");
}
