// The public gradcheck: passes on correct ops, fails (with a useful report) on a wrong backward.
#include <catch2/catch.hpp>

#include "square_functions.hpp"
#include "tape.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

using test::FlatSquare;
using test::param;
using test::Square;
using test::WrongBackward;

TEST_CASE("gradcheck: passes for a composite function of two inputs") {
  Tensor a = param({{0.3, -0.7, 1.1}, {0.2, 0.5, -1.4}});
  Tensor b = param({0.9, -0.2, 0.4});
  auto report = gradcheck([](const std::vector<Tensor>& x) { return tanh(x[0] * x[1]) + exp(x[1]); }, {a, b});
  INFO(report);
  CHECK(report);
  REQUIRE(report.inputs.size() == 2);
  CHECK(report.inputs[0].max_abs_error < 1e-8);
}

TEST_CASE("gradcheck: fails on a custom op with a wrong backward and says where") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto report = gradcheck([](const std::vector<Tensor>& in) { return WrongBackward::apply(in[0]); }, {x});
  CHECK(!report);
  REQUIRE(report.inputs.size() == 1);
  const auto& r = report.inputs[0];
  CHECK(!r.passed);
  // Worst element: |3x - 2x| = |x| is largest at x = 2 (index 2).
  CHECK(r.worst_index == std::vector<std::size_t>{2});
  CHECK(r.analytic == Approx(6.0));
  CHECK(r.numerical == Approx(4.0));
  const std::string text = report.to_string();
  CHECK(text.find("FAILED") != std::string::npos);
  CHECK(text.find("(2)") != std::string::npos);
}

TEST_CASE("gradcheck: inputs must be float64 and one must require grad") {
  Tensor f = ones({2}).requires_grad_();
  CHECK_THROWS_WITH(gradcheck([](const std::vector<Tensor>& x) { return x[0] * 2.0; }, {f}),
                    Catch::Contains("float64"));
  Tensor c = ones({2}, kFloat64);
  CHECK_THROWS_WITH(gradcheck([](const std::vector<Tensor>& x) { return x[0] * 2.0; }, {c}),
                    Catch::Contains("no input requires grad"));
}

TEST_CASE("gradgradcheck: second order of custom ops") {
  Tensor x = param({0.5, -1.5, 2.0});
  auto good = gradgradcheck([](const std::vector<Tensor>& in) { return Square::apply(in[0]) * in[0]; }, {x});
  INFO(good);
  CHECK(good);
  auto bad = gradgradcheck([](const std::vector<Tensor>& in) { return FlatSquare::apply(in[0]); }, {x});
  CHECK(!bad);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return FlatSquare::apply(in[0]); }, {x}));
}

TEST_CASE("custom function: first and second derivatives, hand-derived") {
  Tensor x = param({3.0});
  Tensor y = Square::apply(x) * x;  // x^3
  auto g = grad({y.sum()}, {x}, {}, std::nullopt, true);
  CHECK(g[0].item() == Approx(27.0));
  auto h = grad({g[0].sum()}, {x});
  CHECK(h[0].item() == Approx(18.0));
  CHECK(y.grad_fn_name() == "mul");
  CHECK(Square::apply(x).grad_fn_name() == "square");
}

TEST_CASE("custom function: a backward returning the wrong number of gradients is reported") {
  struct TwoGrads : Function<TwoGrads> {
    static const char* name() { return "two_grads"; }
    static Tensor forward(FunctionContext&, const Tensor& x) { return x * 2.0; }
    static std::vector<Tensor> backward(FunctionContext&, const Tensor& g) { return {g, g}; }
  };
  Tensor x = param({1.0});
  CHECK_THROWS_WITH(TwoGrads::apply(x).sum().backward(),
                    Catch::Contains("two_grads") && Catch::Contains("2 gradients"));
}

TEST_CASE("custom function: saving the output is allowed and does not leak the graph") {
  struct ExpFn : Function<ExpFn> {
    static const char* name() { return "my_exp"; }
    static Tensor forward(FunctionContext& ctx, const Tensor& x) {
      Tensor y = exp(x);
      ctx.save_for_backward({y});
      return y;
    }
    static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) { return {g * ctx.saved()[0]}; }
  };
  Tensor x = param({0.5, 1.0});
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return ExpFn::apply(in[0]); }, {x}));
  CHECK(gradgradcheck([](const std::vector<Tensor>& in) { return ExpFn::apply(in[0]); }, {x}));
  const std::size_t before = detail::live_nodes();
  for (int i = 0; i < 10; ++i) Tensor unused = ExpFn::apply(x);
  CHECK(detail::live_nodes() == before);  // a saved output does not keep its own node alive
}

TEST_CASE("dot export: ops, shapes, leaves and parameters") {
  Tensor w = param({{0.1, 0.2}, {0.3, 0.4}});
  w.set_name("weight");
  Tensor x = ones({3, 2}, kFloat64);
  Tensor y = sum(tanh(matmul(x, w)));
  const std::string dot = to_dot({y});
  CHECK(dot.find("digraph") != std::string::npos);
  CHECK(dot.find("weight") != std::string::npos);
  CHECK(dot.find("tanh\\n(3,2)") != std::string::npos);
  CHECK(dot.find("mm\\n(3,2)") != std::string::npos);
  CHECK(dot.find("#cfe8ff") != std::string::npos);  // the parameter
  CHECK(dot.find("#eeeeee") != std::string::npos);  // the constant input
}
