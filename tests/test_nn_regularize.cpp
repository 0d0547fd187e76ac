// L1/L2 penalties and the max-norm constraint.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "nn_testing.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

TEST_CASE("regularize: L1 and L2 penalties and their gradients") {
  Tensor a = tensor({{1.0, -2.0}, {0.5, 0.0}}, TensorOptions(kFloat64).requires_grad());
  Tensor b = tensor({-3.0}, TensorOptions(kFloat64).requires_grad());
  const Tensor l1 = nn::l1_penalty({a, b});
  const Tensor l2 = nn::l2_penalty({a, b});
  CHECK(l1.item() == 6.5);
  CHECK(l2.item() == 1 + 4 + 0.25 + 9);
  (l1 + l2 * 0.5).backward();
  // d/dw (|w| + w^2 / 2) = sign(w) + w, with sign(0) = 0.
  CHECK(xt::all(xt::equal(a.grad().value<double>(), xt::xarray<double>{{2.0, -3.0}, {1.5, 0.0}})));
  CHECK(b.grad().item() == -4.0);
  CHECK(nn::l2_penalty({}).item() == 0.0);
  CHECK_THROWS_WITH(nn::l1_penalty({a, ones({1}, kFloat32)}), Catch::Contains("float32"));
}

TEST_CASE("regularize: weights() picks matrices, not biases, norms or centres") {
  nn::Sequential net{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::BatchNorm1d>(4),
                     std::make_shared<nn::Maxout>(4, 2, 3), std::make_shared<nn::RBF>(2, 2)};
  std::vector<std::string> names;
  for (const Tensor& w : nn::weights(net)) names.push_back(w.name());
  CHECK(names == std::vector<std::string>{"0.weight", "2.weight"});
}

TEST_CASE("regularize: l2_penalty is one node, equal to the sum of sum(p * p), with every derivative") {
  std::mt19937_64 gen(3);
  for (DType d : {kFloat32, kFloat64}) {
    std::vector<Tensor> ps;
    for (const Shape& s : {Shape{30, 7}, Shape{7}, Shape{2, 3, 4}})
      ps.push_back(from_double(tg::testing::random_array(gen, s), TensorOptions(d)).requires_grad_());
    Tensor expected = sum(ps[0] * ps[0]);
    for (std::size_t i = 1; i < ps.size(); ++i) expected = expected + sum(ps[i] * ps[i]);
    const Tensor l2 = nn::l2_penalty(ps);
    CHECK(l2.dtype() == d);
    CHECK(l2.item() == expected.item());  // the same sums in the same order: the same bits
    CHECK(l2.grad_fn_name() == "l2_penalty");
    const auto g = tg::grad({l2}, ps);
    for (std::size_t i = 0; i < ps.size(); ++i) CHECK(g[i].to_vector() == (ps[i] * 2.0).to_vector());
  }
  const Tensor a = from_double(tg::testing::random_array(gen, {3, 2})).to(kFloat64).requires_grad_();
  const Tensor b = from_double(tg::testing::random_array(gen, {2})).to(kFloat64).requires_grad_();
  const auto pen = [](const std::vector<Tensor>& in) { return nn::l2_penalty(in) * tanh(sum(in[1])); };
  const GradcheckReport first = gradcheck(pen, {a, b});
  INFO(first.to_string());
  CHECK(first.passed);
  const GradcheckReport second = gradgradcheck(pen, {a, b});
  INFO(second.to_string());
  CHECK(second.passed);
  // Forward mode: d/dt l2(a + t u, b + t v) = 2 (<a, u> + <b, v>).
  const Tensor u = ones_like(a), v = full_like(b, 0.5);
  Tensor jvp;
  {
    forward_ad::DualLevel level;
    jvp = forward_ad::unpack_dual(nn::l2_penalty({forward_ad::make_dual(a, u), forward_ad::make_dual(b, v)})).tangent;
  }
  CHECK(jvp.item() == Approx(2 * (sum(a).item() + 0.5 * sum(b).item())).epsilon(1e-14));
  CHECK_THROWS_WITH(nn::l2_penalty({a, ones({1}, kFloat32)}),
                    Catch::Contains("l2_penalty") && Catch::Contains("float32"));
  CHECK_THROWS_WITH(nn::l2_penalty({a, Tensor()}), Catch::Contains("l2_penalty: tensor 1"));
}

