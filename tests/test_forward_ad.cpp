// Forward mode (tapegrad/forward_ad.hpp): every op's JVP rule against central finite differences
// and against its VJP, forward over reverse (Hessian-vector products), reverse over forward,
// levels, and the errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "op_check.hpp"
#include "tape.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using namespace tg;
using tg::testing::away_from_zero;
using tg::testing::random_leaf;
namespace fwd = tg::forward_ad;
namespace F = tg::nn::functional;

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

/// A random float64 tensor (not requiring grad) of the shape of t.
Tensor random_like(const Tensor& t, std::uint64_t seed) { return random_leaf(t.shape(), -1.0, 1.0, seed).detach(); }

/// sum(a * b) in double, and sum |a * b| (the scale its rounding error is relative to).
std::pair<double, double> dot(const Tensor& a, const Tensor& b) {
  const xt::xarray<double> x = a.to_double(), y = b.to_double();
  REQUIRE(x.size() == y.size());
  double s = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    s += x.data()[i] * y.data()[i];
    scale += std::abs(x.data()[i] * y.data()[i]);
  }
  return {s, scale};
}

/// f's JVP at inputs along random tangents (for every input that requires grad; the others get
/// none, i.e. zero), computed in forward mode.
/// Returns the output (with its tangent read off) and the tangents used.
struct JvpResult {
  Tensor output, tangent;
  std::vector<Tensor> directions;
};
JvpResult forward_jvp(const Fn& f, const std::vector<Tensor>& inputs, std::uint64_t seed) {
  JvpResult r;
  fwd::DualLevel level;
  std::vector<Tensor> duals;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) {
      duals.push_back(inputs[i]);
      r.directions.emplace_back();
      continue;
    }
    r.directions.push_back(random_like(inputs[i], seed + 17 * i));
    duals.push_back(fwd::make_dual(inputs[i], r.directions.back()));
  }
  const Tensor y = f(duals);
  const fwd::UnpackedDual u = fwd::unpack_dual(y);
  r.output = u.primal;
  r.tangent = u.tangent.defined() ? u.tangent : zeros_like(u.primal);
  return r;
}

/// Every check of one op's JVP rule, in float64:
/// - the dual output's primal equals f(inputs);
/// - J u against central differences (f(x + h u) - f(x - h u)) / 2h with h = 1e-6: the error
///   is about h^2 |f'''| + 1e-16 |f| / h, below 1e-8 for these O(1) functions on O(1) inputs, so
///   op_gradcheck_options's atol 1e-7 + rtol 1e-5 (as gradcheck) with a margin, while a wrong
///   rule is off by O(1);
/// - <J u, v> == <u, J^T v> with J^T v from the existing backward, to 1e-10 of the dot
///   products' scale (both are float64 sums of the same O(n) products, so rounding is ~1e-15).
void check_jvp(const std::string& what, const Fn& f, const std::vector<Tensor>& inputs, std::uint64_t seed = 7) {
  INFO(what);
  const JvpResult jvp = forward_jvp(f, inputs, seed);
  const Tensor y = f(inputs);
  CHECK(!fwd::is_active());
  REQUIRE(jvp.tangent.shape() == y.shape());
  REQUIRE(jvp.tangent.dtype() == y.dtype());
  const auto same = tg::testing::compare_values(what + " primal", jvp.output, y, 0.0, 0.0);
  CHECK(same.max_abs == 0);

  // Central differences along the same directions.
  const double h = 1e-6;
  std::vector<Tensor> plus, minus;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) {
      plus.push_back(inputs[i]);
      minus.push_back(inputs[i]);
      continue;
    }
    NoGradGuard no_grad;
    plus.push_back((inputs[i] + jvp.directions[i] * h).detach().requires_grad_());
    minus.push_back((inputs[i] - jvp.directions[i] * h).detach().requires_grad_());
  }
  const Tensor fd = (f(plus).detach() - f(minus).detach()) / (2 * h);
  const auto o = tg::testing::op_gradcheck_options();
  const auto err =
      tg::testing::compare_values(what + " jvp vs finite differences", jvp.tangent, fd, o.atol(), o.rtol());
  INFO("max abs error " << err.max_abs);
  CHECK(err.max_tol_ratio <= 1);

  // <J u, v> == <u, J^T v>.
  std::vector<Tensor> wrt;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) {
      wrt.push_back(inputs[i]);
      which.push_back(i);
    }
  REQUIRE(!wrt.empty());
  const Tensor v = random_like(y, seed + 1000);
  const auto vjp = grad({y}, wrt, {v}, std::nullopt, false, /*allow_unused=*/true);
  auto [lhs, scale] = dot(jvp.tangent, v);
  double rhs = 0;
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    if (!vjp[k].defined()) continue;
    const auto [d, s] = dot(jvp.directions[which[k]], vjp[k]);
    rhs += d;
    scale += s;
  }
  INFO("<Ju, v> = " << lhs << ", <u, J^T v> = " << rhs);
  CHECK(std::abs(lhs - rhs) <= 1e-10 * std::max(scale, 1e-300));
}

