// Initialisers: fans and gains as torch.nn.init defines them, and the moments of the drawn
// values (large seeded samples, tolerances of several standard errors), orthogonality.
#include <catch2/catch.hpp>

#include <cmath>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>

#include "nn_testing.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
namespace init = tg::nn::init;

namespace {

struct Moments {
  double mean = 0, var = 0, min = 0, max = 0;
};

Moments moments(const Tensor& t) {
  const xt::xarray<double> v = t.to_double();
  Moments m;
  m.mean = xt::mean(v)();
  m.var = xt::mean(xt::square(v - m.mean))();
  m.min = xt::amin(v)();
  m.max = xt::amax(v)();
  return m;
}

/// A float64 (out, in) weight with out * in = 250000 values.
Tensor big_weight(std::size_t out = 500, std::size_t in = 500) { return zeros({out, in}, kFloat64); }

}  // namespace

TEST_CASE("init: fans and gains") {
  CHECK(init::calculate_fans(zeros({5, 3})).fan_in == 3);
  CHECK(init::calculate_fans(zeros({5, 3})).fan_out == 5);
  const auto conv = init::calculate_fans(zeros({8, 4, 3, 3}));  // receptive field 9
  CHECK(conv.fan_in == 36);
  CHECK(conv.fan_out == 72);
  CHECK_THROWS_WITH(init::calculate_fans(zeros({5})), Catch::Contains("at least 2 axes") && Catch::Contains("(5)"));

  CHECK(init::calculate_gain("linear") == 1.0);
  CHECK(init::calculate_gain("sigmoid") == 1.0);
  CHECK(init::calculate_gain("tanh") == Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_WITH(init::calculate_gain("swish"), Catch::Contains("\"swish\""));
}

TEST_CASE("init: constant, uniform and normal") {
  Tensor t = zeros({3, 4});
  init::constant_(t, 2.5);
  CHECK(xt::all(xt::equal(t.to_double(), 2.5)));
  init::ones_(t);
  CHECK(xt::all(xt::equal(t.to_double(), 1.0)));
  init::zeros_(t);
  CHECK(xt::all(xt::equal(t.to_double(), 0.0)));

  Generator gen(11);
  const auto u = moments(init::uniform_(big_weight(), -2.0, 4.0, &gen));
  CHECK(u.min >= -2.0);
  CHECK(u.max < 4.0);
  CHECK(u.mean == Approx(1.0).margin(0.02));          // std error 1.73 / 500
  CHECK(u.var == Approx(36.0 / 12.0).epsilon(0.01));  // (b - a)^2 / 12

  const auto n = moments(init::normal_(big_weight(), 0.5, 3.0, &gen));
  CHECK(n.mean == Approx(0.5).margin(0.03));  // std error 3 / 500
  CHECK(n.var == Approx(9.0).epsilon(0.015));

  Tensor f32 = zeros({1000});
  init::normal_(f32, 0.0, 1.0, &gen);
  CHECK(f32.dtype() == kFloat32);
  CHECK(moments(f32).var == Approx(1.0).epsilon(0.15));
  CHECK_THROWS_WITH(init::uniform_(t, 1.0, 0.0), Catch::Contains("uniform_") && Catch::Contains("exceeds"));
  CHECK_THROWS_WITH(init::normal_(zeros({2}, kInt64)), Catch::Contains("normal_"));
  Tensor leaf = ones({2}, TensorOptions(kFloat32).requires_grad());
  CHECK_THROWS_WITH(init::zeros_(leaf * 2.0), Catch::Contains("leaf"));
}

TEST_CASE("init: Xavier/Glorot variance 2 / (fan_in + fan_out)") {
  Generator gen(12);
  const double target = 2.0 / (400 + 600);
  const auto u = moments(init::xavier_uniform_(big_weight(400, 600), 1.0, &gen));
  CHECK(u.max <= std::sqrt(3.0 * target));
  CHECK(u.min >= -std::sqrt(3.0 * target));
  CHECK(u.var == Approx(target).epsilon(0.01));
  const auto n = moments(init::xavier_normal_(big_weight(400, 600), 2.0, &gen));
  CHECK(n.var == Approx(4.0 * target).epsilon(0.015));
  CHECK(n.mean == Approx(0.0).margin(0.002));
}

TEST_CASE("init: Kaiming/He variance gain^2 / fan") {
  Generator gen(13);
  // relu: 2 / fan_in, weight (out 250, in 1000)
  const auto ku = moments(init::kaiming_uniform_(big_weight(250, 1000), 0.0, "fan_in", "relu", &gen));
  CHECK(ku.var == Approx(2.0 / 1000).epsilon(0.01));
  CHECK(ku.max <= std::sqrt(6.0 / 1000));
  const auto kn = moments(init::kaiming_normal_(big_weight(250, 1000), 0.0, "fan_in", "relu", &gen));
  CHECK(kn.var == Approx(2.0 / 1000).epsilon(0.015));
  // leaky_relu with slope a: 2 / ((1 + a^2) fan); fan_out mode uses the 250 outputs.
  const auto kl = moments(init::kaiming_normal_(big_weight(250, 1000), 0.3, "fan_out", "leaky_relu", &gen));
  CHECK(kl.var == Approx(2.0 / (1.09 * 250)).epsilon(0.015));
  CHECK_THROWS_WITH(init::kaiming_uniform_(big_weight(), 0.0, "fan_avg"), Catch::Contains("\"fan_avg\""));
}

TEST_CASE("init: LeCun variance 1 / fan_in") {
  Generator gen(14);
  CHECK(moments(init::lecun_uniform_(big_weight(250, 1000), &gen)).var == Approx(1.0 / 1000).epsilon(0.01));
  CHECK(moments(init::lecun_normal_(big_weight(250, 1000), &gen)).var == Approx(1.0 / 1000).epsilon(0.015));
}

TEST_CASE("init: orthogonal rows or columns, scaled by gain") {
  Generator gen(15);
  using xt::linalg::dot;
  for (const Shape& shape : {Shape{4, 7}, Shape{7, 4}, Shape{5, 5}}) {
    Tensor w = init::orthogonal_(zeros(shape, kFloat64), 1.0, &gen);
    const auto W = w.value<double>();
    const bool wide = shape[0] <= shape[1];
    const xt::xarray<double> gram = wide ? dot(W, xt::transpose(W)) : dot(xt::transpose(W), W);
    const std::size_t k = std::min(shape[0], shape[1]);
    INFO("shape " << to_string(shape));
    CHECK(xt::amax(xt::abs(gram - xt::eye<double>(k)))() < 1e-13);
  }
  // More axes: flattened to (size(0), rest).
  Tensor conv = init::orthogonal_(zeros({3, 2, 2, 2}, kFloat64), 2.0, &gen);
  xt::xarray<double> flat = conv.value<double>();
  flat.reshape({3, 8});
  CHECK(xt::amax(xt::abs(dot(flat, xt::transpose(flat)) - 4.0 * xt::eye<double>(3)))() < 1e-12);
  CHECK_THROWS_WITH(init::orthogonal_(zeros({3})), Catch::Contains("at least 2 axes"));
}

TEST_CASE("init: seeded engines reproduce weights; Linear's default matches libtorch's bounds") {
  Generator a(99), b(99);
  nn::Linear la(300, 200, true, &a), lb(300, 200, true, &b);
  CHECK(xt::all(xt::equal(la.weight.to_double(), lb.weight.to_double())));
  CHECK(xt::all(xt::equal(la.bias.to_double(), lb.bias.to_double())));
  manual_seed(5);
  nn::Linear lc(3, 2);
  manual_seed(5);
  nn::Linear ld(3, 2);
  CHECK(xt::all(xt::equal(lc.weight.to_double(), ld.weight.to_double())));

  // kaiming_uniform(a = sqrt(5)) on (out, in) is U(-1/sqrt(in), 1/sqrt(in)): variance 1 / (3 in).
  const auto w = moments(la.weight), bias = moments(la.bias);
  const double bound = 1.0 / std::sqrt(300.0);
  CHECK(w.max <= bound);
  CHECK(w.min >= -bound);
  CHECK(w.var == Approx(1.0 / 900).epsilon(0.02));
  CHECK(bias.max <= bound);
  CHECK(bias.min >= -bound);
}
