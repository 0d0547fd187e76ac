// nn layers: forward semantics checked against formulas, and gradcheck (float64) of every layer
// with respect to its input and parameters.
#include <catch2/catch.hpp>

#include <cmath>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "nn_testing.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using tg::testing::check_rel;
using tg::testing::module_gradcheck;
using tg::testing::random_array;

namespace {

/// Input values kept at least 0.1 away from 0, where ReLU-like kinks would upset finite differences.
xt::xarray<double> away_from_zero(std::mt19937_64& gen, const Shape& shape) {
  auto a = random_array(gen, shape, 0.1, 1.5);
  std::bernoulli_distribution flip(0.5);
  for (auto& v : a)
    if (flip(gen)) v = -v;
  return a;
}

void require_gradcheck(nn::Module& module, const Tensor& x) {
  const auto report = module_gradcheck(module, x);
  INFO(module << "\n" << report);
  CHECK(report);
}

}  // namespace

TEST_CASE("linear: x W^T + b with weight (out, in), libtorch's default init, gradcheck") {
  std::mt19937_64 gen(1);
  nn::Linear fc(4, 3);
  CHECK(fc.weight.shape() == Shape{3, 4});
  CHECK(fc.bias.shape() == Shape{3});
  CHECK(fc.weight.dtype() == kFloat32);
  CHECK(xt::amax(xt::abs(fc.weight.to_double()))() <= 0.5);  // U(-1/sqrt(4), 1/sqrt(4))
  CHECK(xt::amax(xt::abs(fc.bias.to_double()))() <= 0.5);
  fc.to(kFloat64);

  const xt::xarray<double> x = random_array(gen, {2, 5, 4});  // leading axes pass through
  const Tensor y = fc(Tensor(x));
  REQUIRE(y.shape() == Shape{2, 5, 3});
  const auto W = fc.weight.value<double>(), b = fc.bias.value<double>();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t o = 0; o < 3; ++o) {
        double expected = b(o);
        for (std::size_t k = 0; k < 4; ++k) expected += x(i, j, k) * W(o, k);
        CHECK(y.value<double>()(i, j, o) == Approx(expected).epsilon(1e-14));
      }
  CHECK_THROWS_WITH(fc(zeros({2, 5}, kFloat64)), Catch::Contains("Linear(in_features=4, out_features=3)") &&
                                                     Catch::Contains("(2,5)"));
  require_gradcheck(fc, Tensor(random_array(gen, {3, 4}), true));

  nn::Linear no_bias(4, 2, false);
  no_bias.to(kFloat64);
  CHECK(!no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  require_gradcheck(no_bias, Tensor(random_array(gen, {3, 4}), true));
}

TEST_CASE("activations: modules match their formulas and pass gradcheck") {
  std::mt19937_64 gen(2);
  const xt::xarray<double> xv = away_from_zero(gen, {3, 4});
  const Tensor x(xv);
  auto expect = [&](nn::Module& m, const xt::xarray<double>& expected) {
    INFO(m);
    check_rel("forward", m(x), expected, 1e-14);
    require_gradcheck(m, Tensor(xv, true));
  };
  nn::Sigmoid sigmoid_m;
  expect(sigmoid_m, 1.0 / (1.0 + xt::exp(-xv)));
  nn::Tanh tanh_m;
  expect(tanh_m, xt::tanh(xv));
  nn::ReLU relu_m;
  expect(relu_m, xt::maximum(xv, 0.0));
  nn::LeakyReLU leaky(0.2);
  expect(leaky, xt::where(xv > 0, xv, 0.2 * xv));
  nn::ELU elu_m(1.5);
  expect(elu_m, xt::where(xv > 0, xv, 1.5 * (xt::exp(xv) - 1.0)));
  nn::Softplus softplus_m(2.0);
  expect(softplus_m, xt::log1p(xt::exp(2.0 * xv)) / 2.0);
  nn::GELU gelu_m;
  expect(gelu_m, 0.5 * xv * (1.0 + xt::erf(xv / std::sqrt(2.0))));
  nn::GELU gelu_tanh("tanh");
  const double c = std::sqrt(2.0 / M_PI);
  expect(gelu_tanh, 0.5 * xv * (1.0 + xt::tanh(c * (xv + 0.044715 * xv * xv * xv))));
  // (xtensor 0.24 mis-broadcasts a lazy keep_dims reduction, so the sums are evaluated first.)
  const xt::xarray<double> e = xt::exp(xv);
  const xt::xarray<double> col_sums = xt::sum(e, {0}, xt::keep_dims), row_sums = xt::sum(e, {1}, xt::keep_dims);
  nn::Softmax softmax0(0);
  expect(softmax0, e / col_sums);
  nn::LogSoftmax log_softmax1;  // dim = -1
  expect(log_softmax1, xv - xt::log(row_sums));
  CHECK(tg::testing::streamed(leaky) == "LeakyReLU(negative_slope=0.2)");
  CHECK(tg::testing::streamed(gelu_tanh) == "GELU(approximate='tanh')");
  CHECK_THROWS_WITH(nn::GELU("fast"), Catch::Contains("\"fast\""));
}