Tensor leaf(const Shape& s, double lo, double hi, std::uint64_t seed) { return random_leaf(s, lo, hi, seed); }

/// The backward of f with respect to x, as a function of (x, w): f's backward formula as an op
/// (its JVP differentiates the backward ops: tanh_backward, relu_backward, slice_backward, ...).
Fn backward_of(const std::function<Tensor(const Tensor&)>& f) {
  return [f](const std::vector<Tensor>& in) {
    EnableGradGuard grad_on;
    return grad({f(in[0])}, {in[0]}, {in[1]}, std::nullopt, /*create_graph=*/true)[0];
  };
}

}  // namespace

TEST_CASE("forward AD: arithmetic and elementwise ops match finite differences and their VJP", "[forward_ad]") {
  const Tensor a = leaf({3, 4}, -1, 1, 1), b = leaf({3, 4}, -1, 1, 2), row = leaf({4}, -1, 1, 3);
  const Tensor pos = leaf({3, 4}, 0.5, 2, 4);
  const Tensor nz = away_from_zero({3, 4}, 0.1, 1, 6);
  check_jvp("add", [](auto& x) { return x[0] + x[1]; }, {a, b});
  check_jvp("add broadcast", [](auto& x) { return x[0] + x[1]; }, {a, row});
  check_jvp("sub broadcast", [](auto& x) { return x[1] - x[0]; }, {a, row});
  check_jvp("mul broadcast", [](auto& x) { return x[0] * x[1]; }, {a, row});
  check_jvp("div", [](auto& x) { return x[0] / x[1]; }, {a, pos});
  check_jvp("div broadcast", [](auto& x) { return x[1] / x[0]; }, {pos, row});
  check_jvp("add_scalar", [](auto& x) { return x[0] + 2.5; }, {a});
  check_jvp("mul_scalar", [](auto& x) { return x[0] * -1.5; }, {a});
  check_jvp("div_scalar", [](auto& x) { return x[0] / 3.0; }, {a});
  check_jvp("rsub_scalar", [](auto& x) { return 2.0 - x[0]; }, {a});
  check_jvp("rdiv_scalar", [](auto& x) { return rdiv(x[0], 2.0); }, {pos});
  check_jvp("neg", [](auto& x) { return -x[0]; }, {a});
  for (double p : {0.0, 1.0, 2.0, 3.0, -1.5, 0.5})
    check_jvp("pow_scalar " + std::to_string(p), [p](auto& x) { return pow(x[0], p); }, {pos});
  check_jvp("pow", [](auto& x) { return pow(x[0], x[1]); }, {pos, a});
  check_jvp("rpow_scalar", [](auto& x) { return pow(2.0, x[0]); }, {a});
  check_jvp("exp", [](auto& x) { return exp(x[0]); }, {a});
  check_jvp("log", [](auto& x) { return log(x[0]); }, {pos});
  check_jvp("sqrt", [](auto& x) { return sqrt(x[0]); }, {pos});
  check_jvp("abs", [](auto& x) { return abs(x[0]); }, {nz});
  check_jvp("sin", [](auto& x) { return sin(x[0]); }, {a});
  check_jvp("cos", [](auto& x) { return cos(x[0]); }, {a});
  check_jvp("tanh", [](auto& x) { return tanh(x[0]); }, {a});
  check_jvp("erf", [](auto& x) { return erf(x[0]); }, {a});
  check_jvp("sigmoid", [](auto& x) { return sigmoid(x[0]); }, {a});
  check_jvp("relu", [](auto& x) { return relu(x[0]); }, {nz});
  check_jvp("leaky_relu", [](auto& x) { return leaky_relu(x[0], 0.1); }, {nz});
  check_jvp("elu", [](auto& x) { return elu(x[0], 0.7); }, {nz});
  check_jvp("softplus", [](auto& x) { return softplus(x[0], 2.0, 1.5); }, {nz});
  check_jvp("gelu", [](auto& x) { return gelu(x[0]); }, {a});
  check_jvp("gelu tanh", [](auto& x) { return gelu(x[0], "tanh"); }, {a});
  check_jvp("clamp", [](auto& x) { return clamp(x[0], -0.5, 0.5); }, {nz});
  // Operands at least 0.1 apart (no ties within the step).
  const Tensor c = nz.detach();  // a condition source (no tangent)
  check_jvp("maximum", [](auto& x) { return maximum(x[0], x[1]); }, {a, (a.detach() + nz).detach().requires_grad_()});
  check_jvp("minimum", [](auto& x) { return minimum(x[0], x[1]); }, {a, (a.detach() + nz).detach().requires_grad_()});
  check_jvp("where", [](auto& x) { return where(gt(x[2], 0.0), x[0], x[1]); }, {a, b, c});
  check_jvp("where scalar", [](auto& x) { return where(gt(x[1], 0.0), x[0], 1.5); }, {a, c});
  check_jvp("to float64", [](auto& x) { return x[0].to(kFloat64); }, {a});
}

