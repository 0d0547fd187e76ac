// Losses: values derived by hand, gradients by gradcheck, and the errors for invalid targets.
#include <catch2/catch.hpp>

#include <cmath>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
namespace F = tg::nn::functional;
using tg::nn::Reduction;

namespace {
Tensor f64(const NestedList& v, bool grad = false) { return tensor(v, TensorOptions(kFloat64).requires_grad(grad)); }
Tensor classes(const NestedList& v) { return tensor(v, kInt64); }
}  // namespace

TEST_CASE("losses: regression losses by hand") {
  Tensor a = f64({1.0, 2.0, 4.0}), y = f64({0.0, 2.5, 1.0});
  CHECK(F::mse_loss(a, y).item() == Approx((1 + 0.25 + 9) / 3.0));
  CHECK(F::mse_loss(a, y, Reduction::sum).item() == Approx(10.25));
  CHECK(F::l1_loss(a, y).item() == Approx((1 + 0.5 + 3) / 3.0));
  // smooth_l1 beta 1: |d| = 1 -> 0.5 (boundary takes the linear branch: 1 - 0.5), 0.5 -> 0.125, 3 -> 2.5
  CHECK(F::smooth_l1_loss(a, y, Reduction::sum).item() == Approx(0.5 + 0.125 + 2.5));
  // huber delta 2: 0.5, 0.125, 2*(3 - 1) = 4
  CHECK(F::huber_loss(a, y, Reduction::sum, 2.0).item() == Approx(0.5 + 0.125 + 4.0));
  CHECK(F::quadratic_cost(f64({{1.0, 2.0}, {0.0, 0.0}}), f64({{0.0, 0.0}, {0.0, 1.0}})).item() ==
        Approx(0.5 * (1 + 4 + 1) / 2.0));
}

TEST_CASE("losses: cross-entropy by hand and via nll") {
  Tensor logits = f64({{1.0, 2.0, 3.0}, {1.0, 1.0, 1.0}}, true);
  Tensor t = classes({2, 0});
  const double l0 = -(3.0 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const double l1 = std::log(3.0);
  CHECK(F::cross_entropy(logits, t).item() == Approx((l0 + l1) / 2));
  CHECK(F::nll_loss(log_softmax(logits, 1), t).item() == Approx((l0 + l1) / 2));
  // dL/dlogits = (softmax - onehot) / N
  F::cross_entropy(logits, t).backward();
  const auto g = logits.grad().value<double>();
  CHECK(g(1, 0) == Approx((1.0 / 3 - 1) / 2));
  CHECK(g(1, 1) == Approx((1.0 / 3) / 2));
}

TEST_CASE("losses: gradcheck of every loss in float64") {
  Tensor x = f64({{0.2, -0.4, 0.9}, {1.3, 0.1, -0.8}}, true);
  Tensor y = f64({{0.5, 0.15, -0.3}, {0.7, 0.9, 0.2}});  // no difference sits on a kink
  Tensor p = f64({{0.2, 0.6, 0.9}, {0.35, 0.5, 0.1}}, true);
  Tensor q = f64({{0.0, 1.0, 0.7}, {0.3, 0.5, 1.0}});
  Tensor t = classes({2, 0});
  Tensor w = f64({0.5, 1.0, 2.0});
  auto check = [](auto f, std::vector<Tensor> in) {
    auto r = gradcheck(f, in);
    INFO(r);
    CHECK(r);
    auto r2 = gradgradcheck(f, in);
    INFO(r2);
    CHECK(r2);
  };
  check([&](const std::vector<Tensor>& v) { return F::mse_loss(v[0], y); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::l1_loss(v[0], y, Reduction::sum); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::smooth_l1_loss(v[0], y, Reduction::none, 0.5); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::huber_loss(v[0], y, Reduction::mean, 0.5); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::binary_cross_entropy(v[0], q); }, {p});
  check(
      [&](const std::vector<Tensor>& v) {
        return F::binary_cross_entropy_with_logits(v[0], q, {}, Reduction::sum, f64({1.0, 2.0, 0.5}));
      },
      {x});
  check([&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], t, w, Reduction::mean, 0.1); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::cross_entropy(v[0], softmax(y, 1)); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::nll_loss(log_softmax(v[0], 1), t, w); }, {x});
  check([&](const std::vector<Tensor>& v) { return F::kl_div(log_softmax(v[0], 1), q / 2.0, Reduction::batchmean); },
        {x});
}

TEST_CASE("losses: invalid targets raise clear errors") {
  Tensor logits = f64({{1.0, 2.0, 3.0}});
  CHECK_THROWS_WITH(F::cross_entropy(logits, classes({3})),
                    Catch::Contains("cross_entropy") && Catch::Contains("target 3") && Catch::Contains("3 classes"));
  CHECK_THROWS_WITH(F::cross_entropy(logits, classes({-1})), Catch::Contains("target -1"));
  CHECK_THROWS_WITH(F::cross_entropy(logits, classes({0, 1})), Catch::Contains("target shape (2)"));
  CHECK_THROWS_WITH(F::binary_cross_entropy(f64({1.5}), f64({1.0})),
                    Catch::Contains("[0, 1]") && Catch::Contains("1.5"));
  CHECK_THROWS_WITH(F::binary_cross_entropy(f64({0.5}), f64({-0.5})), Catch::Contains("target"));
  CHECK_THROWS_WITH(F::mse_loss(f64({{1.0}, {2.0}}), f64({1.0, 2.0})),
                    Catch::Contains("mse_loss") && Catch::Contains("(2,1)") && Catch::Contains("(2)"));
  CHECK_THROWS_WITH(F::cross_entropy(zeros({0, 3}, kFloat64), zeros({0}, kInt64)), Catch::Contains("empty batch"));
}

