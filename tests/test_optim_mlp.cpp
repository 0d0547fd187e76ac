// Sanity: every optimizer trains a small tanh MLP (2-16-1, fixed deterministic weights) on a toy
// regression, y = x0 * x1 on a 6x6 grid of [-1, 1]^2 (an XOR-like saddle that a linear model
// cannot fit: its best MSE is the variance of y, about 0.218), to MSE < 0.01 within a stated
// number of steps (L-BFGS, whose step() runs up to 20 iterations: MSE < 1e-4 within 10 steps).
// The limits leave about twice the steps each optimizer needs, in float64 and float32 alike.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <memory>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {

struct Mlp {
  Tensor W1, b1, W2, b2;
  std::vector<Tensor> params() const { return {W1, b1, W2, b2}; }
};

/// Weights from a fixed formula (no RNG), scaled like a 1/sqrt(fan_in) initialisation.
Mlp make_mlp(DType dtype, std::size_t hidden = 16) {
  auto fill = [&](std::size_t rows, std::size_t cols, double scale, double phase) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j)
        a(i, j) = scale * std::sin(1.7 * static_cast<double>(i) + 2.3 * static_cast<double>(j) + phase);
    return from_double(a, TensorOptions(dtype).requires_grad());
  };
  Mlp m;
  m.W1 = fill(hidden, 2, 1.5, 0.4);
  m.b1 = fill(1, hidden, 0.5, 1.1).reshape({static_cast<std::int64_t>(hidden)}).detach();
  m.b1.requires_grad_();
  m.W2 = fill(1, hidden, 1.0 / std::sqrt(static_cast<double>(hidden)), 0.7);
  m.b2 = zeros({1}, TensorOptions(dtype).requires_grad());
  return m;
}

struct Data {
  Tensor X, y;
};

Data make_data(DType dtype) {
  xt::xarray<double> X = xt::xarray<double>::from_shape({36, 2});
  xt::xarray<double> y = xt::xarray<double>::from_shape({36, 1});
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 6; ++j) {
      const double a = -1 + 0.4 * static_cast<double>(i), b = -1 + 0.4 * static_cast<double>(j);
      X(6 * i + j, 0) = a;
      X(6 * i + j, 1) = b;
      y(6 * i + j, 0) = a * b;
    }
  return {from_double(X, dtype), from_double(y, dtype)};
}

Tensor mse(const Mlp& m, const Data& d) {
  const Tensor h = tanh(linear(d.X, m.W1, m.b1));
  const Tensor out = linear(h, m.W2, m.b2);
  return mean(pow(out - d.y, 2));
}

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

/// Trains for at most max_steps; returns the first step count at which the loss is below target
/// (or max_steps + 1), and the final loss.
std::pair<int, double> train(const Factory& make, DType dtype, int max_steps, double target,
                             bool needs_closure = false) {
  const Mlp m = make_mlp(dtype);
  const Data d = make_data(dtype);
  auto opt = make(m.params());
  auto closure = [&] {
    opt->zero_grad();
    Tensor loss = mse(m, d);
    loss.backward();
    return loss;
  };
  double loss = 0;
  for (int s = 1; s <= max_steps; ++s) {
    if (needs_closure) {
      opt->step(closure);
    } else {
      closure();
      opt->step();
    }
    loss = mse(m, d).item();
    if (loss < target) return {s, loss};
  }
  return {max_steps + 1, loss};
}

}  // namespace

TEST_CASE("optim sanity: the initial MLP is far from the target") {
  const double loss = mse(make_mlp(kFloat64), make_data(kFloat64)).item();
  CHECK(loss > 0.1);
}

TEST_CASE("optim sanity: each optimizer trains the MLP to a stated loss", "[optim][mlp]") {
  using namespace optim;
  struct Run {
    const char* name;
    int max_steps;
    double target;  // MSE to reach within max_steps
    Factory make;
    bool closure = false;
  };
  const std::vector<Run> runs = {
      {"SGD", 600, 0.01, [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.2)); }},
      {"SGD momentum", 300, 0.01,
       [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(0.9)); }},
      {"SGD nesterov", 300, 0.01,
       [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(0.9).nesterov(true)); }},
      {"Adagrad", 300, 0.01, [](auto p) { return std::make_unique<Adagrad>(p, AdagradOptions(0.1)); }},
      {"Adadelta", 700, 0.01, [](auto p) { return std::make_unique<Adadelta>(p, AdadeltaOptions(1.0)); }},
      {"RMSprop", 200, 0.01, [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.01)); }},
      {"Adam", 300, 0.01, [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.01)); }},
      {"Adam amsgrad", 300, 0.01,
       [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.01).amsgrad(true)); }},
      {"AdamW", 300, 0.01,
       [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions(0.01).weight_decay(1e-4)); }},
      {"Adamax", 500, 0.01, [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions(0.02)); }},
      {"NAdam", 300, 0.01, [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.01)); }},
      {"LBFGS", 10, 1e-4, [](auto p) { return std::make_unique<LBFGS>(p, LBFGSOptions(1)); }, true},
      {"LBFGS strong_wolfe", 10, 1e-4,
       [](auto p) {
         return std::make_unique<LBFGS>(p, LBFGSOptions(1).line_search_fn("strong_wolfe"));
       },
       true},
  };
  for (const Run& run : runs) {
    for (DType dtype : {kFloat64, kFloat32}) {
      const auto [steps, loss] = train(run.make, dtype, run.max_steps, run.target, run.closure);
      INFO(run.name << " (" << to_string(dtype) << "): " << steps << " steps, loss " << loss);
      CHECK(steps <= run.max_steps);
      if (std::getenv("TAPEGRAD_OPTIM_REPORT"))
        WARN(run.name << " (" << to_string(dtype) << "): MSE < " << run.target << " after " << steps
                      << " steps (limit " << run.max_steps << ")");
    }
  }
}
