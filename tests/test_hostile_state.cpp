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
    const std::string shapes =
        "the gradient is float64(3) but its parameter is float64(" + std::to_string(replaced) + ")";
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

TEST_CASE("optimizer state read back must be finite, and averages of squares >= 0", "[hostile][optim]") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  Tensor p = param_with_grad(3);
  optim::Adam adam({p}, optim::AdamOptions(0.1).amsgrad(true));
  adam.step();
  const std::vector<double> before = p.to_vector();
  struct Case {
    const char* entry;
    double value;
    const char* message;
  };
  for (const Case& c : {Case{"exp_avg", nan, "optimizer state must be finite"},
                        Case{"exp_avg", -inf, "optimizer state must be finite"},
                        Case{"exp_avg_sq", inf, "optimizer state must be finite"},
                        Case{"exp_avg_sq", -1.0, "an average of squares must be >= 0"},
                        Case{"max_exp_avg_sq", -1e-300, "an average of squares must be >= 0"}}) {
    INFO(c.entry << " = " << c.value);
    optim::StateDict dict = adam.state_dict();
    const std::string key = std::string("state.0.") + c.entry;
    dict[key] = tensor({1.0, c.value, 1.0}, kFloat64);
    CHECK_THROWS_WITH(adam.load_state_dict(dict), StartsWith("Adam: load_state_dict: entry '" + key + "' holds ") &&
                                                      Contains("at index 1") && Contains(c.message));
  }
  // A float64 buffer finite as loaded but infinite in a float32 parameter's dtype is refused too.
  Tensor q = from_vector({1.0, 2.0}, {2}, kFloat32).requires_grad_(true);
  sum(q * q).backward();
  optim::RMSprop rmsprop({q}, optim::RMSpropOptions(0.1));
  rmsprop.step();
  optim::StateDict dict = rmsprop.state_dict();
  dict["state.0.square_avg"] = tensor({1e300, 1.0}, kFloat64);
  CHECK_THROWS_WITH(rmsprop.load_state_dict(dict),
                    StartsWith("RMSprop: load_state_dict: entry 'state.0.square_avg' holds inf at index 0"));
  // Centered RMSprop: a squared mean above the mean of squares is a negative variance.
  Tensor c = param_with_grad(2);
  optim::RMSprop centered({c}, optim::RMSpropOptions(0.1).centered(true));
  centered.step();
  dict = centered.state_dict();
  REQUIRE(dict.count("state.0.grad_avg"));
  dict["state.0.grad_avg"] = tensor({0.0, 10.0}, kFloat64);
  CHECK_THROWS_WITH(centered.load_state_dict(dict),
                    StartsWith("RMSprop: load_state_dict: entries 'state.0.square_avg' and 'state.0.grad_avg' hold ") &&
                        Contains("at index 1") && Contains("variance"));
  // NAdam's mu_product above 1 would divide by 1 - mu_product * mu = 0 at some step.
  Tensor r = param_with_grad(2);
  optim::NAdam nadam({r}, optim::NAdamOptions(0.1));
  nadam.step();
  dict = nadam.state_dict();
  dict["state.0.mu_product"] = tensor(1.5, kFloat64);
  CHECK_THROWS_WITH(
      nadam.load_state_dict(dict),
      StartsWith("NAdam: load_state_dict: entry 'state.0.mu_product' holds 1.5") && Contains("in [0, 1]"));
  // A scheduler starts from initial_lr: it must be an lr.
  for (double bad : {nan, inf, -0.5}) {
    INFO("initial_lr " << bad);
    dict = adam.state_dict();
    dict["param_groups.0.initial_lr"] = tensor(bad, kFloat64);
    CHECK_THROWS_WITH(
        adam.load_state_dict(dict),
        StartsWith("Adam: load_state_dict: entry 'param_groups.0.initial_lr' is ") && Contains("finite and >= 0"));
  }
  // Nothing refused changed the optimizer: the next step continues from step 1, finite.
  adam.step();
  CHECK(adam.state(p).at("step").to_vector() == std::vector<double>{2});
  CHECK(all_finite(p));
  CHECK(p.to_vector() != before);
}

