// Learning-rate schedulers: each against its closed form (PyTorch's documented formula), their
// composition, ReduceLROnPlateau traced by hand, and state dict round trips.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "tapegrad/tapegrad.hpp"

using namespace tg;
using namespace tg::optim;
using Catch::Contains;

namespace {

const double kPi = std::acos(-1.0);

/// An SGD over one parameter with lr `lr` (schedulers only touch the options).
struct Setup {
  Tensor x = tensor({1.0}, TensorOptions(kFloat64).requires_grad());
  SGD opt;
  explicit Setup(double lr = 1.0) : opt(std::vector<Tensor>{x}, SGDOptions(lr)) {}
  double lr() const { return opt.param_groups()[0].options().get_lr(); }
};

/// Checks lr at epochs 0..epochs-1 against expected(epoch), stepping the scheduler in between.
template <class Step>
void check_schedule(Setup& s, Step step, int epochs, const std::function<double(int)>& expected) {
  for (int e = 0; e < epochs; ++e) {
    INFO("epoch " << e);
    CHECK(s.lr() == Approx(expected(e)).epsilon(1e-13));
    step();
  }
}

}  // namespace

TEST_CASE("StepLR, MultiStepLR and ExponentialLR follow their closed forms") {
  Setup a(0.5);
  StepLR step_lr(a.opt, 3, 0.1);
  check_schedule(a, [&] { step_lr.step(); }, 12,
                 [](int e) { return 0.5 * std::pow(0.1, e / 3); });

  Setup b;
  MultiStepLR multi(b.opt, {5, 2, 5}, 0.1);  // unsorted, 5 listed twice: x0.01 at epoch 5
  check_schedule(b, [&] { multi.step(); }, 9,
                 [](int e) { return e < 2 ? 1.0 : e < 5 ? 0.1 : 0.001; });

  Setup c(2.0);
  ExponentialLR exp_lr(c.opt, 0.9);
  check_schedule(c, [&] { exp_lr.step(); }, 20, [](int e) { return 2.0 * std::pow(0.9, e); });
  CHECK(exp_lr.last_epoch() == 20);
  CHECK(exp_lr.get_last_lr()[0] == Approx(2.0 * std::pow(0.9, 20)));
}

TEST_CASE("CosineAnnealingLR goes from base_lr to eta_min in T_max epochs and back") {
  Setup s(1.0);
  CosineAnnealingLR cosine(s.opt, 10, 0.1);
  auto closed = [](int e) { return 0.1 + 0.9 * (1 + std::cos(kPi * e / 10)) / 2; };
  check_schedule(s, [&] { cosine.step(); }, 35, closed);
  CHECK(closed(10) == Approx(0.1));
  CHECK(closed(20) == Approx(1.0));
}

TEST_CASE("LinearLR is a linear warm-up") {
  Setup s(0.8);
  LinearLR warmup(s.opt, 0.25, 1.0, 4);
  // factors 0.25, 0.4375, 0.625, 0.8125, 1, 1, ...
  check_schedule(s, [&] { warmup.step(); }, 8,
                 [](int e) { return 0.8 * (0.25 + 0.75 * std::min(e, 4) / 4.0); });
  CHECK_THROWS_WITH(LinearLR(s.opt, 0.0), Contains("start_factor"));
  CHECK_THROWS_WITH(StepLR(s.opt, 0), Contains("step_size"));
}

TEST_CASE("ChainedScheduler multiplies warm-up and decay") {
  Setup s(1.0);
  auto warmup = std::make_shared<LinearLR>(s.opt, 0.5, 1.0, 2);
  auto decay = std::make_shared<ExponentialLR>(s.opt, 0.9);
  ChainedScheduler chain({warmup, decay});
  check_schedule(s, [&] { chain.step(); }, 10, [](int e) {
    return (0.5 + 0.5 * std::min(e, 2) / 2.0) * std::pow(0.9, e);
  });
  CHECK(chain.get_last_lr()[0] == Approx(s.lr()));
}

TEST_CASE("SequentialLR: linear warm-up, then cosine annealing from the base lr") {
  Setup s(0.1);
  auto warmup = std::make_shared<LinearLR>(s.opt, 0.1, 1.0, 5);
  auto cosine = std::make_shared<CosineAnnealingLR>(s.opt, 10);
  SequentialLR schedule(s.opt, {warmup, cosine}, {5});
  check_schedule(s, [&] { schedule.step(); }, 16, [](int e) {
    if (e < 5) return 0.1 * (0.1 + 0.9 * e / 5.0);
    return 0.1 * (1 + std::cos(kPi * (e - 5) / 10)) / 2;
  });
  Setup other;
  auto foreign = std::make_shared<StepLR>(other.opt, 2);
  CHECK_THROWS_WITH(SequentialLR(s.opt, {warmup, foreign}, {3}), Contains("same optimizer"));
  CHECK_THROWS_WITH(SequentialLR(s.opt, {warmup, cosine}, {}), Contains("milestones"));
}

