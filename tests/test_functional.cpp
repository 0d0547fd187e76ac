// The function transforms (tapegrad/functional.hpp) against torch.autograd.functional: every case
// of tests/fixtures/functional.json (gen_functional.py beside it) in float64 and float32, both
// Jacobian and Hessian strategies, create_graph (the results' own derivatives), strict mode,
// argument errors, and what the transforms leave untouched.
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "reference.hpp"
#include "tape.hpp"
#include "tapegrad/functional.hpp"
#include "tapegrad/nn/losses.hpp"

namespace {

using namespace tg;
using tg::testing::compare_values;
using json = nlohmann::json;
using Tensors = std::vector<Tensor>;
namespace AF = tg::autograd::functional;
namespace F = tg::nn::functional;

const json& fixture() {
  static const json doc = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/fixtures/functional.json";
    std::ifstream in(path);
    if (!in) FAIL("fixture " << path << " not found (regenerate it with tests/fixtures/gen_functional.py)");
    return json::parse(in);
  }();
  return doc;
}

Tensors tensors(const json& list, DType dtype) {
  Tensors out;
  for (const json& t : list) out.push_back(tg::testing::tensor_from_json(t).to(dtype));
  return out;
}

Tensor constant(const std::string& function, const std::string& name, DType dtype) {
  const Tensor t = tg::testing::tensor_from_json(fixture().at("constants").at(function).at(name));
  return t.is_floating_point() ? t.to(dtype) : t;
}

/// The fixture's functions, spelled as in gen_functional.py (README.md there).
std::function<Tensors(const Tensors&)> function_named(const std::string& name, DType dtype) {
  using std::nullopt;
  if (name == "elementwise")
    return [](const Tensors& x) { return Tensors{exp(x[0]) * sin(x[0]) + pow(tanh(x[0]), 2.0)}; };
  if (name == "matmul") return [](const Tensors& x) { return Tensors{tanh(matmul(x[0], x[1]))}; };
  if (name == "reductions")
    return [](const Tensors& x) { return Tensors{logsumexp(x[0], {1}), var(x[0], {0}), prod(x[0])}; };
  if (name == "multi")
    return [](const Tensors& x) {
      return Tensors{sin(x[0]) * sum(pow(x[1], 2.0)), matmul(x[1], x[1].t()) * sum(x[0])};
    };
  if (name == "scalar") return [](const Tensors& x) { return Tensors{sum(pow(tanh(matmul(x[1], x[0])), 2.0))}; };
  if (name == "rosenbrock")
    return [](const Tensors& x) {
      const Tensor head = slice(x[0], 0, nullopt, -1), tail = slice(x[0], 0, 1, nullopt);
      return Tensors{sum(100.0 * pow(tail - pow(head, 2.0), 2.0) + pow(1.0 - head, 2.0))};
    };
  if (name == "mlp_loss") {
    const Tensor X = constant(name, "X", dtype), y = constant(name, "y", dtype);
    return [X, y](const Tensors& p) {
      return Tensors{F::cross_entropy(linear(tanh(linear(X, p[0], p[1])), p[2], p[3]), y)};
    };
  }
  if (name == "unused_input") return [](const Tensors& x) { return Tensors{pow(x[0], 2.0)}; };
  if (name == "unused_input_scalar") return [](const Tensors& x) { return Tensors{sum(pow(x[0], 2.0))}; };
  if (name == "linear") return [](const Tensors& x) { return Tensors{x[0] * 2.0}; };
  if (name == "linear_scalar") return [](const Tensors& x) { return Tensors{sum(x[0] * 3.0)}; };
  if (name == "constant_output") {
    const Tensor C = constant(name, "C", dtype);
    return [C](const Tensors& x) { return Tensors{pow(x[0], 2.0), C}; };
  }
  if (name == "separable_scalar")
    return [](const Tensors& x) { return Tensors{sum(pow(x[0], 2.0)) + sum(pow(x[1], 3.0))}; };
  if (name == "smooth") return [](const Tensors& x) { return Tensors{sin(x[0])}; };
  if (name == "smooth_scalar") return [](const Tensors& x) { return Tensors{sum(sin(x[0]) * x[0])}; };
  FAIL("no function " << name << " in test_functional.cpp");
  return {};
}