TEST_CASE("forward AD: the backward ops' JVPs (their own derivatives) are right", "[forward_ad]") {
  const Tensor a = leaf({3, 4}, -1, 1, 11), w = leaf({3, 4}, -1, 1, 12), nz = away_from_zero({3, 4}, 0.1, 1, 13);
  check_jvp("tanh_backward", backward_of([](const Tensor& x) { return tanh(x); }), {a, w});
  check_jvp("sigmoid_backward", backward_of([](const Tensor& x) { return sigmoid(x); }), {a, w});
  check_jvp("relu_backward", backward_of([](const Tensor& x) { return relu(x); }), {nz, w});
  check_jvp("slice_backward", backward_of([](const Tensor& x) { return slice(x, 1, 1, 4, 2) * 3.0; }),
            {a, leaf({3, 2}, -1, 1, 14)});
  check_jvp("index_add (index_select's backward)", backward_of([](const Tensor& x) {
              return index_select(x, 1, tg::testing::indices({3}, {2, 0, 2}));
            }),
            {a, leaf({3, 3}, -1, 1, 15)});
  check_jvp("softmax's backward", backward_of([](const Tensor& x) { return softmax(x, 1); }), {a, w});
  check_jvp("prod's backward", backward_of([](const Tensor& x) { return prod(x, {1}, true); }),
            {a, leaf({3, 1}, -1, 1, 16)});
}

TEST_CASE("forward AD: shape ops match finite differences and their VJP", "[forward_ad]") {
  const Tensor a = leaf({2, 3, 4}, -1, 1, 21), b = leaf({2, 3, 4}, -1, 1, 22);
  const Tensor idx = tg::testing::indices({2}, {2, 0});
  check_jvp("reshape", [](auto& x) { return reshape(x[0], {6, -1}); }, {a});
  check_jvp("flatten", [](auto& x) { return flatten(x[0], 1, 2); }, {a});
  check_jvp("squeeze/unsqueeze", [](auto& x) { return squeeze(unsqueeze(x[0], 1)); }, {a});
  check_jvp("expand", [](auto& x) { return expand(x[0], {5, 2, 3, 4}); }, {a});
  check_jvp("slice", [](auto& x) { return slice(x[0], 2, 1, std::nullopt, 2); }, {a});
  check_jvp("select", [](auto& x) { return select(x[0], 1, -1); }, {a});
  check_jvp("index_select", [idx](auto& x) { return index_select(x[0], 1, idx); },
            {
                a,
            });
  check_jvp("index_add", [idx](auto& x) { return index_add({2, 3, 4}, 1, idx, x[0]); }, {leaf({2, 2, 4}, -1, 1, 23)});
  const Tensor gidx = tg::testing::indices({2, 2, 4}, {0, 2, 1, 1, 2, 2, 0, 0, 1, 0, 2, 1, 0, 1, 2, 2});
  check_jvp("gather", [gidx](auto& x) { return gather(x[0], 1, gidx); }, {a});
  check_jvp("scatter_add",
            [gidx](auto& x) {
              return scatter_add({2, 3, 4}, 1, gidx, x[0]);
            },
            {leaf({2, 2, 4}, -1, 1, 24)});
  check_jvp("cat", [](auto& x) { return cat({x[0], x[1], x[0]}, 1); }, {a, b});
  check_jvp("cat with a constant", [](auto& x) { return cat({x[0], x[1]}, 0); }, {a, b.detach()});
  check_jvp("stack", [](auto& x) { return stack({x[0], x[1]}, 3); }, {a, b});
  check_jvp("permute", [](auto& x) { return permute(x[0], {2, 0, 1}); }, {a});
  check_jvp("transpose", [](auto& x) { return transpose(x[0], 0, 2); }, {a});
  check_jvp("embedding",
            [](auto& x) {
              return embedding(tg::testing::indices({3}, {1, 0, 1}), x[0]);
            },
            {leaf({2, 5}, -1, 1, 25)});
}