TEST_CASE("flatten and identity") {
  nn::Flatten flatten;
  CHECK(flatten(zeros({2, 3, 4})).shape() == Shape{2, 12});
  CHECK(nn::Flatten(0)(zeros({2, 3, 4})).shape() == Shape{24});
  CHECK(nn::Flatten(1, 2)(zeros({2, 3, 4, 5})).shape() == Shape{2, 12, 5});
  std::mt19937_64 gen(3);
  require_gradcheck(flatten, Tensor(random_array(gen, {2, 3, 2}), true));
  nn::Identity identity;
  const Tensor x = ones({2});
  CHECK(identity(x).is_same(x));
}

TEST_CASE("maxout: the maximum of k affine pieces per unit") {
  std::mt19937_64 gen(4);
  nn::Maxout maxout(3, 2, 4);  // 2 units of 4 pieces each
  maxout.to(kFloat64);
  CHECK(maxout.weight.shape() == Shape{8, 3});
  const xt::xarray<double> x = random_array(gen, {5, 3});
  const Tensor h = maxout(Tensor(x));
  REQUIRE(h.shape() == Shape{5, 2});
  const auto W = maxout.weight.value<double>(), b = maxout.bias.value<double>();
  for (std::size_t n = 0; n < 5; ++n)
    for (std::size_t i = 0; i < 2; ++i) {
      double best = -INFINITY;
      for (std::size_t j = 0; j < 4; ++j) {
        double z = b(i * 4 + j);
        for (std::size_t k = 0; k < 3; ++k) z += W(i * 4 + j, k) * x(n, k);
        best = std::max(best, z);
      }
      CHECK(h.value<double>()(n, i) == Approx(best).epsilon(1e-14));
    }
  // For one sample only the winning piece of each unit gets a gradient.
  maxout(Tensor(xt::xarray<double>(xt::view(x, xt::range(0, 1), xt::all())))).sum().backward();
  std::size_t rows_with_grad = 0;
  const auto g = maxout.weight.grad().value<double>();
  for (std::size_t r = 0; r < 8; ++r)
    if (xt::any(xt::not_equal(xt::view(g, r, xt::all()), 0.0))) ++rows_with_grad;
  CHECK(rows_with_grad == 2);
  maxout.zero_grad();
  require_gradcheck(maxout, Tensor(random_array(gen, {4, 3}), true));
  CHECK_THROWS_WITH(nn::Maxout(3, 2, 0), Catch::Contains("at least 1"));
}

TEST_CASE("rbf: Gaussian units exp(-||x - c||^2 / sigma^2) with learnable centres") {
  std::mt19937_64 gen(5);
  nn::RBF rbf(3, 4, 0.8);
  rbf.to(kFloat64);
  CHECK(rbf.centres.shape() == Shape{4, 3});
  CHECK(rbf.centres.requires_grad());
  const xt::xarray<double> x = random_array(gen, {2, 3});
  const auto C = rbf.centres.value<double>();
  const Tensor h = rbf(Tensor(x));
  REQUIRE(h.shape() == Shape{2, 4});
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t i = 0; i < 4; ++i) {
      double d2 = 0;
      for (std::size_t k = 0; k < 3; ++k) d2 += (x(n, k) - C(i, k)) * (x(n, k) - C(i, k));
      CHECK(h.value<double>()(n, i) == Approx(std::exp(-d2 / 0.64)).epsilon(1e-14));
    }
  // dh_i/dc_i = h_i * 2 (x - c_i) / sigma^2, by hand, for one sample and sum over units.
  const Tensor x0(xt::xarray<double>(xt::view(x, xt::range(0, 1), xt::all())));
  rbf(x0).sum().backward();
  const auto h0 = rbf(x0).value<double>();
  xt::xarray<double> expected = xt::zeros<double>({4, 3});
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t k = 0; k < 3; ++k) expected(i, k) = h0(0, i) * 2.0 * (x(0, k) - C(i, k)) / 0.64;
  check_rel("dh/dc", rbf.centres.grad(), expected, 1e-14);
  rbf.zero_grad();
  require_gradcheck(rbf, Tensor(random_array(gen, {3, 3}), true));
  CHECK_THROWS_WITH(rbf(zeros({2, 5}, kFloat64)), Catch::Contains("(2,5)") && Catch::Contains("(4,3)"));
}