/// What one transform returned: f's outputs (vjp, jvp, hvp, vhp) and the results, flattened
/// (jacobian and hessian blocks row by row).
struct Outcome {
  Tensors output, result;
};

/// Runs the case's transform on `inputs` and `v` with the given options.
Outcome run(const json& c, const Tensors& inputs, const Tensors& v, DType dtype, bool create_graph, bool strict,
            AF::Strategy strategy) {
  const std::string transform = c.at("transform");
  const AF::VectorFunction f = function_named(c.at("function"), dtype);
  const AF::Options options = AF::Options().create_graph(create_graph).strict(strict);
  Outcome o;
  auto take = [&o](AF::Products r) {
    o.output = std::move(r.output);
    o.result = std::move(r.product);
  };
  auto flatten = [&o](const std::vector<Tensors>& blocks) {
    for (const Tensors& row : blocks) o.result.insert(o.result.end(), row.begin(), row.end());
  };
  if (transform == "vjp")
    take(AF::vjp(f, inputs, v, options));
  else if (transform == "jvp")
    take(AF::jvp(f, inputs, v, options));
  else if (transform == "hvp")
    take(AF::hvp(f, inputs, v, options));
  else if (transform == "vhp")
    take(AF::vhp(f, inputs, v, options));
  else if (transform == "jacobian")
    flatten(
        AF::jacobian(f, inputs, AF::JacobianOptions().create_graph(create_graph).strict(strict).strategy(strategy)));
  else if (transform == "hessian")
    flatten(AF::hessian(
        f, inputs, AF::HessianOptions().create_graph(create_graph).strict(strict).outer_jacobian_strategy(strategy)));
  else
    FAIL("unknown transform " << transform);
  return o;
}

Tensors expected_result(const json& c) {
  Tensors out;
  const std::string transform = c.at("transform");
  if (transform == "jacobian" || transform == "hessian") {
    for (const json& row : c.at("result")) {
      const Tensors r = tensors(row, kFloat64);
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  }
  return tensors(c.at("result"), kFloat64);
}

std::vector<AF::Strategy> strategies_of(const json& c) {
  const std::string t = c.at("transform");
  if (t == "jacobian" || t == "hessian") return {AF::Strategy::reverse_mode, AF::Strategy::forward_mode};
  return {AF::Strategy::reverse_mode};  // unused
}

std::string label(const json& c, AF::Strategy s) {
  const std::string t = c.at("transform");
  const bool both = t == "jacobian" || t == "hessian";
  return c.at("name").get<std::string>() +
         (both ? (s == AF::Strategy::forward_mode ? " (forward)" : " (reverse)") : "");
}

/// float64 against PyTorch: 1e-12 + 1e-10 |torch| elementwise.
void check_float64(const std::string& what, const Tensors& ours, const Tensors& expected) {
  REQUIRE(ours.size() == expected.size());
  for (std::size_t k = 0; k < ours.size(); ++k) {
    INFO(what << " tensor " << k);
    CHECK(ours[k].dtype() == kFloat64);
    const auto e = compare_values(what, ours[k], expected[k], tg::testing::kReferenceAtol, tg::testing::kReferenceRtol);
    INFO("max abs error " << e.max_abs);
    CHECK(e.max_tol_ratio <= 1);
  }
}

/// float32 against the float64 values at the same inputs: 1e-6 of each tensor's scale,
/// |a - b| <= 1e-6 (|b| + max |b|) elementwise.
void check_float32(const std::string& what, const Tensors& ours, const Tensors& expected) {
  REQUIRE(ours.size() == expected.size());
  for (std::size_t k = 0; k < ours.size(); ++k) {
    INFO(what << " tensor " << k);
    REQUIRE(ours[k].dtype() == kFloat32);
    REQUIRE(ours[k].shape() == expected[k].shape());
    const std::vector<double> a = ours[k].to_vector(), b = expected[k].to_vector();
    double scale = 0;
    for (double e : b) scale = std::max(scale, std::abs(e));
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst,
                       std::abs(a[i] - b[i]) / (1e-6 * (std::abs(b[i]) + scale) + std::numeric_limits<float>::min()));
    INFO("worst error / tolerance " << worst);
    CHECK(worst <= 1);
  }
}

