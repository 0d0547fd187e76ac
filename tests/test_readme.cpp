// The README's snippets, compiled and checked, so the documented API stays true.
#include <catch2/catch.hpp>

#include <cmath>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

TEST_CASE("readme: first look (gradient and Hessian-vector product)") {
  tg::Tensor x = tg::tensor({{0.5, -1.0}, {2.0, 0.25}}, tg::kFloat64);
  tg::Tensor w = tg::tensor({0.3, 0.7}, tg::TensorOptions(tg::kFloat64).requires_grad());
  tg::Tensor loss = tg::sum(tg::tanh(tg::matmul(x, w)));
  loss.backward();

  tg::Tensor f = tg::sum(tg::tanh(tg::matmul(x, w)));
  auto g = tg::grad({f}, {w}, {}, std::nullopt, /*create_graph=*/true);
  tg::Tensor v = tg::tensor({1.0, 0.0}, tg::kFloat64);
  auto hvp = tg::grad({tg::sum(g[0] * v)}, {w});

  // By hand: z = x w, dL/dw = x^T (1 - tanh^2 z), H = x^T diag(-2 tanh z (1 - tanh^2 z)) x.
  const double z0 = 0.5 * 0.3 - 1.0 * 0.7, z1 = 2.0 * 0.3 + 0.25 * 0.7;
  const double s0 = 1 - std::tanh(z0) * std::tanh(z0), s1 = 1 - std::tanh(z1) * std::tanh(z1);
  CHECK(w.grad().value<double>()(0) == Approx(0.5 * s0 + 2.0 * s1).epsilon(1e-14));
  const double d0 = -2 * std::tanh(z0) * s0, d1 = -2 * std::tanh(z1) * s1;
  CHECK(hvp[0].value<double>()(0) == Approx(0.5 * d0 * 0.5 + 2.0 * d1 * 2.0).epsilon(1e-14));
  CHECK(hvp[0].value<double>()(1) == Approx(-1.0 * d0 * 0.5 + 0.25 * d1 * 2.0).epsilon(1e-14));
}

TEST_CASE("readme: forward mode") {
  namespace fwd = tg::forward_ad;
  tg::Tensor x = tg::tensor({0.5, -1.0, 2.0}, tg::TensorOptions(tg::kFloat64).requires_grad());
  tg::Tensor v = tg::tensor({1.0, 0.0, 0.0}, tg::kFloat64);
  {
    fwd::DualLevel level;
    tg::Tensor xv = fwd::make_dual(x, v);
    tg::Tensor y = tg::sum(tg::exp(xv) * tg::sin(xv));
    tg::Tensor jv = fwd::unpack_dual(y).tangent;
    tg::Tensor g = tg::grad({y}, {x})[0];
    tg::Tensor hv = fwd::unpack_dual(g).tangent;
    // By hand: f = sum e^x sin x, f' = e^x (sin x + cos x), f'' = 2 e^x cos x; v = e_0.
    const double x0 = 0.5;
    CHECK(jv.item() == Approx(std::exp(x0) * (std::sin(x0) + std::cos(x0))).epsilon(1e-14));
    CHECK(hv.value<double>()(0) == Approx(2 * std::exp(x0) * std::cos(x0)).epsilon(1e-14));
    CHECK(hv.value<double>()(1) == 0.0);
    CHECK(hv.value<double>()(2) == 0.0);
  }
}

TEST_CASE("readme: function transforms") {
  namespace AF = tg::autograd::functional;
  auto f = [](const tg::Tensor& t) { return tg::sum(tg::exp(t) * tg::sin(t)); };
  tg::Tensor x = tg::tensor({{0.5, -1.0, 2.0}, {0.1, 0.2, 0.3}}, tg::kFloat64);
  tg::Tensor u = tg::ones_like(x);

  auto [y, g] = AF::vjp(f, x);
  tg::Tensor jv = AF::jvp(f, x, u).product;
  tg::Tensor J = AF::jacobian([](const tg::Tensor& t) { return tg::exp(t) * tg::sin(t); }, x,
                              AF::JacobianOptions().strategy(AF::Strategy::forward_mode));
  tg::Tensor H = AF::hessian(f, x);
  tg::Tensor hv = AF::hvp(f, x, u).product;
  tg::Tensor vh = AF::vhp(f, x, u).product;

  // By hand: f' = e^x (sin x + cos x) elementwise, f'' = 2 e^x cos x; J and H are diagonal.
  REQUIRE(J.shape() == tg::Shape{2, 3, 2, 3});
  REQUIRE(H.shape() == tg::Shape{2, 3, 2, 3});
  const std::vector<double> xs = x.to_vector(), gs = g.to_vector(), Js = J.to_vector(), Hs = H.to_vector();
  const std::vector<double> hvs = hv.to_vector(), vhs = vh.to_vector();
  double value = 0, slope = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    const double e = std::exp(xs[i]), d1 = e * (std::sin(xs[i]) + std::cos(xs[i])), d2 = 2 * e * std::cos(xs[i]);
    value += e * std::sin(xs[i]);
    slope += d1;
    CHECK(gs[i] == Approx(d1).epsilon(1e-14));
    CHECK(hvs[i] == Approx(d2).epsilon(1e-14));
    CHECK(vhs[i] == Approx(d2).epsilon(1e-14));
    for (std::size_t j = 0; j < 6; ++j) {
      CHECK(Js[i * 6 + j] == Approx(i == j ? d1 : 0.0).epsilon(1e-14).margin(1e-300));
      CHECK(Hs[i * 6 + j] == Approx(i == j ? d2 : 0.0).epsilon(1e-14).margin(1e-300));
    }
  }
  CHECK(y.item() == Approx(value).epsilon(1e-14));
  CHECK(jv.item() == Approx(slope).epsilon(1e-14));
}

TEST_CASE("readme: model, loss and optimizer") {
  namespace nn = tg::nn;
  tg::Generator gen(0);
  const tg::Tensor images = tg::rand({64, 784}, {}, &gen), labels = tg::randint(0, 10, {64}, &gen);
  tg::data::TensorDataset train(images, labels);
  tg::data::DataLoader loader(train, tg::data::DataLoaderOptions().batch_size(16).shuffle(true));
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
  nn::Sequential alternative(std::make_shared<nn::Linear>(784, 30), nn::Sigmoid(), nn::Linear(30, 10));
  CHECK(alternative(images).shape() == tg::Shape{64, 10});
  tg::optim::Adam optimizer(model->parameters(), tg::optim::AdamOptions(1e-3));
  const std::int64_t correct_before = (tg::argmax((*model)(images), 1) == labels).sum().item<std::int64_t>();
  double first = 0, last = 0;
  for (std::size_t epoch = 0; epoch < 5; ++epoch) {
    double total = 0;
    for (const tg::data::Batch& batch : loader.epoch(epoch)) {
      optimizer.zero_grad();
      tg::Tensor loss = nn::functional::cross_entropy((*model)(batch.input), batch.target);
      loss.backward();
      optimizer.step();
      total += loss.item();
    }
    (epoch == 0 ? first : last) = total;
  }
  CHECK(last < first);  // it learns (memorises) the random labels
  std::int64_t correct = (tg::argmax((*model)(images), 1) == labels).sum().item<std::int64_t>();
  CHECK(correct > correct_before);
  CHECK(correct <= 64);
}