TEST_CASE("forward AD: reductions and softmax match finite differences and their VJP", "[forward_ad]") {
  const Tensor a = leaf({3, 4}, -1, 1, 31);
  check_jvp("sum", [](auto& x) { return sum(x[0]); }, {a});
  check_jvp("sum axis keepdim", [](auto& x) { return sum(x[0], {0}, true); }, {a});
  check_jvp("mean", [](auto& x) { return mean(x[0], {1}); }, {a});
  check_jvp("prod", [](auto& x) { return prod(x[0], {1}); }, {a});
  Tensor z = a.detach();
  z.mutable_value<double>()(1, 2) = 0.0;
  z.requires_grad_();
  check_jvp("prod with a zero factor", [](auto& x) { return prod(x[0], {1}); }, {z});
  check_jvp("var", [](auto& x) { return var(x[0], {1}); }, {a});
  check_jvp("std", [](auto& x) { return tg::std(x[0], {0}, false); }, {a});
  check_jvp("logsumexp", [](auto& x) { return logsumexp(x[0], {1}, true); }, {a});
  check_jvp("logsumexp all", [](auto& x) { return logsumexp(x[0], {}); }, {a});
  check_jvp("max", [](auto& x) { return max(x[0]); }, {a});
  check_jvp("min", [](auto& x) { return min(x[0]); }, {a});
  check_jvp("max axis", [](auto& x) { return max(x[0], 1); }, {a});
  check_jvp("min axis", [](auto& x) { return min(x[0], 0, true); }, {a});
  check_jvp("softmax", [](auto& x) { return softmax(x[0], 1); }, {a});
  check_jvp("log_softmax", [](auto& x) { return log_softmax(x[0], 0); }, {a});
}

TEST_CASE("forward AD: matrix products and losses match finite differences and their VJP", "[forward_ad]") {
  const Tensor a = leaf({3, 4}, -1, 1, 41), b = leaf({4, 5}, -1, 1, 42), bt = leaf({5, 4}, -1, 1, 43);
  const Tensor at = leaf({4, 3}, -1, 1, 44);
  check_jvp("mm", [](auto& x) { return mm(x[0], x[1]); }, {a, b});
  check_jvp("mm ta", [](auto& x) { return mm(x[0], x[1], true, false); }, {at, b});
  check_jvp("mm tb", [](auto& x) { return mm(x[0], x[1], false, true); }, {a, bt});
  check_jvp("mm ta tb", [](auto& x) { return mm(x[0], x[1], true, true); }, {at, bt});
  check_jvp("mm one constant", [](auto& x) { return mm(x[0], x[1]); }, {a, b.detach()});
  check_jvp("bmm", [](auto& x) { return bmm(x[0], x[1], false, true); },
            {leaf({2, 3, 4}, -1, 1, 45), leaf({2, 5, 4}, -1, 1, 46)});
  check_jvp("matmul vector", [](auto& x) { return matmul(x[0], x[1]); }, {a, leaf({4}, -1, 1, 47)});
  check_jvp("matmul batched", [](auto& x) { return matmul(x[0], x[1]); }, {leaf({2, 3, 4}, -1, 1, 48), b});
  const Tensor w = leaf({5, 4}, -1, 1, 49), bias = leaf({5}, -1, 1, 50);
  check_jvp("linear (affine)", [](auto& x) { return linear(x[0], x[1], x[2]); }, {a, w, bias});
  check_jvp("linear 3-D input", [](auto& x) { return linear(x[0], x[1], x[2]); },
            {leaf({2, 3, 4}, -1, 1, 51), w, bias});
  check_jvp("linear without bias", [](auto& x) { return linear(x[0], x[1]); }, {a, w});
  const Tensor p = leaf({3, 4}, 0.1, 0.9, 52), t = leaf({3, 4}, 0, 1, 53);
  check_jvp("binary_cross_entropy", [](auto& x) { return F::binary_cross_entropy(x[0], x[1]); }, {p, t});
  check_jvp("binary_cross_entropy_with_logits", [](auto& x) { return F::binary_cross_entropy_with_logits(x[0], x[1]); },
            {a, t});
  check_jvp("mse_loss", [](auto& x) { return F::mse_loss(x[0], x[1]); }, {a, leaf({3, 4}, -1, 1, 54)});
  check_jvp("cross_entropy", [](auto& x) { return F::cross_entropy(x[0], tg::testing::indices({3}, {1, 3, 0})); }, {a});
}