Tensors with_grad(Tensors ts) {
  for (Tensor& t : ts) t.requires_grad_();
  return ts;
}

}  // namespace

TEST_CASE("functional: every transform matches torch.autograd.functional in float64", "[functional]") {
  std::size_t checked = 0;
  for (const json& c : fixture().at("cases")) {
    if (c.at("create_graph")) continue;
    for (AF::Strategy s : strategies_of(c)) {
      const std::string what = label(c, s);
      INFO(what);
      const Tensors x = tensors(c.at("inputs"), kFloat64);
      const Tensors v = c.contains("v") ? tensors(c.at("v"), kFloat64) : Tensors{};
      const Outcome o = run(c, x, v, kFloat64, false, false, s);
      check_float64(what + " result", o.result, expected_result(c));
      if (c.contains("output")) check_float64(what + " output", o.output, tensors(c.at("output"), kFloat64));
      for (const Tensor& r : o.result) CHECK(!r.requires_grad());
      ++checked;
    }
  }
  CHECK(checked >= 40);
}

TEST_CASE("functional: the float32 path agrees with PyTorch's float64 values to 1e-6 of their scale", "[functional]") {
  for (const json& c : fixture().at("cases")) {
    if (c.at("create_graph")) continue;
    for (AF::Strategy s : strategies_of(c)) {
      const std::string what = label(c, s) + " float32";
      INFO(what);
      // The fixture's inputs are float32 values, so the conversion is exact.
      const Tensors x = tensors(c.at("inputs"), kFloat32);
      const Tensors v = c.contains("v") ? tensors(c.at("v"), kFloat32) : Tensors{};
      const Outcome o = run(c, x, v, kFloat32, false, false, s);
      check_float32(what + " result", o.result, expected_result(c));
    }
  }
}

TEST_CASE("functional: create_graph results are differentiable, with PyTorch's derivatives", "[functional]") {
  std::size_t checked = 0;
  for (const json& c : fixture().at("cases")) {
    if (!c.at("create_graph")) continue;
    for (AF::Strategy s : strategies_of(c)) {
      const std::string what = label(c, s);
      INFO(what);
      const Tensors x = with_grad(tensors(c.at("inputs"), kFloat64));
      const Tensors v = c.contains("v") ? with_grad(tensors(c.at("v"), kFloat64)) : Tensors{};
      const Outcome o = run(c, x, v, kFloat64, true, false, s);
      check_float64(what + " result", o.result, expected_result(c));
      // d/d(inputs, v) of sum_k <w_k, result_k>.
      const Tensors w = tensors(c.at("w"), kFloat64);
      REQUIRE(w.size() == o.result.size());
      Tensor total;
      for (std::size_t k = 0; k < w.size(); ++k) {
        CHECK(o.result[k].requires_grad());
        const Tensor term = sum(o.result[k] * w[k]);
        total = total.defined() ? total + term : term;
      }
      Tensors wrt = x;
      wrt.insert(wrt.end(), v.begin(), v.end());
      Tensors g = grad({total}, wrt, {}, std::nullopt, false, /*allow_unused=*/true);
      for (std::size_t k = 0; k < g.size(); ++k)
        if (!g[k].defined()) g[k] = zeros_like(wrt[k]);
      check_float64(what + " d<w, result>/d(inputs, v)", g, tensors(c.at("grads_of_result"), kFloat64));
      ++checked;
    }
  }
  CHECK(checked >= 10);
}

