// Hostile state (issue 15): optimizer state and options read back from a state dict are checked
// against their meaning, and an optimizer refuses a gradient that does not match its parameter.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

/// A float64 parameter with the gradient of sum(p^2), i.e. 2p.
Tensor param_with_grad(std::size_t n) {
  Tensor p = arange(1, static_cast<double>(n) + 1, 1, TensorOptions(kFloat64).requires_grad());
  sum(p * p).backward();
  return p;
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

Tensor int64_scalar(std::int64_t v) { return Tensor(xt::xarray<std::int64_t>(v)); }

}  // namespace

TEST_CASE("optimizers refuse a gradient whose shape or dtype differs from the parameter's",
          "[hostile][optim]") {
  // The parameter's values are replaced after backward: it grew (the update loop used to run
  // past the gradient's end, heap-buffer-overflow under ASan) or shrank (a silent partial update).
  for (std::size_t replaced : {6, 2}) {
    INFO("parameter replaced by " << replaced << " values");
    Tensor p = param_with_grad(3);
    p.mutable_value<double>() = xt::xarray<double>::from_shape({replaced});
    p.mutable_value<double>().fill(1.0);
    const std::string shapes = "the gradient is float64(3) but its parameter is float64(" + std::to_string(replaced) + ")";
    optim::SGD sgd({p}, optim::SGDOptions(0.1).momentum(0.9));
    CHECK_THROWS_AS(sgd.step(), tg::Error);
    CHECK_THROWS_WITH(sgd.step(), StartsWith("SGD: step:") && Contains(shapes));
    optim::Adam adam({p}, optim::AdamOptions(0.1));
    CHECK_THROWS_WITH(adam.step(), StartsWith("Adam: step:") && Contains(shapes));
    optim::RMSprop rmsprop({p}, optim::RMSpropOptions(0.1));
    CHECK_THROWS_WITH(rmsprop.step(), StartsWith("RMSprop: step:") && Contains(shapes));
    optim::LBFGS lbfgs({p}, optim::LBFGSOptions(1));
    CHECK_THROWS_WITH(lbfgs.step([&] { return sum(p * p); }), StartsWith("LBFGS: step:"));
    CHECK(p.to_vector() == std::vector<double>(replaced, 1.0));  // nothing was written
  }
}

TEST_CASE("an optimizer state dict with a step count out of range is refused", "[hostile][optim]") {
  Tensor p = param_with_grad(3);
  optim::Adam adam({p}, optim::AdamOptions(0.1));
  adam.step();
  const Tensor before = p.detach().clone();
  for (std::int64_t bad : {std::int64_t{-1}, std::numeric_limits<std::int64_t>::max(), (std::int64_t{1} << 53) + 1}) {
    INFO("step " << bad);
    optim::StateDict dict = adam.state_dict();
    dict["state.0.step"] = int64_scalar(bad);
    CHECK_THROWS_AS(adam.load_state_dict(dict), tg::Error);
    CHECK_THROWS_WITH(adam.load_state_dict(dict), StartsWith("Adam: load_state_dict: entry 'state.0.step' is " +
                                                              std::to_string(bad)));
  }
  // The refused dicts changed nothing: the next step continues from step 1 and stays finite
  // (step -1 used to make the bias correction 0 and every parameter NaN).
  adam.step();
  CHECK(all_finite(p));
  CHECK(adam.state(p).at("step").to_vector() == std::vector<double>{2});
  CHECK(p.to_vector() != before.to_vector());
}

TEST_CASE("optimizer options read back must be finite", "[hostile][optim]") {
  Tensor p = param_with_grad(3);
  optim::SGD sgd({p}, optim::SGDOptions(0.1).momentum(0.9));
  for (const char* option : {"lr", "momentum", "dampening", "weight_decay"})
    for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
      INFO(option << " = " << bad);
      optim::StateDict dict = sgd.state_dict();
      dict[std::string("param_groups.0.") + option] = tensor(bad, kFloat64);
      CHECK_THROWS_AS(sgd.load_state_dict(dict), tg::Error);
      CHECK_THROWS_WITH(sgd.load_state_dict(dict), StartsWith("SGD: invalid") && Contains("finite"));
    }
  CHECK_THROWS_WITH(optim::Adam({p}, optim::AdamOptions(std::numeric_limits<double>::infinity())),
                    StartsWith("Adam: invalid learning rate: inf"));
  // An LBFGS history count must be a count too.
  optim::LBFGS lbfgs({p}, optim::LBFGSOptions(1));
  lbfgs.step([&] {
    lbfgs.zero_grad();
    Tensor loss = sum(p * p);
    loss.backward();
    return loss;
  });
  optim::StateDict dict = lbfgs.state_dict();
  REQUIRE(dict.count("state.0.n_iter"));
  dict["state.0.n_iter"] = int64_scalar(-3);
  CHECK_THROWS_WITH(lbfgs.load_state_dict(dict), StartsWith("LBFGS: load_state_dict: entry 'state.0.n_iter' is -3"));
}