TEST_CASE("forward AD: dtype conversion carries the tangent across dtypes", "[forward_ad]") {
  const Tensor x = leaf({5}, -1, 1, 61).detach();
  const Tensor u = leaf({5}, -1, 1, 62).detach();
  fwd::DualLevel level;
  const Tensor y = fwd::make_dual(x, u).to(kFloat32);
  const Tensor ty = fwd::unpack_dual(y).tangent;
  REQUIRE(ty.dtype() == kFloat32);
  CHECK(tg::testing::compare_values("to float32", ty, u.to(kFloat32), 0, 0).max_abs == 0);
}

namespace {
/// x^3 with its JVP; and the same op without one.
struct CubeFn : Function<CubeFn> {
  static const char* name() { return "cube"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved()[0];
    return {g * 3.0 * x * x};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& tangents) {
    const Tensor& x = ctx.saved()[0];
    return tangents[0] * 3.0 * x * x;
  }
};
struct CubeNoJvp : Function<CubeNoJvp> {
  static const char* name() { return "cube_no_jvp"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) {
    const Tensor& x = ctx.saved()[0];
    return {g * 3.0 * x * x};
  }
};
/// x * y reading its output in jvp: d(xy) = y dx + x dy, written as out (dx / x + dy / y).
struct ProductFn : Function<ProductFn> {
  static Tensor forward(FunctionContext& ctx, const Tensor& x, const Tensor& y) {
    Tensor out = x * y;
    ctx.save_for_backward({x, y, out});
    return out;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) {
    return {g * ctx.saved()[1], g * ctx.saved()[0]};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& t) {
    const auto& s = ctx.saved();
    CHECK(s[2].is_same(ctx.output()));
    return ctx.output() * (t[0] / s[0] + t[1] / s[1]);
  }
};
}  // namespace

TEST_CASE("forward AD: custom Functions use their jvp, and refuse a tangent without one", "[forward_ad]") {
  const Tensor a = leaf({3, 4}, -1, 1, 71), pos = leaf({3, 4}, 0.5, 2, 72), pos2 = leaf({3, 4}, 0.5, 2, 73);
  check_jvp("Function jvp", [](auto& x) { return CubeFn::apply(x[0]); }, {a});
  check_jvp("Function jvp reading its output", [](auto& x) { return ProductFn::apply(x[0], x[1]); }, {pos, pos2});
  check_jvp("Function jvp with one constant input", [](auto& x) { return ProductFn::apply(x[0], x[1]); },
            {pos, pos2.detach()});
  fwd::DualLevel level;
  const Tensor x = fwd::make_dual(a.detach(), ones_like(a));
  CHECK_THROWS_WITH(CubeNoJvp::apply(x), Catch::Contains("forward AD: cube_no_jvp has no JVP rule"));
  // Without a tangent it works as before.
  CHECK(CubeNoJvp::apply(a.detach()).defined());
}

TEST_CASE("forward AD: an op recorded without a JVP rule refuses a tangent", "[forward_ad]") {
  auto twice = [](const Tensor& x) {
    Tensor out = x.detach() * 2.0;
    return record("twice_without_rule", std::move(out), {x}, kSaveNone,
                  [](BackwardContext& c) { c.set_grad(0, c.grad() * 2.0); });
  };
  const Tensor x0 = leaf({3}, -1, 1, 81).detach();
  CHECK_NOTHROW(twice(x0));
  fwd::DualLevel level;
  CHECK_NOTHROW(twice(x0));  // no tangent reaches it
  const Tensor x = fwd::make_dual(x0, ones_like(x0));
  CHECK_THROWS_WITH(twice(x), Catch::Contains("forward AD: twice_without_rule has no JVP rule"));
}

