// Textbook backpropagation, derived by hand in plain xtensor arithmetic (float64), against the
// gradients autograd computes through nn modules. Each case writes out the derivation's
// equations; agreement is required to 1e-12 (normwise relative).
//
// Linear stores its weight (out, in), so y = x W^T + b. The "row-vector" derivations (cases 1
// and 2) multiply x W with W of shape (in, out): that W is Linear::weight transposed. The
// "column-vector" ones (cases 3 and 4, Nielsen's notation z = W a + b) use Linear::weight as is.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "nn_testing.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using tg::testing::check_rel;
using tg::testing::random_array;
using xt::linalg::dot;

namespace {

constexpr double kTol = 1e-12;

xt::xarray<double> sigma(const xt::xarray<double>& z) { return 1.0 / (1.0 + xt::exp(-z)); }

xt::xarray<double> softmax_rows(const xt::xarray<double>& z) {
  xt::xarray<double> m = xt::amax(z, {1}, xt::keep_dims);
  xt::xarray<double> e = xt::exp(z - m);
  xt::xarray<double> s = xt::sum(e, {1}, xt::keep_dims);
  return e / s;
}

xt::xarray<double> one_hot(const std::vector<std::size_t>& labels, std::size_t classes) {
  xt::xarray<double> t = xt::zeros<double>({labels.size(), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) t(i, labels[i]) = 1.0;
  return t;
}

/// A float64 Linear whose weight (out, in) and bias are set to the given values.
std::shared_ptr<nn::Linear> linear_with(const xt::xarray<double>& weight, const xt::xarray<double>* bias = nullptr) {
  auto layer = std::make_shared<nn::Linear>(weight.shape()[1], weight.shape()[0], bias != nullptr);
  layer->to(kFloat64);
  layer->weight.mutable_value<double>() = weight;
  if (bias) layer->bias.mutable_value<double>() = *bias;
  return layer;
}

/// Row `row` of m as a column vector (n, 1).
xt::xarray<double> column(const xt::xarray<double>& m, std::size_t row) {
  xt::xarray<double> r = xt::view(m, row, xt::all());
  r.reshape({r.size(), std::size_t(1)});
  return r;
}

/// A vector (n,) as a column (n, 1).
xt::xarray<double> as_column(xt::xarray<double> v) {
  v.reshape({v.size(), std::size_t(1)});
  return v;
}

}  // namespace

TEST_CASE("backprop 1: two sigmoid layers without biases, squared error, full batch") {
  std::mt19937_64 gen(101);
  const xt::xarray<double> x = random_array(gen, {5, 3}), y = random_array(gen, {5, 2}, 0.0, 1.0);
  const xt::xarray<double> W1 = random_array(gen, {3, 4}), W2 = random_array(gen, {4, 2});  // x W layout

  // Hand derivation for E = 1/2 sum (a2 - y)^2 with a1 = sigma(x W1), a2 = sigma(a1 W2).
  const xt::xarray<double> a1 = sigma(dot(x, W1));
  const xt::xarray<double> a2 = sigma(dot(a1, W2));
  const xt::xarray<double> delta2 = (a2 - y) * a2 * (1.0 - a2);
  const xt::xarray<double> delta1 = dot(delta2, xt::transpose(W2)) * a1 * (1.0 - a1);
  const xt::xarray<double> dW2 = dot(xt::transpose(a1), delta2);
  const xt::xarray<double> dW1 = dot(xt::transpose(x), delta1);

  // The same network as modules.
  auto fc1 = linear_with(xt::transpose(W1)), fc2 = linear_with(xt::transpose(W2));
  nn::Sequential net{fc1, std::make_shared<nn::Sigmoid>(), fc2, std::make_shared<nn::Sigmoid>()};
  const Tensor out = net(Tensor(x));
  const Tensor E = sum(pow(out - Tensor(y), 2.0)) * 0.5;
  E.backward();

  check_rel("a2", out, a2, kTol);
  check_rel("dE/dW1", fc1->weight.grad(), xt::transpose(dW1), kTol);
  check_rel("dE/dW2", fc2->weight.grad(), xt::transpose(dW2), kTol);
}

TEST_CASE("backprop 2: sigmoid hidden layer, softmax output, log-likelihood gradients") {
  std::mt19937_64 gen(202);
  const std::size_t n = 6, d = 4, h = 5, k = 3;
  const xt::xarray<double> X = random_array(gen, {n, d});
  const xt::xarray<double> T = one_hot({0, 2, 1, 1, 0, 2}, k);
  const xt::xarray<double> W = random_array(gen, {d, h}), b1 = random_array(gen, {h});
  const xt::xarray<double> V = random_array(gen, {h, k}), b2 = random_array(gen, {k});

  // J = sum T log Y with H = sigma(X W + b1), Y = softmax(H V + b2). These are gradients of the
  // log-likelihood (to be ascended): minus those of the cross-entropy.
  const xt::xarray<double> H = sigma(dot(X, W) + b1);
  const xt::xarray<double> Y = softmax_rows(dot(H, V) + b2);
  const xt::xarray<double> dJ_dV = dot(xt::transpose(H), T - Y);
  const xt::xarray<double> dJ_db2 = xt::sum(T - Y, {0});
  const xt::xarray<double> bracket = dot(T - Y, xt::transpose(V)) * H * (1.0 - H);
  const xt::xarray<double> dJ_dW = dot(xt::transpose(X), bracket);
  const xt::xarray<double> dJ_db1 = xt::sum(bracket, {0});

  auto hidden = linear_with(xt::transpose(W), &b1), output = linear_with(xt::transpose(V), &b2);
  nn::Sequential net{hidden, std::make_shared<nn::Sigmoid>(), output, std::make_shared<nn::LogSoftmax>(1)};
  const Tensor log_Y = net(Tensor(X));
  const Tensor J = sum(Tensor(T) * log_Y);
  J.backward();

  check_rel("log Y", log_Y, xt::log(Y), kTol);
  check_rel("dJ/dV", output->weight.grad(), xt::transpose(dJ_dV), kTol);
  check_rel("dJ/db2", output->bias.grad(), dJ_db2, kTol);
  check_rel("dJ/dW", hidden->weight.grad(), xt::transpose(dJ_dW), kTol);
  check_rel("dJ/db1", hidden->bias.grad(), dJ_db1, kTol);
}

namespace {

/// Per-sample backpropagation in Nielsen's notation for layers W[l] (n_l, n_{l-1}), b[l]:
/// z^l = W^l a^{l-1} + b^l, a^l = f(z^l) for hidden layers. output_delta(z^L, a^L, y) gives
/// delta^L; hidden layers use delta^l = (W^{l+1})^T delta^{l+1} * f'(z^l). Returns the gradients
/// averaged over the samples (rows of X, Y), as {dW^1, db^1, dW^2, db^2, ...}.
template <class Act, class ActPrime, class OutAct, class OutputDelta>
std::vector<xt::xarray<double>> per_sample_backprop(const std::vector<xt::xarray<double>>& W,
                                                    const std::vector<xt::xarray<double>>& b,
                                                    const xt::xarray<double>& X, const xt::xarray<double>& Y,
                                                    Act f, ActPrime f_prime, OutAct f_out,
                                                    OutputDelta output_delta) {
  const std::size_t L = W.size(), m = X.shape()[0];
  std::vector<xt::xarray<double>> grads;
  for (std::size_t l = 0; l < L; ++l) {
    grads.push_back(xt::zeros<double>(W[l].shape()));
    grads.push_back(xt::zeros<double>({W[l].shape()[0], std::size_t(1)}));
  }
  for (std::size_t s = 0; s < m; ++s) {
    std::vector<xt::xarray<double>> a{column(X, s)}, z;
    for (std::size_t l = 0; l < L; ++l) {
      z.push_back(dot(W[l], a.back()) + as_column(b[l]));
      a.push_back(l + 1 < L ? f(z.back()) : f_out(z.back()));
    }
    xt::xarray<double> delta = output_delta(z[L - 1], a[L], column(Y, s));
    for (std::size_t l = L; l-- > 0;) {
      grads[2 * l] += dot(delta, xt::transpose(a[l]));  // dC/dW^l = delta^l (a^{l-1})^T
      grads[2 * l + 1] += delta;                          // dC/db^l = delta^l
      if (l > 0) delta = dot(xt::transpose(W[l]), delta) * f_prime(z[l - 1]);
    }
  }
  for (auto& g : grads) g /= static_cast<double>(m);
  for (std::size_t l = 0; l < L; ++l) grads[2 * l + 1].reshape({W[l].shape()[0]});
  return grads;
}

}  // namespace

TEST_CASE("backprop 3: per-sample recursion with biases and quadratic cost through L layers") {
  std::mt19937_64 gen(303);
  const std::vector<std::size_t> sizes{4, 5, 3, 2};
  const std::size_t m = 7;
  std::vector<xt::xarray<double>> W, b;
  nn::Sequential net;
  for (std::size_t l = 1; l < sizes.size(); ++l) {
    W.push_back(random_array(gen, {sizes[l], sizes[l - 1]}));
    b.push_back(random_array(gen, {sizes[l]}));
    net.push_back(linear_with(W.back(), &b.back()));
    net.push_back(std::make_shared<nn::Sigmoid>());
  }
  const xt::xarray<double> X = random_array(gen, {m, sizes.front()});
  const xt::xarray<double> Y = random_array(gen, {m, sizes.back()}, 0.0, 1.0);

  // C = (1/m) sum_x 1/2 ||a^L(x) - y(x)||^2, every layer sigmoid:
  // delta^L = (a^L - y) * sigma'(z^L), sigma'(z) = sigma(z) (1 - sigma(z)).
  auto sigma_prime = [](const xt::xarray<double>& z) -> xt::xarray<double> { return sigma(z) * (1.0 - sigma(z)); };
  const auto expected = per_sample_backprop(
      W, b, X, Y, sigma, sigma_prime, sigma,
      [&](const xt::xarray<double>& zL, const xt::xarray<double>& aL,
          const xt::xarray<double>& y) -> xt::xarray<double> { return (aL - y) * sigma_prime(zL); });

  const Tensor out = net(Tensor(X));
  const Tensor C = sum(pow(out - Tensor(Y), 2.0)) * (0.5 / static_cast<double>(m));
  C.backward();
  const auto params = net.named_parameters();
  REQUIRE(params.size() == expected.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    check_rel(params[i].first, params[i].second.grad(), expected[i], kTol);
}

TEST_CASE("backprop 4: ReLU hidden layers (indicator of z > 0) and a softmax output") {
  std::mt19937_64 gen(404);
  const std::vector<std::size_t> sizes{4, 6, 5, 3};
  const std::size_t m = 8;
  std::vector<xt::xarray<double>> W, b;
  nn::Sequential net;
  for (std::size_t l = 1; l < sizes.size(); ++l) {
    W.push_back(random_array(gen, {sizes[l], sizes[l - 1]}));
    b.push_back(random_array(gen, {sizes[l]}, -0.2, 0.2));
    net.push_back(linear_with(W.back(), &b.back()));
    if (l + 1 < sizes.size()) net.push_back(std::make_shared<nn::ReLU>());
  }
  const xt::xarray<double> X = random_array(gen, {m, sizes.front()});
  const std::vector<std::size_t> labels{0, 1, 2, 2, 1, 0, 1, 2};
  const xt::xarray<double> Y = one_hot(labels, sizes.back());

  // C = (1/m) sum_x -log softmax(z^L)_y: delta^L = softmax(z^L) - y; hidden layers
  // delta^l = (W^{l+1})^T delta^{l+1} * 1[z^l > 0].
  std::size_t active = 0, inactive = 0;
  auto relu = [](const xt::xarray<double>& z) -> xt::xarray<double> { return xt::maximum(z, 0.0); };
  auto indicator = [&](const xt::xarray<double>& z) -> xt::xarray<double> {
    xt::xarray<double> g = xt::cast<double>(z > 0.0);
    for (double v : g) (v > 0 ? active : inactive) += 1;
    return g;
  };
  auto softmax_column = [](const xt::xarray<double>& z) -> xt::xarray<double> {
    return xt::transpose(softmax_rows(xt::transpose(z)));
  };
  const auto expected = per_sample_backprop(
      W, b, X, Y, relu, indicator, softmax_column,
      [](const xt::xarray<double>&, const xt::xarray<double>& aL, const xt::xarray<double>& y) -> xt::xarray<double> {
        return aL - y;
      });
  INFO("hidden units active " << active << ", inactive " << inactive);
  CHECK(active > 0);  // both branches of the indicator are exercised
  CHECK(inactive > 0);

  const Tensor logits = net(Tensor(X));
  const Tensor C = -sum(Tensor(Y) * log_softmax(logits, 1)) / static_cast<double>(m);
  C.backward();
  const auto params = net.named_parameters();
  REQUIRE(params.size() == expected.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    check_rel(params[i].first, params[i].second.grad(), expected[i], kTol);
}
