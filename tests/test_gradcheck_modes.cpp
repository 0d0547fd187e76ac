// gradcheck's options (fast mode, nondet_tol, check_forward_ad, check_undefined_grad,
// gradgradcheck's check_fwd_over_rev) and gradcheck of a module: each passes on correct ops and
// catches the mistake it is there for.
#include <atomic>
#include <catch2/catch.hpp>
#include <random>

#include "square_functions.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using test::FlatSquare;
using test::param;
using test::WrongBackward;
using test::WrongJvp;

namespace {
/// x^2 whose backward changes by a relative 1e-9 from one run to the next (as a backward with
/// racing atomic adds would): right to any gradcheck tolerance, but not deterministic.
std::atomic<int> g_runs{0};
struct Nondeterministic : Function<Nondeterministic> {
  static const char* name() { return "nondeterministic"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    const double wobble = 1.0 + 1e-9 * (g_runs++ % 2);
    return {grad * ctx.saved()[0] * (2.0 * wobble)};
  }
};

/// x^2 whose backward treats an all-zero upstream gradient (what a missing one becomes) as "the
/// loss itself" and substitutes ones: right whenever some upstream gradient is nonzero.
struct ZeroGradAsOnes : Function<ZeroGradAsOnes> {
  static const char* name() { return "zero_grad_as_ones"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    const Tensor g = abs(grad).sum().item() == 0 ? ones_like(grad) : grad;
    return {g * ctx.saved()[0] * 2.0};
  }
};

GradcheckOptions all_checks() {
  return GradcheckOptions().check_forward_ad(true).check_undefined_grad(true).nondet_tol(0.0);
}
}  // namespace

TEST_CASE("GradcheckOptions: chained setters and PyTorch's defaults") {
  const GradcheckOptions d;
  CHECK(d.eps() == 1e-6);
  CHECK(d.atol() == 1e-5);
  CHECK(d.rtol() == 1e-3);
  CHECK(!d.fast_mode());
  CHECK(d.nondet_tol() == 0.0);
  CHECK(!d.check_forward_ad());
  CHECK(d.check_undefined_grad());
  CHECK(!d.check_fwd_over_rev());
  const auto o = GradcheckOptions().fast_mode(true).atol(1e-7).rtol(1e-6).nondet_tol(1e-9);
  CHECK(o.fast_mode());
  CHECK(o.atol() == 1e-7);
  CHECK(o.rtol() == 1e-6);
  CHECK(o.nondet_tol() == 1e-9);
}

TEST_CASE("gradcheck: every option passes on correct ops, slow and fast, one and several outputs") {
  Tensor a = param({{0.3, -0.7, 1.1}, {0.2, 0.5, -1.4}});
  Tensor b = param({0.9, -0.2, 0.4});
  MultiFunction f = [](const std::vector<Tensor>& x) {
    return std::vector<Tensor>{tanh(x[0] * x[1]) + exp(x[1]), sum(x[0] * x[0], {1}), sin(x[1])};
  };
  for (bool fast : {false, true}) {
    auto report = gradcheck(f, {a, b}, all_checks().fast_mode(fast));
    INFO(report);
    CHECK(report);
    REQUIRE(report.inputs.size() == 2);
    REQUIRE(report.forward_inputs.size() == 2);
    CHECK(report.failures.empty());
    CHECK(report.nondet_max_diff == 0.0);
    for (const auto& r : report.inputs) CHECK(r.fast == fast);
    if (fast) CHECK(report.to_string().find("fast mode") != std::string::npos);
  }
}

TEST_CASE("gradcheck fast mode: catches a wrong backward and locates it with the slow check") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto report = gradcheck([](const std::vector<Tensor>& in) { return WrongBackward::apply(in[0]); }, {x},
                          GradcheckOptions().fast_mode(true));
  INFO(report);
  CHECK(!report);
  REQUIRE(report.inputs.size() == 1);
  const auto& r = report.inputs[0];
  CHECK(r.fast);
  CHECK(!r.passed);
  CHECK(r.slow_rerun);
  // v^T J u: analytic 3/2 of numerical (J is diagonal, 3x against 2x; u, v positive).
  CHECK(r.fast_analytic == Approx(1.5 * r.fast_numerical).epsilon(1e-6));
  CHECK(r.fast_analytic - r.fast_numerical > r.fast_tolerance);
  // The slow check's worst element: |3x - 2x| = |x| is largest at x = 2 (index 2).
  CHECK(r.worst_index == std::vector<std::size_t>{2});
  CHECK(r.analytic == Approx(6.0));
  CHECK(r.numerical == Approx(4.0));
  const std::string text = report.to_string();
  CHECK(text.find("FAILED") != std::string::npos);
  CHECK(text.find("slow check") != std::string::npos);
}