namespace {
/// Hessian-vector product by double backward: d/dx <grad f(x), v>.
std::vector<Tensor> hvp_double_backward(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                        const std::vector<Tensor>& x, const std::vector<Tensor>& v) {
  const Tensor y = f(x);
  const auto g = grad({y}, x, {}, std::nullopt, /*create_graph=*/true);
  Tensor s;
  for (std::size_t i = 0; i < x.size(); ++i) s = i ? s + sum(g[i] * v[i]) : sum(g[i] * v[i]);
  return grad({s}, x);
}

/// Hessian-vector product forward over reverse: the tangent of grad f at duals (x, v).
std::vector<Tensor> hvp_forward_over_reverse(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                             const std::vector<Tensor>& x, const std::vector<Tensor>& v,
                                             bool create_graph) {
  fwd::DualLevel level;
  std::vector<Tensor> duals;
  for (std::size_t i = 0; i < x.size(); ++i) duals.push_back(fwd::make_dual(x[i], v[i]));
  const auto g = grad({f(duals)}, duals, {}, std::nullopt, create_graph);
  std::vector<Tensor> out;
  for (const Tensor& gi : g) {
    Tensor t = fwd::unpack_dual(gi).tangent;
    REQUIRE(t.defined());
    out.push_back(t);
  }
  return out;
}

void check_hvp(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& f,
               const std::vector<Tensor>& x) {
  INFO(what);
  std::vector<Tensor> v;
  for (std::size_t i = 0; i < x.size(); ++i) v.push_back(random_like(x[i], 900 + i));
  const auto expected = hvp_double_backward(f, x, v);
  for (bool create_graph : {false, true}) {
    const auto got = hvp_forward_over_reverse(f, x, v, create_graph);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto e = tg::testing::compare_values(what + " input " + std::to_string(i), got[i], expected[i],
                                                 tg::testing::kSecondOrderAtol, tg::testing::kSecondOrderRtol);
      CHECK(e.max_tol_ratio <= 1);
    }
  }
}
}  // namespace

TEST_CASE("forward AD: forward over reverse gives the Hessian-vector product of double backward", "[forward_ad]") {
  const Tensor W = leaf({4, 3}, -1, 1, 101), x = leaf({3, 2}, -1, 1, 102);
  check_hvp("sum tanh(W x)", [](auto& in) { return sum(tanh(mm(in[0], in[1]))); }, {W, x});

  // A small mlp's loss in all its parameters: linear, sigmoid, relu, softmax cross entropy.
  const Tensor X = leaf({5, 3}, -1, 1, 103);
  const Tensor target = tg::testing::indices({5}, {0, 2, 1, 1, 0});
  const Tensor W1 = leaf({4, 3}, -1, 1, 104), b1 = leaf({4}, -1, 1, 105);
  const Tensor W2 = leaf({3, 4}, -1, 1, 106), b2 = leaf({3}, -1, 1, 107);
  check_hvp("mlp loss",
            [X, target](auto& p) {
              const Tensor h = sigmoid(linear(X, p[0], p[1]));
              return F::cross_entropy(linear(relu(h - 0.5), p[2], p[3]), target);
            },
            {W1, b1, W2, b2});
  check_hvp("prod, softmax, logsumexp",
            [](auto& in) { return sum(prod(in[0], {1}) * select(softmax(in[0], 0), 0, 0)) + logsumexp(in[0], {}); },
            {leaf({3, 3}, 0.2, 1.2, 108)});
  // A zero factor: prod's backward forms the products of the others, differentiably when a
  // tangent reaches it even though the sweep does not record.
  Tensor z = leaf({3, 3}, 0.2, 1.2, 109).detach();
  z.mutable_value<double>()(1, 1) = 0.0;
  check_hvp("prod with a zero factor", [](auto& in) { return sum(prod(in[0], {1}) * sin(in[0])); },
            {z.requires_grad_()});
}

TEST_CASE("forward AD: backward() into a leaf keeps the gradient's tangent", "[forward_ad]") {
  const Tensor x = leaf({4}, -1, 1, 111), v = random_like(x, 112);
  auto f = [](const Tensor& t) { return sum(exp(t) * sin(t)); };
  const auto expected = hvp_double_backward([&](auto& in) { return f(in[0]); }, {x}, {v});
  {
    fwd::DualLevel level;
    f(fwd::make_dual(x, v)).backward();
    const Tensor t = fwd::unpack_dual(x.grad()).tangent;
    REQUIRE(t.defined());
    CHECK(tg::testing::compare_values("leaf grad tangent", t, expected[0], 1e-12, 1e-10).max_tol_ratio <= 1);
  }
  CHECK(!fwd::unpack_dual(x.grad()).tangent.defined());
}

