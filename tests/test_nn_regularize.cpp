// L1/L2 penalties and the max-norm constraint.
#include <catch2/catch.hpp>

#include <cmath>

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