TEST_CASE("gradcheck fast mode: an error in one element of 2000 against the scaled atol (as PyTorch)") {
  // v^T J u moves by u_j v_j (6 - 2) ~ 4 / 2000 when one element of a 2000-element backward is
  // wrong, while the atol of fast mode is scaled by sum(u) sum(v) ~ 0.75 * 2000 (PyTorch's
  // _adjusted_atol): with the default atol 1e-5 fast mode misses it and the slow check does not;
  // with a tight atol fast mode sees it and its slow re-run names the element.
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  xt::xarray<double> v = xt::xarray<double>::from_shape({2000});
  for (auto& e : v) e = dist(gen);
  Tensor x = param(v);
  struct OneWrong : Function<OneWrong> {
    static const char* name() { return "one_wrong"; }
    static Tensor forward(FunctionContext&, const Tensor& x) { return x * 2.0; }
    static std::vector<Tensor> backward(FunctionContext&, const Tensor& grad) {
      xt::xarray<double> scale = xt::ones<double>({2000});
      scale(1234) = 3.0;  // 2 -> 6 at one element
      return {grad * Tensor(scale) * 2.0};
    }
  };
  auto f = [](const std::vector<Tensor>& in) { return OneWrong::apply(in[0]); };
  auto loose = gradcheck(f, {x}, GradcheckOptions().fast_mode(true));
  INFO(loose);
  CHECK(loose);
  CHECK(loose.inputs[0].fast_tolerance > std::abs(loose.inputs[0].fast_analytic - loose.inputs[0].fast_numerical));
  CHECK(!gradcheck(f, {x}, GradcheckOptions().check_undefined_grad(false)));
  auto tight = gradcheck(f, {x}, GradcheckOptions().fast_mode(true).atol(1e-9).rtol(1e-6));
  INFO(tight);
  CHECK(!tight);
  REQUIRE(tight.inputs.size() == 1);
  CHECK(tight.inputs[0].slow_rerun);
  CHECK(tight.inputs[0].worst_index == std::vector<std::size_t>{1234});
  CHECK(tight.inputs[0].analytic == Approx(6.0));
}

TEST_CASE("gradcheck check_forward_ad: catches a wrong jvp, slow and fast") {
  Tensor x = param({0.5, -1.5, 2.0});
  for (bool fast : {false, true}) {
    auto report = gradcheck([](const std::vector<Tensor>& in) { return WrongJvp::apply(in[0]); }, {x},
                            GradcheckOptions().fast_mode(fast).check_forward_ad(true));
    INFO(report);
    CHECK(!report);
    REQUIRE(report.inputs.size() == 1);
    CHECK(report.inputs[0].passed);  // the backward is right
    REQUIRE(report.forward_inputs.size() == 1);
    const auto& r = report.forward_inputs[0];
    CHECK(!r.passed);
    CHECK(r.worst_index == std::vector<std::size_t>{2});
    CHECK(r.analytic == Approx(6.0));
    CHECK(r.numerical == Approx(4.0));
    CHECK(report.to_string().find("forward AD") != std::string::npos);
  }
  // Without check_forward_ad the wrong jvp is not looked at.
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return WrongJvp::apply(in[0]); }, {x}));
}

TEST_CASE("gradcheck nondet_tol: a backward that differs between runs fails unless tolerated") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto f = [](const std::vector<Tensor>& in) { return Nondeterministic::apply(in[0]); };
  for (bool fast : {false, true}) {
    auto strict = gradcheck(f, {x}, GradcheckOptions().fast_mode(fast));
    INFO(strict);
    CHECK(!strict);
    CHECK(strict.inputs[0].passed);  // the values themselves are right
    REQUIRE(!strict.failures.empty());
    CHECK(strict.failures[0].find("nondeterministic") != std::string::npos);
    CHECK(strict.nondet_max_diff > 0);
    CHECK(strict.nondet_max_diff < 1e-8);
    auto tolerant = gradcheck(f, {x}, GradcheckOptions().fast_mode(fast).nondet_tol(1e-7));
    INFO(tolerant);
    CHECK(tolerant);
  }
}

TEST_CASE("gradcheck check_undefined_grad: a backward that mishandles a missing gradient fails") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto f = [](const std::vector<Tensor>& in) { return ZeroGradAsOnes::apply(in[0]); };
  // Every Jacobian check passes: one-hot and random upstream gradients are never all zero.
  CHECK(gradcheck(f, {x}, GradcheckOptions().check_undefined_grad(false)));
  CHECK(gradcheck(f, {x}, GradcheckOptions().fast_mode(true).check_undefined_grad(false)));
  auto report = gradcheck(f, {x});
  INFO(report);
  CHECK(!report);
  REQUIRE(!report.failures.empty());
  CHECK(report.failures[0].find("undefined grad") != std::string::npos);
  CHECK(report.failures[0].find("all upstream gradients zero") != std::string::npos);

  // Several outputs: leaving one out (an undefined gradient for it) is checked one at a time.
  MultiFunction two = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{ZeroGradAsOnes::apply(in[0]), in[0] * 3.0};
  };
  auto multi = gradcheck(two, {x});
  INFO(multi);
  CHECK(!multi);
  bool left_out = false;
  for (const auto& line : multi.failures)
    left_out = left_out || line.find("output 1's gradient undefined") != std::string::npos;
  CHECK(left_out);
}