namespace {

/// An SGD over two parameter groups with a scheduler made by make(sgd), stepped `epochs` times.
struct Scheduled {
  Tensor a = param_with_grad(2), b = param_with_grad(3);
  optim::SGD sgd{{optim::ParamGroup({a}), optim::ParamGroup({b}, std::make_unique<optim::SGDOptions>(0.2))},
                 optim::SGDOptions(0.1)};
};

}  // namespace

TEST_CASE("lr scheduler state dicts are checked value by value", "[hostile][optim][scheduler]") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
  Scheduled s;
  optim::StepLR step_lr(s.sgd, 2, 0.5);
  for (int e = 0; e < 3; ++e) step_lr.step();
  const optim::StateDict good = step_lr.state_dict();
  const std::vector<double> lrs = step_lr.get_last_lr();
  auto refused = [&](const std::string& key, const Tensor& value, const std::string& message) {
    INFO(key << " := " << to_string(value.dtype()) << to_string(value.shape()));
    optim::StateDict dict = good;
    if (value.defined()) dict[key] = value;
    else dict.erase(key);
    CHECK_THROWS_AS(step_lr.load_state_dict(dict), tg::Error);
    CHECK_THROWS_WITH(step_lr.load_state_dict(dict), StartsWith("StepLR: load_state_dict: entry '" + key + "'") &&
                                                         Contains(message));
  };
  // Epoch counts: int64, in [-1, 2^53] (-1 = not started; 2^53 keeps ++ and the doubles exact).
  for (std::int64_t bad : {std::int64_t{-2}, (std::int64_t{1} << 53) + 1, int64_max,
                           std::numeric_limits<std::int64_t>::min()})
    refused("last_epoch", int64_scalar(bad), "is " + std::to_string(bad) + "; it must be a count in [-1, ");
  refused("last_epoch", tensor(3.0, kFloat64), "should be one int64 value");
  refused("last_epoch", tensor({1.0, 2.0}, kFloat64), "should be one int64 value");
  // Lrs: one per group (2 here), float, finite and >= 0.
  for (const char* key : {"base_lrs", "last_lr"}) {
    for (double bad : {nan, inf, -inf, -1.0, -1e-300})
      refused(key, tensor({0.1, bad}, kFloat64), "for group 1; a learning rate must be finite and >= 0");
    refused(key, tensor({0.1}, kFloat64), "expected float64 of shape (2) (one lr per parameter group)");
    refused(key, tensor({0.1, 0.2, 0.3}, kFloat64), "expected float64 of shape (2)");
    refused(key, from_vector({0.1, 0.2}, {1, 2}, kFloat64), "expected float64 of shape (2)");
    refused(key, Tensor(xt::xarray<std::int64_t>{1, 2}), "expected float64 of shape (2)");
  }
  // Missing entries.
  for (const char* key : {"last_epoch", "base_lrs", "last_lr"})
    CHECK_THROWS_WITH(
        [&] {
          optim::StateDict dict = good;
          dict.erase(key);
          step_lr.load_state_dict(dict);
        }(),
        StartsWith("StepLR: load_state_dict: missing entry '" + std::string(key) + "'"));
  // Nothing refused changed the scheduler: it goes on as before (epoch 3 -> 4 halves the lrs).
  CHECK(step_lr.last_epoch() == 3);
  CHECK(step_lr.get_last_lr() == lrs);
  step_lr.step();
  CHECK(step_lr.get_last_lr() == std::vector<double>{lrs[0] * 0.5, lrs[1] * 0.5});
  // The good dict still loads.
  CHECK_NOTHROW(step_lr.load_state_dict(good));
}