TEST_CASE("losses: binary cross-entropy at p = 0 and 1 stays finite") {
  Tensor p = f64({0.0, 1.0}, true);
  Tensor loss = F::binary_cross_entropy(p, f64({1.0, 0.0}), {}, Reduction::sum);
  CHECK(loss.item() == Approx(200.0));
  loss.backward();
  CHECK(std::isfinite(p.grad().value<double>()(0)));
}

TEST_CASE("losses: cross-entropy is stable for logits of magnitude 1000") {
  Tensor logits = f64({{1000.0, -1000.0, 0.0}}, true);
  Tensor loss = F::cross_entropy(logits, classes({1}));
  CHECK(loss.item() == Approx(2000.0));
  loss.backward();
  CHECK(logits.grad().value<double>()(0, 0) == Approx(1.0));
  CHECK(F::binary_cross_entropy_with_logits(f64({1000.0, -1000.0}), f64({0.0, 1.0}), {}, Reduction::sum).item() ==
        Approx(2000.0));
}

TEST_CASE("losses: option structs with chained setters give the positional spelling's results", "[losses][options]") {
  const Tensor z = tensor({{0.5, -1.0, 2.0}, {1.5, 0.0, -0.5}}, kFloat64);
  const Tensor p = sigmoid(z);
  const Tensor y = tensor({{1.0, 0.0, 1.0}, {0.0, 1.0, 0.0}}, kFloat64);
  const Tensor w = tensor({1.0, 2.0, 0.5}, kFloat64);
  const Tensor labels = tensor({2, 0}, kInt64);
  auto same = [](const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    CHECK(a.to_vector() == b.to_vector());  // the same computation: bit for bit
  };
  // The spelling from issue 18: no empty weight before the reduction.
  same(F::binary_cross_entropy_with_logits(z, y, F::BCEWithLogitsFuncOptions().reduction(kSum)),
       F::binary_cross_entropy_with_logits(z, y, {}, Reduction::sum));
  same(F::binary_cross_entropy_with_logits(z, y, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(w).weight(w)),
       F::binary_cross_entropy_with_logits(z, y, w, Reduction::mean, w));
  same(F::mse_loss(z, y, F::MSELossFuncOptions().reduction(kNone)), F::mse_loss(z, y, Reduction::none));
  same(F::l1_loss(z, y, F::L1LossFuncOptions().reduction(kSum)), F::l1_loss(z, y, Reduction::sum));
  same(F::smooth_l1_loss(z, y, F::SmoothL1LossFuncOptions().beta(0.5)), F::smooth_l1_loss(z, y, Reduction::mean, 0.5));
  same(F::huber_loss(z, y, F::HuberLossFuncOptions().delta(0.3).reduction(kSum)),
       F::huber_loss(z, y, Reduction::sum, 0.3));
  same(F::binary_cross_entropy(p, y, F::BinaryCrossEntropyFuncOptions().weight(w)), F::binary_cross_entropy(p, y, w));
  same(F::cross_entropy(z, labels, F::CrossEntropyFuncOptions().label_smoothing(0.1).weight(w)),
       F::cross_entropy(z, labels, w, Reduction::mean, 0.1));
  same(F::nll_loss(log_softmax(z, 1), labels, F::NLLLossFuncOptions().reduction(kSum)),
       F::nll_loss(log_softmax(z, 1), labels, {}, Reduction::sum));
  same(F::kl_div(log_softmax(z, 1), softmax(y, 1), F::KLDivFuncOptions().reduction(kBatchMean)),
       F::kl_div(log_softmax(z, 1), softmax(y, 1), Reduction::batchmean));
  same(F::kl_div(log_softmax(z, 1), log_softmax(y, 1), F::KLDivFuncOptions().log_target(true)),
       F::kl_div(log_softmax(z, 1), log_softmax(y, 1), Reduction::mean, true));
  // Defaults and getters.
  const auto o = F::CrossEntropyFuncOptions();
  CHECK(o.reduction() == Reduction::mean);
  CHECK(o.label_smoothing() == 0.0);
  CHECK(!o.weight().defined());
  CHECK(F::SmoothL1LossFuncOptions().beta() == 1.0);
  // A reduction differs in result, so the option is really passed on.
  CHECK(F::mse_loss(z, y, F::MSELossFuncOptions().reduction(kSum)).item() ==
        Approx(6 * F::mse_loss(z, y).item()).epsilon(1e-14));
  // Bad options still give the loss's own error.
  CHECK_THROWS_WITH(F::mse_loss(z, y, F::MSELossFuncOptions().reduction(kBatchMean)),
                    Catch::Contains("mse_loss") && Catch::Contains("batchmean"));
}