TEST_CASE("gradgradcheck check_fwd_over_rev: forward over reverse of built-in ops") {
  Tensor x = param({0.5, -1.5, 2.0});
  Tensor y = param({0.3, 0.8, -0.6});
  auto f = [](const std::vector<Tensor>& in) { return tanh(in[0] * in[1]) * exp(in[0]) + in[1] * in[1] * in[1]; };
  for (bool fast : {false, true}) {
    auto report = gradgradcheck(f, {x, y}, GradcheckOptions().check_fwd_over_rev(true).fast_mode(fast));
    INFO(report);
    CHECK(report);
    CHECK(report.what == "gradgradcheck");
    CHECK(report.forward_inputs.size() == 3);  // x, y and the upstream gradient
  }
  // A backward with a detached factor is right at first order only; fast mode sees it too.
  CHECK(!gradgradcheck([](const std::vector<Tensor>& in) { return FlatSquare::apply(in[0]); }, {x},
                       GradcheckOptions().fast_mode(true)));
}

namespace {
// 2x with a right backward and a wrong JVP (3x): reverse over reverse never calls the JVP.
struct TwiceWrongJvp : Function<TwiceWrongJvp> {
  static const char* name() { return "twice_wrong_jvp"; }
  static Tensor forward(FunctionContext&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(FunctionContext&, const Tensor& grad) { return {grad * 2.0}; }
  static Tensor jvp(FunctionContext&, const std::vector<Tensor>& t) { return t[0] * 3.0; }
};
// x^2, right at every order, whose backward doubles through TwiceWrongJvp: its gradient's
// tangent (forward over reverse) is wrong, nothing else is.
struct SquareThroughTwice : Function<SquareThroughTwice> {
  static const char* name() { return "square_through_twice"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    return {TwiceWrongJvp::apply(grad * ctx.saved()[0])};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& t) { return t[0] * ctx.saved()[0] * 2.0; }
};
}  // namespace

TEST_CASE("gradgradcheck check_fwd_over_rev: finds a wrong JVP that only forward over reverse uses") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto f = [](const std::vector<Tensor>& in) { return SquareThroughTwice::apply(in[0]); };
  // First order, forward mode included, and reverse over reverse are right.
  CHECK(gradcheck(f, {x}, GradcheckOptions().check_forward_ad(true)));
  CHECK(gradgradcheck(f, {x}));
  for (bool fast : {false, true}) {
    auto report = gradgradcheck(f, {x}, GradcheckOptions().check_fwd_over_rev(true).fast_mode(fast));
    INFO(report);
    CHECK(!report);
  }
}

TEST_CASE("gradcheck(module): every parameter of an MLP, slow and fast; the module is left unchanged") {
  manual_seed(7);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{4, 5, 3}, nn::Tanh());
  model->to(kFloat64);
  std::vector<std::vector<double>> before;
  for (const Tensor& p : model->parameters()) before.push_back(p.to_vector());
  Tensor x = randn({2, 4}, kFloat64);
  for (bool fast : {false, true}) {
    auto report = gradcheck(model, x, GradcheckOptions().fast_mode(fast));
    INFO(report);
    CHECK(report);
    CHECK(report.inputs.size() == 4);  // two weights, two biases; x does not require grad
  }
  x.requires_grad_(true);
  CHECK(gradcheck(*model, x, GradcheckOptions().fast_mode(true)).inputs.size() == 5);
  const auto params = model->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].to_vector() == before[i]);
  CHECK_THROWS_WITH(gradcheck(*model, x, GradcheckOptions().check_forward_ad(true)),
                    Catch::Contains("check_forward_ad"));
  auto f32 = std::make_shared<nn::Linear>(2, 2);
  CHECK_THROWS_WITH(gradcheck(f32, ones({1, 2}, kFloat64)), Catch::Contains("float64"));
}

TEST_CASE("gradcheck(module): fast mode finds a wrong backward inside a module") {
  struct SquareLayer : nn::Module {
    SquareLayer() : nn::Module("SquareLayer") { scale = register_parameter("scale", ones({3}, kFloat64)); }
    Tensor forward(const Tensor& x) override { return WrongBackward::apply(x * scale); }
    Tensor scale;
  };
  SquareLayer layer;
  Tensor x = tensor({{0.5, -1.0, 2.0}}, kFloat64);
  auto report = gradcheck(layer, x, GradcheckOptions().fast_mode(true));
  INFO(report);
  CHECK(!report);
  REQUIRE(report.inputs.size() == 1);
  CHECK(report.inputs[0].slow_rerun);
  CHECK(report.inputs[0].worst_index == std::vector<std::size_t>{2});
}

TEST_CASE("gradcheck(module): fast mode on the README's 784-256-128-10 MLP (235k parameters)") {
  manual_seed(11);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
  model->to(kFloat64);
  CHECK(model->num_parameters() == 235146);
  Tensor x = randn({4, 784}, kFloat64);
  auto report = gradcheck(model, x, GradcheckOptions().fast_mode(true));
  INFO(report);
  CHECK(report);
  CHECK(report.inputs.size() == 6);
}