TEST_CASE("composite schedulers load all of their schedulers' states or none", "[hostile][optim][scheduler]") {
  Scheduled s;
  auto warmup = std::make_shared<optim::LinearLR>(s.sgd, 0.5, 1.0, 2);
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(s.sgd, 4, 0.0);
  optim::SequentialLR sequential(s.sgd, {warmup, cosine}, {2});
  for (int e = 0; e < 3; ++e) sequential.step();
  const optim::StateDict good = sequential.state_dict();
  // SequentialLR's later scheduler waits at last_epoch -1 until its milestone: that loads.
  Scheduled fresh;
  auto warmup2 = std::make_shared<optim::LinearLR>(fresh.sgd, 0.5, 1.0, 2);
  auto cosine2 = std::make_shared<optim::CosineAnnealingLR>(fresh.sgd, 4, 0.0);
  optim::SequentialLR before_milestone(fresh.sgd, {warmup2, cosine2}, {2});
  REQUIRE(before_milestone.state_dict().at("schedulers.1.last_epoch").to_vector() == std::vector<double>{-1});
  CHECK_NOTHROW(before_milestone.load_state_dict(before_milestone.state_dict()));

  optim::StateDict dict = good;
  dict["schedulers.1.last_epoch"] = int64_scalar(std::numeric_limits<std::int64_t>::max());
  dict["schedulers.0.last_epoch"] = int64_scalar(1);  // valid, and loaded before the bad one
  dict["last_epoch"] = int64_scalar(1);
  CHECK_THROWS_WITH(sequential.load_state_dict(dict),
                    StartsWith("SequentialLR: load_state_dict: scheduler 1 (entries 'schedulers.1.*'): "
                               "CosineAnnealingLR: load_state_dict: entry 'last_epoch' is 9223372036854775807"));
  CHECK(sequential.state_dict().at("last_epoch").to_vector() == good.at("last_epoch").to_vector());
  CHECK(warmup->last_epoch() == good.at("schedulers.0.last_epoch").to_vector()[0]);

  optim::ChainedScheduler chained({warmup, cosine});
  const optim::StateDict chained_good = chained.state_dict();
  dict = chained_good;
  dict["schedulers.0.last_epoch"] = int64_scalar(7);
  dict.erase("schedulers.1.base_lrs");
  CHECK_THROWS_WITH(chained.load_state_dict(dict),
                    StartsWith("ChainedScheduler: load_state_dict: scheduler 1 (entries 'schedulers.1.*'): "
                               "CosineAnnealingLR: load_state_dict: missing entry 'base_lrs'"));
  CHECK(warmup->last_epoch() == chained_good.at("schedulers.0.last_epoch").to_vector()[0]);
}

TEST_CASE("ReduceLROnPlateau state dicts are checked value by value", "[hostile][optim][scheduler]") {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  Scheduled s;
  optim::ReduceLROnPlateau plateau(s.sgd);
  plateau.step(1.0);
  const optim::StateDict good = plateau.state_dict();
  auto refused = [&](const std::string& key, const Tensor& value, const std::string& message) {
    INFO(key);
    optim::StateDict dict = good;
    if (value.defined()) dict[key] = value;
    else dict.erase(key);
    CHECK_THROWS_WITH(plateau.load_state_dict(dict), StartsWith("ReduceLROnPlateau: load_state_dict: ") &&
                                                         Contains(message));
  };
  refused("best", tensor(nan, kFloat64), "entry 'best' is nan; it must be a number or inf in mode \"min\"");
  refused("best", tensor(-inf, kFloat64), "entry 'best' is -inf");
  refused("best", tensor({1.0, 2.0}, kFloat64), "entry 'best' should be one float64 value");
  refused("best", Tensor(), "missing entry 'best'");
  for (const char* key : {"last_epoch", "num_bad_epochs", "cooldown_counter"}) {
    refused(key, int64_scalar(-1), std::string("entry '") + key + "' is -1; it must be a count in [0, ");
    refused(key, int64_scalar(std::numeric_limits<std::int64_t>::max()), "is 9223372036854775807");
    refused(key, tensor(1.0, kFloat64), "should be one int64 value");
    refused(key, Tensor(), std::string("missing entry '") + key + "'");
  }
  // +inf is where mode "min" starts: a fresh scheduler's state loads.
  optim::ReduceLROnPlateau fresh(s.sgd);
  CHECK_NOTHROW(plateau.load_state_dict(fresh.state_dict()));
  CHECK(plateau.best() == inf);
  CHECK_NOTHROW(plateau.load_state_dict(good));
  CHECK(plateau.best() == 1.0);
}