TEST_CASE("functional: strict raises exactly when PyTorch's does; without it, zeros", "[functional]") {
  std::size_t raised = 0, passed = 0;
  for (const json& c : fixture().at("strict_cases")) {
    const bool create_graph = c.at("create_graph");
    for (AF::Strategy s : strategies_of(c)) {
      const std::string what = label(c, s);
      INFO(what << "; torch: " << c.at("torch_message").get<std::string>());
      auto inputs = [&] {
        const Tensors x = tensors(c.at("inputs"), kFloat64);
        return create_graph ? with_grad(x) : x;
      };
      auto vs = [&] {
        const Tensors v = c.contains("v") ? tensors(c.at("v"), kFloat64) : Tensors{};
        return create_graph ? with_grad(v) : v;
      };
      if (c.at("strict_raises")) {
        const std::string transform = c.at("transform");
        CHECK_THROWS_WITH(run(c, inputs(), vs(), kFloat64, create_graph, true, s),
                          Catch::StartsWith(transform + ": ") && Catch::Contains("strict mode"));
        ++raised;
      } else {
        CHECK_NOTHROW(run(c, inputs(), vs(), kFloat64, create_graph, true, s));
        ++passed;
      }
      const Outcome o = run(c, inputs(), vs(), kFloat64, create_graph, false, s);
      check_float64(what + " non-strict result", o.result, expected_result(c));
      if (c.contains("output")) check_float64(what + " output", o.output, tensors(c.at("output"), kFloat64));
    }
  }
  CHECK(raised >= 10);
  CHECK(passed >= 10);
}

TEST_CASE("functional: the single-tensor and scalar forms agree with the vector form", "[functional]") {
  const Tensor x = tg::testing::random_leaf({2, 3}, -1, 1, 1).detach(),
               u = tg::testing::random_leaf({2, 3}, -1, 1, 2).detach();
  auto g = [](const Tensor& t) { return exp(t) * sin(t); };
  auto s = [](const Tensor& t) { return sum(exp(t) * sin(t) * t); };
  auto gv = [&](const Tensors& t) { return Tensors{g(t[0])}; };
  auto sv = [&](const Tensors& t) { return Tensors{s(t[0])}; };
  auto sp = [&](const Tensors& t) { return s(t[0]); };
  auto same = [](const Tensor& a, const Tensor& b) { return compare_values("", a, b, 0, 0).max_abs == 0; };
  CHECK(same(AF::vjp(g, x, u).product, AF::vjp(gv, {x}, {u}).product[0]));
  CHECK(same(AF::jvp(g, x, u).product, AF::jvp(gv, {x}, {u}).product[0]));
  CHECK(same(AF::jacobian(g, x), AF::jacobian(gv, {x})[0][0]));
  CHECK(same(AF::hessian(s, x), AF::hessian(sv, {x})[0][0]));
  CHECK(same(AF::hessian(sp, {x})[0][0], AF::hessian(sv, {x})[0][0]));
  CHECK(same(AF::hvp(s, x, u).product, AF::hvp(sv, {x}, {u}).product[0]));
  CHECK(same(AF::hvp(sp, {x}, {u}).product[0], AF::hvp(sv, {x}, {u}).product[0]));
  CHECK(same(AF::vhp(s, x, u).product, AF::vhp(sv, {x}, {u}).product[0]));
  CHECK(same(AF::vhp(sp, {x}, {u}).output, AF::vhp(sv, {x}, {u}).output[0]));
  // A std::function works as well as a lambda (the spelling).
  const std::function<Tensors(const Tensors&)> as_std = gv;
  CHECK(same(AF::vjp(as_std, {x}, {u}).product[0], AF::vjp(gv, {x}, {u}).product[0]));
  // Derived by hand: the Hessian of sum(t e^t sin t) is diagonal, (t e^t sin t)'' = 2 e^t (sin t + cos t + t cos t).
  for (AF::Strategy strategy : {AF::Strategy::forward_mode, AF::Strategy::reverse_mode}) {
    const Tensor h = AF::hessian(s, x, AF::HessianOptions().outer_jacobian_strategy(strategy));
    REQUIRE(h.shape() == Shape{2, 3, 2, 3});
    const std::vector<double> hv = h.to_vector(), xv = x.to_vector();
    for (std::size_t i = 0; i < 6; ++i)
      for (std::size_t j = 0; j < 6; ++j) {
        const double t = xv[i];
        const double expected = i == j ? 2 * std::exp(t) * (std::sin(t) + std::cos(t) + t * std::cos(t)) : 0.0;
        CHECK(hv[i * 6 + j] == Approx(expected).epsilon(0).margin(1e-13));
      }
  }
}