TEST_CASE("dropout: inverted scaling in training, identity in eval, seedable, fixed masks") {
  std::mt19937_64 gen(6);
  nn::Dropout dropout(0.25);
  const Tensor x(random_array(gen, {3, 4}), true);
  dropout.eval();
  CHECK(dropout(x).is_same(x));
  dropout.train();

  SECTION("a fixed mask gives x * m / (1 - p) and gradient m / (1 - p)") {
    const xt::xarray<double> m = {{1, 0, 1, 1}, {0, 1, 1, 0}, {1, 1, 1, 1}};
    dropout.set_mask(Tensor(xt::xarray<bool>(m > 0.5)));
    const Tensor y = dropout(x);
    check_rel("y", y, x.value<double>() * m / 0.75, 1e-15);
    y.sum().backward();
    check_rel("dy/dx", x.grad(), m / 0.75, 1e-15);
    require_gradcheck(dropout, Tensor(x.value<double>(), true));
    dropout.clear_mask();
    CHECK_THROWS_WITH(dropout.set_mask(ones({2, 2})).forward(x), Catch::Contains("(2,2)") && Catch::Contains("(3,4)"));
  }
  SECTION("drawn masks keep a fraction 1 - p and preserve the mean") {
    nn::Dropout big(0.3);
    big.seed(123);
    const Tensor ones_in = ones({200000}, kFloat64);
    const auto y = big(ones_in).value<double>();
    const double kept = static_cast<double>(xt::sum(xt::not_equal(y, 0.0))());
    CHECK(kept / 200000.0 == Approx(0.7).margin(0.005));  // 5 standard errors
    CHECK(xt::mean(y)() == Approx(1.0).margin(0.01));
    std::size_t other = 0;  // values neither dropped nor scaled by 1 / (1 - p)
    for (double v : y) other += !(v == 0.0 || std::abs(v - 1.0 / 0.7) <= 1e-15);
    CHECK(other == 0);
  }
  SECTION("seeded layers repeat their masks; different seeds differ") {
    nn::Dropout a(0.5), b(0.5), c(0.5);
    a.seed(7);
    b.seed(7);
    c.seed(8);
    const Tensor in = ones({64}, kFloat64);
    CHECK(xt::all(xt::equal(a(in).to_double(), b(in).to_double())));
    CHECK(!xt::all(xt::equal(a(in).to_double(), c(in).to_double())));
  }
  SECTION("p = 0 and p = 1") {
    CHECK(nn::Dropout(0.0)(x).is_same(x));
    const Tensor zero = nn::Dropout(1.0)(x);
    CHECK(xt::all(xt::equal(zero.to_double(), 0.0)));
    CHECK_THROWS_WITH(nn::Dropout(1.5), Catch::Contains("[0, 1]"));
  }
}