TEST_CASE("a checkpoint's epoch and metrics rows are checked before a run resumes from them", "[hostile][train]") {
  const double nan = std::nan("");
  for (double bad : {nan, -1.0, 2.5, 6.0, 1e300, 9007199254740993.0}) {
    INFO("epoch " << bad);
    CHECK_THROWS_WITH(training::resumed_epoch("c.npz", {{"epoch", bad}}, 5),
                      StartsWith("resume: c.npz says it was written after epoch ") &&
                          Contains("which is not a whole number in [0, 5]"));
  }
  CHECK_THROWS_WITH(training::resumed_epoch("c.npz", {{"seed", 1}}, 5),
                    StartsWith("resume: c.npz has no meta.epoch entry"));
  CHECK(training::resumed_epoch("c.npz", {{"epoch", 0}}, 5) == 0);
  CHECK(training::resumed_epoch("c.npz", {{"epoch", 5}}, 5) == 5);

  training::MetricsLog log({"epoch", "loss"});
  log.append({1, 0.5});
  log.append({2, 0.25});
  CHECK_NOTHROW(training::check_resumed_metrics("c.npz", log, {"epoch", "loss"}, 2));
  CHECK_THROWS_WITH(training::check_resumed_metrics("c.npz", log, {"epoch", "loss"}, 3),
                    StartsWith("resume: c.npz was written after epoch 3 but holds 2 metrics rows"));
  CHECK_THROWS_WITH(training::check_resumed_metrics("c.npz", log, {"epoch", "accuracy"}, 2),
                    Contains("columns that are not this run's"));
  training::MetricsLog skipped({"epoch", "loss"});
  skipped.append({1, 0.5});
  skipped.append({nan, 0.25});
  CHECK_THROWS_WITH(training::check_resumed_metrics("c.npz", skipped, {"epoch", "loss"}, 2),
                    StartsWith("resume: c.npz: metrics row 2 is for epoch nan, expected 2"));
}

TEST_CASE("a loaded buffer must have its parameter's shape, scalar state one value", "[hostile][optim]") {
  // Found by fuzz_optim_state: Adamax accepted a one-value exp_inf for a (2, 2) parameter, and
  // the next step() raised instead of the load.
  Tensor w = from_vector({0.5, -1.0, 0.25, 2.0}, {2, 2}, kFloat32).requires_grad_(true);
  sum(w * w).backward();
  optim::Adamax adamax({w}, optim::AdamaxOptions(0.1));
  adamax.step();
  optim::StateDict dict = adamax.state_dict();
  dict["state.0.exp_inf"] = tensor({1.0}, kFloat64);
  CHECK_THROWS_WITH(adamax.load_state_dict(dict),
                    StartsWith("Adamax: load_state_dict: entry 'state.0.exp_inf' has shape (1) but its parameter "
                               "has shape (2,2)"));
  adamax.step();  // the refused dict changed nothing
  CHECK(all_finite(w));
  // NAdam's mu_product is one value whatever the parameter, kept as float64 even when loaded as
  // float32 for a float32 parameter.
  Tensor v = from_vector({1.0, 2.0}, {2}, kFloat32).requires_grad_(true);
  sum(v * v).backward();
  optim::NAdam nadam({v}, optim::NAdamOptions(0.1));
  nadam.step();
  dict = nadam.state_dict();
  dict["state.0.mu_product"] = tensor({0.5, 0.5}, kFloat64);
  CHECK_THROWS_WITH(
      nadam.load_state_dict(dict),
      StartsWith("NAdam: load_state_dict: entry 'state.0.mu_product' should hold one value, got shape (2)"));
  dict["state.0.mu_product"] = tensor(0.5, kFloat32);
  REQUIRE_NOTHROW(nadam.load_state_dict(dict));
  CHECK(nadam.state(v).at("mu_product").dtype() == kFloat64);
  nadam.step();
  CHECK(all_finite(v));
}