TEST_CASE("forward AD: reverse over forward differentiates the tangent (the JVP is on the tape)", "[forward_ad]") {
  // d/du <J u, w> = J^T w: the tangent, a function of u, is recorded.
  const Tensor x = leaf({3, 4}, -1, 1, 121), u = leaf({3, 4}, -1, 1, 122), w = random_like(x, 123);
  auto f = [](const Tensor& t) { return tanh(t) * exp(t) + softmax(t, 1); };
  Tensor jvp;
  {
    fwd::DualLevel level;
    jvp = fwd::unpack_dual(f(fwd::make_dual(x.detach(), u))).tangent;
  }
  REQUIRE(jvp.requires_grad());
  const Tensor from_tangent = grad({sum(jvp * w)}, {u})[0];
  const Tensor vjp = grad({f(x)}, {x}, {w})[0];
  CHECK(tg::testing::compare_values("d<Ju,w>/du", from_tangent, vjp, 1e-12, 1e-10).max_tol_ratio <= 1);
}

TEST_CASE("forward AD: levels", "[forward_ad]") {
  const Tensor x = leaf({3}, -1, 1, 131).detach(), u = ones_like(x);
  CHECK(!fwd::is_active());
  CHECK_THROWS_WITH(fwd::make_dual(x, u), Catch::Contains("no dual level is active"));
  Tensor y, dual;
  {
    fwd::DualLevel level;
    CHECK(fwd::is_active());
    CHECK_THROWS_WITH(fwd::DualLevel(), Catch::Contains("not supported"));
    dual = fwd::make_dual(x, u);
    y = exp(dual);
    CHECK(fwd::unpack_dual(y).tangent.defined());
    CHECK(!fwd::unpack_dual(x).tangent.defined());  // the primal itself is unchanged
  }
  CHECK(!fwd::is_active());
  // Exit clears every tangent: none reads back, and ops see none.
  CHECK(!fwd::unpack_dual(y).tangent.defined());
  CHECK(!fwd::unpack_dual(dual).tangent.defined());
  {
    fwd::DualLevel level;
    CHECK(!fwd::unpack_dual(y).tangent.defined());
    CHECK(!fwd::unpack_dual(exp(dual) * y).tangent.defined());  // no leak into a later level
    // A new dual at the new level works.
    const Tensor z = sin(fwd::make_dual(x, u * 2.0));
    CHECK(tg::testing::compare_values("new level", fwd::unpack_dual(z).tangent, cos(x) * 2.0, 1e-15, 0).max_tol_ratio <=
          1);
  }
  // detach drops the tangent; unpack_dual's primal has none.
  fwd::DualLevel level;
  const Tensor d = fwd::make_dual(x, u);
  CHECK(!fwd::unpack_dual(d.detach()).tangent.defined());
  CHECK(!fwd::unpack_dual(fwd::unpack_dual(d).primal).tangent.defined());
  CHECK(!fwd::unpack_dual(exp(fwd::unpack_dual(d).primal)).tangent.defined());
}

TEST_CASE("forward AD: the level's exit clears its tangents, breaking cycles through them", "[forward_ad]") {
  // Recorded tangents of ops whose node keeps its output (exp, tanh, softmax, sigmoid, sqrt, a
  // Function saving its output) lead back to that node: output -> tangent -> node -> output.
  const std::size_t before = tg::detail::live_nodes();
  Tensor kept, kept_grad;
  {
    const Tensor x = leaf({4}, -1, 1, 161), v = random_like(x, 162), pos = leaf({4}, 0.5, 2, 163);
    fwd::DualLevel level;
    const Tensor d = fwd::make_dual(x, v);
    const Tensor y = sum(exp(d) * tanh(d) + softmax(d, 0) + sigmoid(d) / sqrt(d * d + 1.0) + ProductFn::apply(d, pos));
    const auto g = grad({y}, {d}, {}, std::nullopt, /*create_graph=*/true);
    REQUIRE(fwd::unpack_dual(g[0]).tangent.requires_grad());
    REQUIRE(fwd::unpack_dual(y).tangent.defined());
    kept = y;
    kept_grad = g[0];
  }
  // Tensors kept past the level hold no tangent (not only read as none).
  CHECK(!kept.impl()->tangent.defined());
  CHECK(!kept_grad.impl()->tangent.defined());
  kept = Tensor();
  kept_grad = Tensor();
  CHECK(tg::detail::live_nodes() == before);
}