namespace {
/// x^3 whose backward must never run: jvp and the forward-mode Jacobian use its jvp only.
struct CubeForwardOnly : Function<CubeForwardOnly> {
  static const char* name() { return "cube_forward_only"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(FunctionContext&, const Tensor&) {
    throw Error("cube_forward_only: backward called");
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& tangents) {
    const Tensor& x = ctx.saved()[0];
    return tangents[0] * 3.0 * x * x;
  }
};
}  // namespace

TEST_CASE("functional: jvp and the forward-mode Jacobian are forward mode (no backward runs)", "[functional]") {
  const Tensor x = tg::testing::random_leaf({4}, -1, 1, 11), u = tg::testing::random_leaf({4}, -1, 1, 12).detach();
  auto f = [](const Tensor& t) { return CubeForwardOnly::apply(t); };
  const Tensor expected = u * 3.0 * x.detach() * x.detach();
  CHECK(compare_values("jvp", AF::jvp(f, x, u).product, expected, 1e-15, 0).max_tol_ratio <= 1);
  const Tensor J = AF::jacobian(f, x, AF::JacobianOptions().strategy(AF::Strategy::forward_mode));
  const Tensor J_cube = AF::jacobian([](const Tensor& t) { return t * t * t; }, x);
  CHECK(compare_values("jacobian", J, J_cube, 1e-15, 0).max_tol_ratio <= 1);
  // The reverse-mode transforms do run it.
  CHECK_THROWS_WITH(AF::vjp(f, x, u), Catch::Contains("backward called"));
  // Without create_graph, jvp records nothing: no node outlives the call.
  const std::size_t before = tg::detail::live_nodes();
  const Tensor jv = AF::jvp([](const Tensor& t) { return sum(tanh(t) * exp(t)); }, x, u).product;
  CHECK(!jv.requires_grad());
  CHECK(tg::detail::live_nodes() == before);
}

TEST_CASE("functional: inputs and v are left as they were; results are detached unless create_graph", "[functional]") {
  const Tensor x = tg::testing::random_leaf({3}, -1, 1, 21), w = tg::testing::random_leaf({2, 3}, -1, 1, 22);
  const Tensor v = tg::testing::random_leaf({3}, -1, 1, 23).detach();
  const std::vector<double> x0 = x.to_vector(), w0 = w.to_vector(), v0 = v.to_vector();
  const std::uint32_t xv = x.version(), vv = v.version();
  auto f = [](const Tensors& in) { return Tensors{tanh(matmul(in[1], in[0])), sum(in[0] * in[0]) * sum(in[1])}; };
  auto loss = [](const Tensors& in) { return sum(pow(tanh(matmul(in[1], in[0])), 2.0)); };
  const Tensors vo = {tg::testing::random_leaf({2}, -1, 1, 24).detach(), tensor(0.5, kFloat64)};
  std::vector<Tensor> results;
  auto keep = [&](const Tensors& ts) { results.insert(results.end(), ts.begin(), ts.end()); };
  for (bool strict : {false, true}) {
    const AF::Options o = AF::Options().strict(strict);
    keep(AF::vjp(f, {x, w}, vo, o).product);
    keep(AF::vjp(f, {x, w}, vo, o).output);
    keep(AF::jvp(f, {x, w}, {v, w.detach()}, o).product);
    keep(AF::hvp(loss, {x, w}, {v, w.detach()}, o).product);
    keep(AF::vhp(loss, {x, w}, {v, w.detach()}, o).product);
    for (const Tensors& row : AF::jacobian(f, {x, w}, AF::JacobianOptions().strict(strict))) keep(row);
    for (const Tensors& row : AF::hessian(loss, {x, w}, AF::HessianOptions().strict(strict))) keep(row);
  }
  for (const Tensor& r : results) {
    CHECK(!r.requires_grad());
    CHECK(r.is_leaf());
  }
  CHECK(x.to_vector() == x0);
  CHECK(w.to_vector() == w0);
  CHECK(v.to_vector() == v0);
  CHECK(x.version() == xv);
  CHECK(v.version() == vv);
  CHECK(!x.grad().defined());
  CHECK(!w.grad().defined());
  CHECK(x.requires_grad());
  CHECK(!v.requires_grad());
  // create_graph: the results stay connected to the caller's inputs (gradients reach them).
  const Tensors grads = AF::vjp(loss, {x, w}, {}, AF::Options().create_graph()).product;
  REQUIRE(grads[0].requires_grad());
  const Tensor second = tg::grad({sum(grads[0] * v)}, {x})[0];
  const Tensor hv = AF::hvp(loss, {x, w}, {v, zeros_like(w)}).product[0];
  CHECK(compare_values("d<grad, v>/dx == (H v)_x", second, hv, 1e-13, 1e-10).max_tol_ratio <= 1);
}

TEST_CASE("functional: identity, constant and empty outputs", "[functional]") {
  const Tensor x = tg::testing::random_leaf({2, 2}, -1, 1, 31).detach(),
               u = tg::testing::random_leaf({2, 2}, -1, 1, 32).detach();
  auto id = [](const Tensor& t) { return t; };
  CHECK(compare_values("vjp identity", AF::vjp(id, x, u).product, u, 0, 0).max_abs == 0);
  CHECK(compare_values("jvp identity", AF::jvp(id, x, u).product, u, 0, 0).max_abs == 0);
  const Tensor eye4 = eye(4, 0, kFloat64).reshape({2, 2, 2, 2});
  for (AF::Strategy s : {AF::Strategy::reverse_mode, AF::Strategy::forward_mode})
    CHECK(compare_values("jacobian identity", AF::jacobian(id, x, AF::JacobianOptions().strategy(s)), eye4, 0, 0)
              .max_abs == 0);
  // A result never shares a handle with the caller's v.
  CHECK(!AF::vjp(id, x, u).product.is_same(u));
  CHECK(!AF::jvp(id, x, u).product.is_same(u));

  // An output with no elements: its Jacobian blocks have no elements either.
  auto empty = [](const Tensors& t) { return Tensors{slice(t[0], 0, 0, 0), sum(t[0])}; };
  for (AF::Strategy s : {AF::Strategy::reverse_mode, AF::Strategy::forward_mode}) {
    const auto J = AF::jacobian(empty, {x}, AF::JacobianOptions().strategy(s));
    CHECK(J[0][0].shape() == Shape{0, 2, 2, 2});
    CHECK(compare_values("jacobian of sum", J[1][0], ones({2, 2}, kFloat64), 0, 0).max_abs == 0);
  }
}

TEST_CASE("functional: bad arguments raise tg::Error naming the transform and the shapes", "[functional]") {
  const Tensor x = zeros({2, 3}, kFloat64), s = zeros({1}, kFloat64);
  auto f = [](const Tensors& t) { return Tensors{t[0] * 2.0, sum(t[0])}; };
  auto loss = [](const Tensors& t) { return sum(t[0] * t[0]); };
  using Catch::Contains;
  CHECK_THROWS_WITH(AF::vjp(f, {}, {}), Contains("vjp: inputs is empty"));
  CHECK_THROWS_WITH(AF::jvp(f, {Tensor()}, {}), Contains("jvp: input 0 is undefined"));
  CHECK_THROWS_WITH(AF::jacobian(f, {zeros({2}, kInt64)}), Contains("jacobian: input 0 is int64(2)"));
  CHECK_THROWS_WITH(AF::vjp(f, {x}, {x}), Contains("vjp: v has 1 tensor but f has 2 outputs"));
  CHECK_THROWS_WITH(AF::vjp(f, {x}, {zeros({3, 2}, kFloat64), s}),
                    Contains("vjp: v[0] is float64(3,2) but output 0 is float64(2,3)"));
  CHECK_THROWS_WITH(AF::vjp(f, {x}, {zeros({2, 3}, kFloat64), zeros({}, kFloat32)}),
                    Contains("vjp: v[1] is float32() but output 1 is float64()"));
  CHECK_THROWS_WITH(AF::vjp(f, {x}),
                    Contains("vjp: v may be omitted only when f has a single output with one element"));
  CHECK_THROWS_WITH(AF::jvp(f, {x}, {x, x}), Contains("jvp: v has 2 tensors but f has 1 input"));
  CHECK_THROWS_WITH(AF::jvp(f, {x}, {zeros({6}, kFloat64)}),
                    Contains("jvp: v[0] is float64(6) but input 0 is float64(2,3)"));
  CHECK_THROWS_WITH(AF::jvp(f, {x}), Contains("jvp: v may be omitted only when f has a single input with one element"));
  CHECK_THROWS_WITH(AF::hvp(loss, {x}, {Tensor()}), Contains("hvp: v[0] is undefined"));
  CHECK_THROWS_WITH(AF::hessian(f, {x}),
                    Contains("hessian: f must return a single tensor with one element; it returned "
                             "[float64(2,3), float64()]"));
  CHECK_THROWS_WITH(AF::hvp([](const Tensor& t) { return t * 2.0; }, x, x),
                    Contains("hvp: f must return a single tensor with one element; it returned [float64(2,3)]"));
  CHECK_THROWS_WITH(AF::vhp([](const Tensors&) { return Tensors{}; }, {x}, {x}),
                    Contains("vhp: f returned no outputs"));
  CHECK_THROWS_WITH(AF::vjp([](const Tensors& t) { return Tensors{argmax(t[0], 0)}; }, {x}, {zeros({3}, kInt64)}),
                    Contains("vjp: output 0 of f is int64(3); outputs must be float32 or float64"));
  CHECK_THROWS_WITH(AF::jvp([](const Tensors&) { return Tensors{Tensor()}; }, {x}, {x}),
                    Contains("jvp: output 0 of f is undefined"));
  // A one-element input or output needs no v.
  CHECK(AF::vjp(loss, {x}).product[0].shape() == Shape{2, 3});
  CHECK(AF::jvp([](const Tensor& t) { return t * 3.0; }, s).product.to_vector() == std::vector<double>{3.0});
  // Forward mode needs its own dual level.
  {
    tg::forward_ad::DualLevel level;
    CHECK_THROWS_WITH(AF::jvp(f, {x}, {x}), Contains("jvp: a forward_ad::DualLevel is already active"));
    CHECK_THROWS_WITH(AF::hvp(loss, {x}, {x}), Contains("hvp: a forward_ad::DualLevel is already active"));
    CHECK_THROWS_WITH(AF::hessian(loss, {x}), Contains("hessian: a forward_ad::DualLevel is already active"));
    CHECK_THROWS_WITH(AF::jacobian(f, {x}, AF::JacobianOptions().strategy(AF::Strategy::forward_mode)),
                      Contains("jacobian: a forward_ad::DualLevel is already active"));
    // The reverse-mode ones work inside a level.
    CHECK_NOTHROW(AF::vhp(loss, {x}, {x}));
  }
  // An exception from f leaves no level behind.
  CHECK_THROWS_WITH(AF::jvp([](const Tensors&) -> Tensors { throw Error("f failed"); }, {x}, {x}),
                    Contains("f failed"));
  CHECK(!tg::forward_ad::is_active());
}