TEST_CASE("batchnorm1d: (N, C, L) inputs, modes, momentum and options") {
  std::mt19937_64 gen(7);
  const std::size_t N = 4, C = 3, L = 5;
  const xt::xarray<double> x = random_array(gen, {N, C, L}, -2.0, 3.0);
  nn::BatchNorm1d bn(C);
  bn.to(kFloat64);
  bn.weight.mutable_value<double>() = xt::xarray<double>{0.5, 2.0, -1.0};
  bn.bias.mutable_value<double>() = xt::xarray<double>{0.1, 0.0, -0.3};

  // Statistics per channel over N and L: n = N * L values.
  const double n = static_cast<double>(N * L);
  xt::xarray<double> mean = xt::mean(x, {0, 2}), var = xt::zeros<double>({C});
  for (std::size_t c = 0; c < C; ++c) {
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t l = 0; l < L; ++l) var(c) += (x(i, c, l) - mean(c)) * (x(i, c, l) - mean(c));
    var(c) /= n;
  }
  xt::xarray<double> expected = xt::zeros<double>({N, C, L});
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t l = 0; l < L; ++l)
        expected(i, c, l) = (x(i, c, l) - mean(c)) / std::sqrt(var(c) + 1e-5) * bn.weight.value<double>()(c) +
                            bn.bias.value<double>()(c);
  check_rel("train output", bn(Tensor(x)), expected, 1e-13);
  check_rel("running_mean", bn.running_mean, 0.1 * mean, 1e-14);
  check_rel("running_var", bn.running_var, 0.9 + 0.1 * var * n / (n - 1), 1e-14);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);

  bn.eval();
  const auto rm = bn.running_mean.value<double>(), rv = bn.running_var.value<double>();
  const Tensor y_eval = bn(Tensor(x));
  for (std::size_t c = 0; c < C; ++c)
    CHECK(y_eval.value<double>()(1, c, 2) ==
          Approx((x(1, c, 2) - rm(c)) / std::sqrt(rv(c) + 1e-5) * bn.weight.value<double>()(c) +
                 bn.bias.value<double>()(c)).epsilon(1e-14));
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);  // eval does not count
  require_gradcheck(bn, Tensor(x, true));                   // eval mode: an affine map
  bn.train();
  require_gradcheck(bn, Tensor(x, true));
  require_gradcheck(bn, Tensor(random_array(gen, {6, C}), true));

  SECTION("momentum = nullopt keeps the cumulative average") {
    nn::BatchNorm1d avg(2, 1e-5, std::nullopt);
    avg.to(kFloat64);
    const xt::xarray<double> a = random_array(gen, {5, 2}), b = random_array(gen, {5, 2});
    avg(Tensor(a));
    avg(Tensor(b));
    check_rel("cumulative mean", avg.running_mean, (xt::mean(a, {0}) + xt::mean(b, {0})) / 2.0, 1e-14);
  }
  SECTION("no affine parameters, no running statistics") {
    nn::BatchNorm1d plain(C, 1e-5, 0.1, false, false);
    plain.to(kFloat64);
    CHECK(plain.parameters().empty());
    CHECK(plain.buffers().empty());
    plain.eval();  // without running statistics, evaluation uses the batch too
    const Tensor y = plain(Tensor(x));
    CHECK(xt::allclose(xt::mean(y.value<double>(), {0, 2}), xt::zeros<double>({C}), 1e-12, 1e-12));
  }
  SECTION("bad inputs") {
    const auto count = bn.num_batches_tracked.item<std::int64_t>();
    CHECK_THROWS_WITH(bn(zeros({1, C}, kFloat64)), Catch::Contains("more than 1 value per channel"));
    CHECK(bn.num_batches_tracked.item<std::int64_t>() == count);  // a refused batch is not counted
    CHECK_THROWS_WITH(bn(zeros({4, 2}, kFloat64)), Catch::Contains("BatchNorm1d(3)") && Catch::Contains("(4,2)"));
  }
}

TEST_CASE("functional: stateless forms of the layers") {
  namespace F = nn::functional;
  std::mt19937_64 gen(8);
  const Tensor x(random_array(gen, {4, 3}));
  CHECK(F::dropout(x, 0.5, /*training=*/false).is_same(x));
  Generator mask_gen(3);
  const Tensor mask = F::dropout_mask(x, 0.5, &mask_gen);
  CHECK(mask.dtype() == kFloat64);
  check_rel("dropout", F::dropout_with_mask(x, mask, 0.5), x.value<double>() * mask.value<double>() * 2.0, 1e-15);

  // Eval-mode batch_norm with explicit statistics.
  const Tensor rm = from_double({0.5, -1.0, 0.0}, kFloat64), rv = from_double({4.0, 1.0, 0.25}, kFloat64);
  const Tensor y = F::batch_norm(x, rm, rv, Tensor(), Tensor(), false, 0.1, 0.0);
  check_rel("batch_norm eval", y, (x.value<double>() - rm.value<double>()) / xt::sqrt(rv.value<double>()), 1e-15);
  CHECK_THROWS_WITH(F::batch_norm(x, rm, Tensor(), Tensor(), Tensor(), true), Catch::Contains("both"));

  nn::Maxout mo(3, 2, 2);
  mo.to(kFloat64);
  CHECK(xt::all(xt::equal(F::maxout(x, mo.weight, mo.bias, 2).to_double(), mo(x).to_double())));
  CHECK_THROWS_WITH(F::maxout(x, mo.weight, mo.bias, 3), Catch::Contains("pieces = 3"));
  CHECK_THROWS_WITH(F::rbf(x, zeros({2, 3}, kFloat64), 0.0), Catch::Contains("sigma"));
}