TEST_CASE("forward AD: tensors with tangents may be destroyed on another thread while the level exits",
          "[forward_ad]") {
  const std::size_t before = tg::detail::live_nodes();
  for (int round = 0; round < 20; ++round) {
    const Tensor x = leaf({8}, -1, 1, 170 + static_cast<std::uint64_t>(round)), v = random_like(x, 169);
    std::vector<Tensor> theirs;
    std::thread dropper;
    {
      fwd::DualLevel level;
      const Tensor d = fwd::make_dual(x, v);
      for (int i = 0; i < 50; ++i) theirs.push_back(exp(d) * static_cast<double>(i));
      dropper = std::thread([&theirs] {
        while (!theirs.empty()) theirs.pop_back();
      });
    }  // the level exits while the other thread drops its tensors
    dropper.join();
  }
  CHECK(tg::detail::live_nodes() == before);
}

TEST_CASE("forward AD: make_dual checks its arguments", "[forward_ad]") {
  fwd::DualLevel level;
  const Tensor x = zeros({2, 3}, kFloat64);
  CHECK_THROWS_WITH(fwd::make_dual(x, zeros({3, 2}, kFloat64)),
                    Catch::Contains("tangent float64(3,2) does not match primal float64(2,3)"));
  CHECK_THROWS_WITH(fwd::make_dual(x, zeros({2, 3}, kFloat32)),
                    Catch::Contains("tangent float32(2,3) does not match primal float64(2,3)"));
  CHECK_THROWS_WITH(fwd::make_dual(x, Tensor()), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(fwd::make_dual(zeros({2}, kInt64), zeros({2}, kInt64)), Catch::Contains("make_dual"));
  const Tensor d = fwd::make_dual(x, ones_like(x));
  CHECK_THROWS_WITH(fwd::make_dual(x, d), Catch::Contains("has a tangent of its own"));
}

TEST_CASE("forward AD: a dual tensor written in place refuses its stale tangent", "[forward_ad]") {
  fwd::DualLevel level;
  const Tensor x = leaf({3}, -1, 1, 141).detach();
  Tensor d = fwd::make_dual(x, ones_like(x));
  CHECK_NOTHROW(exp(d));
  d.mutable_value<double>()(0) = 5.0;
  CHECK_THROWS_WITH(exp(d), Catch::Contains("modified in place after its tangent was set"));
  CHECK_THROWS_WITH(fwd::unpack_dual(d), Catch::Contains("modified in place"));
}

TEST_CASE("forward AD: float32 tangents agree with float64 ones", "[forward_ad]") {
  const Tensor W = leaf({4, 3}, -1, 1, 151).detach(), x = leaf({3, 5}, -1, 1, 152).detach();
  const Tensor u = random_like(W, 153);
  auto jvp = [&](DType d) {
    fwd::DualLevel level;
    const Tensor y = log_softmax(tanh(mm(fwd::make_dual(W.to(d), u.to(d)), x.to(d))), 0);
    return fwd::unpack_dual(y).tangent;
  };
  const Tensor t32 = jvp(kFloat32), t64 = jvp(kFloat64);
  REQUIRE(t32.dtype() == kFloat32);
  double scale = 0;
  for (double e : t64.to_vector()) scale = std::max(scale, std::abs(e));
  CHECK(tg::testing::compare_values("float32 vs float64", t32, t64, tg::testing::kFloat32Rtol * scale,
                                    tg::testing::kFloat32Rtol)
            .max_tol_ratio <= 1);
}

TEST_CASE("forward AD: in-place ops carry the tangent of the out-of-place op", "[forward_ad][inplace]") {
  const Tensor x = leaf({2, 3}, -1, 1, 161), w = leaf({3}, 0.5, 1.5, 162);
  check_jvp("in-place chain",
            [](const std::vector<Tensor>& in) {
              Tensor y = exp(in[0]);
              y.mul_(in[1]);
              y += y;
              y.sub_(in[1], 0.5);
              y /= in[1];
              y.add_(in[0], -2.0);
              y *= 0.25;
              y.clamp_(-10, 10);
              return tanh(y);
            },
            {x, w});
  SECTION("a dual written in place keeps a live tangent; fill_ makes it zero") {
    fwd::DualLevel level;
    const Tensor p = leaf({2}, -1, 1, 163).detach();
    Tensor d = fwd::make_dual(p, ones_like(p));
    d *= 3.0;
    CHECK(fwd::unpack_dual(d).tangent.to_vector() == std::vector<double>{3, 3});
    d.fill_(1);
    CHECK(fwd::unpack_dual(d).tangent.to_vector() == std::vector<double>{0, 0});
  }
}
