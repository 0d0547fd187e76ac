// The README's code snippets, compiled and run. The marked ones (an HTML comment naming the
// snippet before its ```cpp block) are extracted from README.md at build time by
// readme_snippets.cmake and included here, inside a TEST_CASE that provides what the snippet takes
// as given (data, a model) and checks what it computes; a compile error in one names the README's
// line. The forward-mode snippet keeps its results in a block scope, so it is copied instead.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

// The snippets' own #include lines, at file scope.
#include "readme/checkpoint-sequential.includes.inc"
#include "readme/data-loading.includes.inc"
#include "readme/first-look.includes.inc"
#include "readme/function-transforms.includes.inc"
#include "readme/gradcheck-module.includes.inc"
#include "readme/gradcheck.includes.inc"
#include "readme/model.includes.inc"
#include "readme/weight-decay.includes.inc"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

/// The op the gradcheck snippet checks: any differentiable function of two tensors.
tg::Tensor my_op(const tg::Tensor& a, const tg::Tensor& b) { return tg::tanh(a) * b + tg::exp(a * b); }

/// Runs the scope in another working directory, and goes back when it ends.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dir) {
    char buffer[4096];
    REQUIRE(::getcwd(buffer, sizeof buffer) != nullptr);
    previous_ = buffer;
    REQUIRE(::chdir(dir.c_str()) == 0);
  }
  ~WorkingDirectory() { (void)::chdir(previous_.c_str()); }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  std::string previous_;
};

bool readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