TEST_CASE("functional: option structs with chained setters give the positional spelling's results", "[options]") {
  namespace F = nn::functional;
  std::mt19937_64 gen(9);
  const Tensor x(random_array(gen, {4, 3}));
  auto same = [](const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    REQUIRE(a.dtype() == b.dtype());
    CHECK(a.to_vector() == b.to_vector());  // the same computation: bit for bit
  };
  // dropout: p, training and the generator are passed on (same seed, same mask).
  Generator g1(5), g2(5);
  const Tensor dropped = F::dropout(x, F::DropoutFuncOptions().p(0.25).generator(&g1));
  same(dropped, F::dropout(x, 0.25, true, &g2));
  CHECK(dropped.to_vector() != x.to_vector());  // training by default: something was dropped or scaled
  CHECK(F::dropout(x, F::DropoutFuncOptions().training(false)).is_same(x));
  CHECK(F::DropoutFuncOptions().p() == 0.5);

  // batch_norm in training mode updates the running statistics it is given, as the positional form.
  const Tensor w = from_double({1.5, -0.5, 2.0}, kFloat64), b = from_double({0.1, 0.2, 0.3}, kFloat64);
  Tensor rm1 = zeros({3}, kFloat64), rv1 = ones({3}, kFloat64), rm2 = zeros({3}, kFloat64), rv2 = ones({3}, kFloat64);
  same(F::batch_norm(x, rm1, rv1, F::BatchNormFuncOptions().weight(w).bias(b).training(true).momentum(0.3).eps(1e-3)),
       F::batch_norm(x, rm2, rv2, w, b, true, 0.3, 1e-3));
  same(rm1, rm2);
  same(rv1, rv2);
  CHECK(rm1.to_vector() != std::vector<double>(3, 0.0));
  // libtorch's default is evaluation: the running statistics normalise.
  same(F::batch_norm(x, rm1, rv1, F::BatchNormFuncOptions()), F::batch_norm(x, rm1, rv1, {}, {}, false, 0.1, 1e-5));

  const Tensor labels = tensor({2, 0, 1}, kInt64);
  const Tensor hot = F::one_hot(labels, F::OneHotFuncOptions().num_classes(4).dtype(kFloat64));
  same(hot, F::one_hot(labels, 4, kFloat64));
  CHECK(hot.shape() == Shape{3, 4});
  CHECK(F::one_hot(labels, F::OneHotFuncOptions()).shape() == Shape{3, 3});  // max + 1, int64
  CHECK(F::one_hot(labels, F::OneHotFuncOptions()).dtype() == kInt64);

  same(F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.2)), leaky_relu(x, 0.2));
  same(F::elu(x, F::ELUFuncOptions().alpha(0.7)), elu(x, 0.7));
  same(F::softplus(x, F::SoftplusFuncOptions().beta(2.0).threshold(1.0)), softplus(x, 2.0, 1.0));
  same(F::gelu(x, F::GELUFuncOptions().approximate("tanh")), gelu(x, "tanh"));
  CHECK(F::gelu(x, F::GELUFuncOptions().approximate("tanh")).to_vector() != gelu(x).to_vector());
  same(F::softmax(x, F::SoftmaxFuncOptions(0)), softmax(x, 0));
  same(F::log_softmax(x, F::LogSoftmaxFuncOptions(-1)), log_softmax(x, 1));
  const Tensor cube = zeros({2, 3, 4}, kFloat64);
  CHECK(F::flatten(cube, F::FlattenFuncOptions().start_dim(1)).shape() == Shape{2, 12});
  CHECK(F::flatten(cube, F::FlattenFuncOptions()).shape() == Shape{24});
  CHECK(F::flatten(cube, F::FlattenFuncOptions().end_dim(1)).shape() == Shape{6, 4});
  // Bad options still give the functional's own error.
  CHECK_THROWS_WITH(F::gelu(x, F::GELUFuncOptions().approximate("fast")), Catch::Contains("gelu"));
  CHECK_THROWS_WITH(F::softmax(x, F::SoftmaxFuncOptions(2)), Catch::Contains("softmax"));
}