TEST_CASE("regularize: split_weights gives (weights, the other parameters) for weight-decay groups") {
  auto fc1 = std::make_shared<nn::Linear>(3, 4), fc2 = std::make_shared<nn::Linear>(4, 2);
  nn::Sequential net(fc1, nn::Tanh(), fc2);
  auto [w, others] = nn::split_weights(net);
  REQUIRE(w.size() == 2);
  REQUIRE(others.size() == 2);
  CHECK(w[0].is_same(fc1->weight));
  CHECK(w[1].is_same(fc2->weight));
  CHECK(others[0].is_same(fc1->bias));
  CHECK(others[1].is_same(fc2->bias));
  // The README recipe: weight decay on the weights only.
  optim::SGD opt(std::vector<optim::ParamGroup>{optim::ParamGroup(w, optim::SGDOptions(0.1).weight_decay(0.5)), others},
                 optim::SGDOptions(0.1));
  const Tensor w_before = fc1->weight.detach(), b_before = fc1->bias.detach();
  opt.zero_grad();
  (net(zeros({1, 3})) * 0.0).sum().backward();  // zero data gradient: only the decay moves weights
  opt.step();
  const std::vector<double> after = fc1->weight.to_vector(), before = w_before.to_vector();
  for (std::size_t i = 0; i < after.size(); ++i)  // float32 parameters
    CHECK(after[i] == Approx(before[i] * (1 - 0.1 * 0.5)).epsilon(1e-6));
  CHECK(fc1->bias.to_vector() == b_before.to_vector());
}

TEST_CASE("regularize: max-norm projects each unit's incoming weights onto ||w|| <= c") {
  nn::Linear fc(3, 3);
  fc.to(kFloat64);
  fc.weight.mutable_value<double>() = xt::xarray<double>{{3.0, 4.0, 0.0}, {0.1, 0.2, 0.2}, {-6.0, 0.0, 8.0}};
  const xt::xarray<double> bias = fc.bias.value<double>();
  nn::max_norm_(fc, 2.0);
  const auto W = fc.weight.value<double>();
  // Rows of norm 5 and 10 are scaled to norm 2; the row of norm 0.3 is left alone.
  CHECK(W(0, 0) == Approx(1.2).epsilon(1e-15));
  CHECK(W(0, 1) == Approx(1.6).epsilon(1e-15));
  CHECK(xt::all(xt::equal(xt::xarray<double>(xt::view(W, 1, xt::all())), xt::xarray<double>{0.1, 0.2, 0.2})));
  CHECK(W(2, 0) == Approx(-1.2).epsilon(1e-15));
  CHECK(W(2, 2) == Approx(1.6).epsilon(1e-15));
  CHECK(xt::all(xt::equal(fc.bias.value<double>(), bias)));  // biases are not constrained
  for (std::size_t r = 0; r < 3; ++r)
    CHECK(std::sqrt(xt::sum(xt::square(xt::view(W, r, xt::all())))()) <= 2.0 + 1e-15);

  Tensor conv = ones({2, 2, 2});  // float32, rows flattened: norm sqrt(4) = 2 -> 1
  nn::max_norm_(conv, 1.0);
  CHECK(xt::allclose(conv.to_double(), xt::ones<double>({2, 2, 2}) * 0.5));
  CHECK_THROWS_WITH(nn::max_norm_(conv, -1.0), Catch::Contains(">= 0"));
}