std::vector<double> values(const std::vector<tg::Tensor>& tensors) {
  std::vector<double> out;
  for (const tg::Tensor& t : tensors) {
    const std::vector<double> v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace

TEST_CASE("readme: first look (gradient and Hessian-vector product)") {
#include "readme/first-look.inc"

  // By hand: z = x w, dL/dw = x^T (1 - tanh^2 z), H = x^T diag(-2 tanh z (1 - tanh^2 z)) x.
  const double z0 = 0.5 * 0.3 - 1.0 * 0.7, z1 = 2.0 * 0.3 + 0.25 * 0.7;
  const double s0 = 1 - std::tanh(z0) * std::tanh(z0), s1 = 1 - std::tanh(z1) * std::tanh(z1);
  CHECK(loss.item() == Approx(std::tanh(z0) + std::tanh(z1)).epsilon(1e-14));
  CHECK(w.grad().value<double>()(0) == Approx(0.5 * s0 + 2.0 * s1).epsilon(1e-14));
  CHECK(g[0].value<double>()(1) == Approx(-1.0 * s0 + 0.25 * s1).epsilon(1e-14));
  const double d0 = -2 * std::tanh(z0) * s0, d1 = -2 * std::tanh(z1) * s1;
  CHECK(v.value<double>()(0) == 1.0);
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
#include "readme/function-transforms.inc"

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
  tg::Generator data_gen(0);
  const tg::Tensor images = tg::rand({64, 784}, {}, &data_gen), labels = tg::randint(0, 10, {64}, &data_gen);
  tg::manual_seed(11);  // the snippet's model draws its initial weights first
  {
#include "readme/model.inc"

    // Ten Adam steps on the whole (random) set: its loss falls below that of the initial weights.
    tg::manual_seed(11);
    nn::MLP initial(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
    const double before = nn::functional::cross_entropy(initial(images), labels).item();
    const double after = nn::functional::cross_entropy((*model)(images), labels).item();
    CHECK(after < before);
    CHECK(loader.num_batches() == 1);
    CHECK(loader.options().shuffle());
    CHECK(correct >= 0);
    CHECK(correct <= 64);
  }
  // The alternative the snippet's comment names.
  tg::nn::Sequential model(std::make_shared<tg::nn::Linear>(784, 30), tg::nn::Sigmoid(), tg::nn::Linear(30, 10));
  CHECK(model(images).shape() == tg::Shape{64, 10});
}

TEST_CASE("readme: data loading (MNIST)") {
  const std::string root = TAPEGRAD_SOURCE_DIR;
  const std::string dir = root + "/datasets/mnist/";
  if (!(readable(dir + "train-images-idx3-ubyte") || readable(dir + "train-images-idx3-ubyte.gz"))) {
    WARN("SKIPPED: the README's data-loading snippet needs MNIST in " << dir << " (bash scripts/fetch-mnist)");
    return;
  }
  const WorkingDirectory in_root(root);  // the snippet reads datasets/mnist from the repository root
#include "readme/data-loading.inc"

  CHECK(train.images.shape() == tg::Shape{60000, 784});
  CHECK(test.labels.shape() == tg::Shape{10000});
  CHECK(loader.num_batches() == 469);  // 468 of 128 and one of 96
  CHECK(test_loader.num_batches() == 10);
  CHECK(seen == 60000);
  CHECK(loader.order(0) != loader.order(1));
}

TEST_CASE("readme: L2 regularisation as weight decay on the weights only") {
  namespace nn = tg::nn;
  const double eta = 0.5, lambda = 5.0, n = 50;  // as network2.py: lambda over the training set size n
  tg::manual_seed(4);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{4, 3, 2}, nn::Sigmoid());
  model->to(tg::kFloat64);
#include "readme/weight-decay.inc"

  // The same training with the penalty 0.5 lambda / n ||w||^2 in the cost instead, and without any.
  tg::manual_seed(4);
  auto penalised = std::make_shared<nn::MLP>(std::vector<std::size_t>{4, 3, 2}, nn::Sigmoid());
  penalised->to(tg::kFloat64);
  tg::optim::SGD plain(penalised->parameters(), tg::optim::SGDOptions(eta));
  tg::manual_seed(4);
  auto undecayed = std::make_shared<nn::MLP>(std::vector<std::size_t>{4, 3, 2}, nn::Sigmoid());
  undecayed->to(tg::kFloat64);
  tg::optim::SGD no_decay(undecayed->parameters(), tg::optim::SGDOptions(eta));
  REQUIRE(values(model->parameters()) == values(penalised->parameters()));

  tg::Generator gen(2);
  const tg::Tensor x = tg::randn({8, 4}, tg::kFloat64, &gen), y = tg::rand({8, 2}, tg::kFloat64, &gen);
  for (int step = 0; step < 5; ++step) {
    optimizer.zero_grad();
    nn::functional::quadratic_cost(tg::sigmoid((*model)(x)), y).backward();
    optimizer.step();
    plain.zero_grad();
    (nn::functional::quadratic_cost(tg::sigmoid((*penalised)(x)), y) +
     0.5 * lambda / n * nn::l2_penalty(nn::weights(*penalised)))
        .backward();
    plain.step();
    no_decay.zero_grad();
    nn::functional::quadratic_cost(tg::sigmoid((*undecayed)(x)), y).backward();
    no_decay.step();
  }
  // The same updates up to rounding (the decay term is added in another order). The penalty covers
  // the weights only, so this also shows that the biases are not decayed.
  const std::vector<double> decayed = values(model->parameters()), reference = values(penalised->parameters());
  REQUIRE(decayed.size() == reference.size());
  for (std::size_t i = 0; i < decayed.size(); ++i) CHECK(decayed[i] == Approx(reference[i]).epsilon(1e-12));
  CHECK(weights.size() == 2);
  CHECK(others.size() == 2);
  CHECK(tg::nn::l2_penalty(nn::weights(*model)).item() < tg::nn::l2_penalty(nn::weights(*undecayed)).item());
}

TEST_CASE("readme: gradcheck in your own tests") {
  const tg::Tensor a = tg::tensor({0.3, -0.8, 1.2}, tg::TensorOptions(tg::kFloat64).requires_grad());
  const tg::Tensor b = tg::tensor({0.5, 0.25, -1.5}, tg::TensorOptions(tg::kFloat64).requires_grad());
#include "readme/gradcheck.inc"

  REQUIRE(report.inputs.size() == 2);
  // A wrong derivative fails: adding b - detach(b) changes no value but adds 1 to the gradient.
  auto wrong = tg::gradcheck(
      [](const std::vector<tg::Tensor>& t) { return my_op(t[0], t[1]) + (t[1] - t[1].detach()); }, {a, b});
  CHECK_FALSE(wrong);
}

TEST_CASE("readme: gradcheck of a module") {
  tg::manual_seed(6);
#include "readme/gradcheck-module.inc"
}

TEST_CASE("readme: checkpoint_sequential gives the plain run's gradients") {
  tg::manual_seed(8);
  auto seq = std::make_shared<tg::nn::Sequential>();
  for (int l = 0; l < 8; ++l) {
    seq->push_back(std::make_shared<tg::nn::Linear>(6, 6));
    seq->push_back(std::make_shared<tg::nn::Tanh>());
  }
  seq->to(tg::kFloat64);
  const tg::Tensor x = tg::randn({5, 6}, tg::kFloat64);
#include "readme/checkpoint-sequential.inc"

  std::vector<tg::Tensor> checkpointed;
  for (const tg::Tensor& p : seq->parameters()) checkpointed.push_back(p.grad().detach());
  seq->zero_grad();
  const tg::Tensor plain_y = seq->forward(x);
  CHECK(plain_y.to_vector() == y.to_vector());
  (plain_y * plain_y).mean().backward();
  std::vector<tg::Tensor> plain;
  for (const tg::Tensor& p : seq->parameters()) plain.push_back(p.grad());
  CHECK(values(checkpointed) == values(plain));  // bit for bit, as the README says
}