TEST_CASE("schedulers apply to every parameter group from its own initial lr") {
  Tensor w = tensor({1.0}, TensorOptions(kFloat64).requires_grad());
  Tensor b = tensor({1.0}, TensorOptions(kFloat64).requires_grad());
  Adam opt(std::vector<ParamGroup>{ParamGroup({w}), ParamGroup({b}, AdamOptions(0.01))},
           AdamOptions(0.1));
  StepLR sched(opt, 1, 0.5);
  sched.step();
  sched.step();
  CHECK(opt.param_groups()[0].options().get_lr() == Approx(0.025));
  CHECK(opt.param_groups()[1].options().get_lr() == Approx(0.0025));
  CHECK(sched.base_lrs() == std::vector<double>{0.1, 0.01});
  CHECK(opt.param_groups()[1].initial_lr() == 0.01);
}

TEST_CASE("ReduceLROnPlateau, traced by hand") {
  Setup s(1.0);
  ReduceLROnPlateau::Options o;
  o.patience = 2;
  o.factor = 0.5;
  o.cooldown = 1;
  o.min_lr = {0.2};
  ReduceLROnPlateau plateau(s.opt, o);
  // epoch: metric -> best, bad epochs, lr
  plateau.step(1.0);   // better: best 1
  plateau.step(0.9);   // better: best 0.9
  plateau.step(0.95);  // bad 1
  plateau.step(0.9);   // not better than 0.9 * (1 - 1e-4): bad 2
  CHECK(s.lr() == 1.0);
  plateau.step(0.92);  // bad 3 > patience: lr 0.5, cooldown 1
  CHECK(s.lr() == 0.5);
  CHECK(plateau.num_bad_epochs() == 0);
  plateau.step(0.93);  // bad, but cooldown: ignored
  plateau.step(0.93);  // bad 1
  plateau.step(0.93);  // bad 2
  CHECK(s.lr() == 0.5);
  plateau.step(0.93);  // bad 3: lr 0.25
  CHECK(s.lr() == 0.25);
  for (int i = 0; i < 5; ++i) plateau.step(0.93);
  CHECK(s.lr() == 0.2);  // floored at min_lr
  plateau.step(0.5);
  CHECK(plateau.best() == 0.5);

  ReduceLROnPlateau::Options bad;
  bad.factor = 1.0;
  CHECK_THROWS_WITH(ReduceLROnPlateau(s.opt, bad), Contains("factor"));
  bad = {};
  bad.mode = "maximum";
  CHECK_THROWS_WITH(ReduceLROnPlateau(s.opt, bad), Contains("mode"));
}

TEST_CASE("ReduceLROnPlateau in max mode with an absolute threshold") {
  Setup s(1.0);
  ReduceLROnPlateau::Options o;
  o.mode = "max";
  o.threshold_mode = "abs";
  o.threshold = 0.1;
  o.patience = 0;
  ReduceLROnPlateau plateau(s.opt, o);
  plateau.step(0.5);   // better than -inf
  plateau.step(0.55);  // not above 0.5 + 0.1: bad 1 > 0 -> lr 0.1
  CHECK(s.lr() == Approx(0.1));
  plateau.step(0.7);  // better
  CHECK(s.lr() == Approx(0.1));
}

TEST_CASE("scheduler state dicts resume the schedule") {
  auto make = [](Setup& s) {
    auto warmup = std::make_shared<LinearLR>(s.opt, 0.2, 1.0, 3);
    auto cosine = std::make_shared<CosineAnnealingLR>(s.opt, 8, 0.01);
    return std::make_unique<SequentialLR>(s.opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                          std::vector<std::int64_t>{3});
  };
  Setup straight;
  auto a = make(straight);
  std::vector<double> lrs;
  for (int e = 0; e < 12; ++e, a->step()) lrs.push_back(straight.lr());

  Setup first;
  auto b = make(first);
  for (int e = 0; e < 5; ++e) b->step();
  const StateDict opt_state = first.opt.state_dict(), sched_state = b->state_dict();
  Setup resumed;
  auto c = make(resumed);
  resumed.opt.load_state_dict(opt_state);
  c->load_state_dict(sched_state);
  for (int e = 5; e < 12; ++e, c->step()) CHECK(resumed.lr() == lrs[static_cast<std::size_t>(e)]);

  Setup p;
  ReduceLROnPlateau plateau(p.opt);
  plateau.step(3.0);
  plateau.step(4.0);
  ReduceLROnPlateau restored(p.opt);
  restored.load_state_dict(plateau.state_dict());
  CHECK(restored.best() == 3.0);
  CHECK(restored.num_bad_epochs() == 1);
}
