// libFuzzer target: optimizer and lr-scheduler state dicts with hostile values, loaded and then
// used for a few steps. The input does not encode a file: it steers edits of a genuine state
// dict (saved after two steps of a real run), so every run reaches the checks behind the format
// (values, counts, lengths) rather than stopping at a parse error:
//   - one of the nine optimizers (and a scheduler, or none) over two parameter groups (one for
//     L-BFGS) of float32 or float64 parameters; two steps, then state_dict() of both;
//   - up to 8 edits: set one value (NaN, infinities, -1, 0, 1e300, 2^53 + 1, INT64_MAX, ...),
//     drop an entry, change its dtype or length, add a stray entry;
//   - load_state_dict() of both into a fresh optimizer and scheduler, then three steps of each.
// tg::Error from a load is the expected answer. After a load is accepted, a crash, a sanitizer
// report, another exception or an error from step() is a finding, and so is a parameter or lr
// that is not finite (or an lr below 0) after the steps, unless an edited value was outside the
// moderate range below (then overflow is arithmetic, not a missing check), or an optimizer
// built fresh with the loaded options goes non-finite on the same gradients too (then the
// options themselves, which the constructor accepts, are the cause).
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/optim/optim.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::optim;

namespace {

constexpr int kOptimizers = 9;
constexpr int kSchedulers = 9;

std::unique_ptr<Optimizer> make_optimizer(int kind, const std::vector<std::vector<Tensor>>& params,
                                          const Optimizer* options_from = nullptr) {
  // Options that create every state entry (momentum buffers, amsgrad, centered averages).
  std::vector<std::vector<Tensor>> layout = params;
  if (kind == 8) {  // LBFGS takes a single group
    layout = {{}};
    for (const auto& group : params) layout[0].insert(layout[0].end(), group.begin(), group.end());
  }
  std::vector<ParamGroup> groups;
  for (std::size_t g = 0; g < layout.size(); ++g) {
    if (options_from) groups.emplace_back(layout[g], options_from->param_groups()[g].options().clone());
    else groups.emplace_back(layout[g]);
  }
  switch (kind) {
    case 0: return std::make_unique<SGD>(groups, SGDOptions(0.1).momentum(0.9).nesterov(true));
    case 1: return std::make_unique<Adam>(groups, AdamOptions(0.01).amsgrad(true));
    case 2: return std::make_unique<AdamW>(groups, AdamWOptions(0.01).amsgrad(true));
    case 3: return std::make_unique<Adamax>(groups, AdamaxOptions(0.01));
    case 4: return std::make_unique<NAdam>(groups, NAdamOptions(0.01));
    case 5: return std::make_unique<RMSprop>(groups, RMSpropOptions(0.01).momentum(0.5).centered(true));
    case 6: return std::make_unique<Adagrad>(groups, AdagradOptions(0.1).lr_decay(0.01));
    case 7: return std::make_unique<Adadelta>(groups, AdadeltaOptions(1.0));
    default: return std::make_unique<LBFGS>(groups, LBFGSOptions(0.5).max_iter(2).history_size(2));
  }
}

/// A scheduler of the given kind (0: none), as the base type it is stepped and saved through.
struct Scheduler {
  std::shared_ptr<LRScheduler> epoch;
  std::unique_ptr<ChainedScheduler> chained;
  std::unique_ptr<ReduceLROnPlateau> plateau;
  void step(int epoch_index) {
    if (epoch) epoch->step();
    if (chained) chained->step();
    if (plateau) plateau->step(epoch_index % 2 ? 1.0 : 2.0);  // a metric that stalls
  }
  StateDict state_dict() const {
    return epoch ? epoch->state_dict() : chained ? chained->state_dict() : plateau ? plateau->state_dict() : StateDict{};
  }
  void load_state_dict(const StateDict& d) {
    if (epoch) epoch->load_state_dict(d);
    if (chained) chained->load_state_dict(d);
    if (plateau) plateau->load_state_dict(d);
  }
};

Scheduler make_scheduler(int kind, Optimizer& opt) {
  Scheduler s;
  switch (kind) {
    case 1: s.epoch = std::make_shared<StepLR>(opt, 2, 0.5); break;
    case 2: s.epoch = std::make_shared<MultiStepLR>(opt, std::vector<std::int64_t>{1, 3}, 0.5); break;
    case 3: s.epoch = std::make_shared<ExponentialLR>(opt, 0.9); break;
    case 4: s.epoch = std::make_shared<CosineAnnealingLR>(opt, 3, 0.001); break;
    case 5: s.epoch = std::make_shared<LinearLR>(opt, 0.5, 1.0, 3); break;
    case 6:
      s.chained = std::make_unique<ChainedScheduler>(std::vector<std::shared_ptr<LRScheduler>>{
          std::make_shared<LinearLR>(opt, 0.5, 1.0, 3), std::make_shared<ExponentialLR>(opt, 0.9)});
      break;
    case 7: {
      auto warmup = std::make_shared<LinearLR>(opt, 0.5, 1.0, 2);
      auto cosine = std::make_shared<CosineAnnealingLR>(opt, 3, 0.0);
      s.epoch = std::make_shared<SequentialLR>(opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                               std::vector<std::int64_t>{2});
      break;
    }
    case 8: {
      ReduceLROnPlateau::Options o;
      o.patience = 1;
      o.cooldown = 1;
      s.plateau = std::make_unique<ReduceLROnPlateau>(opt, o);
      break;
    }
    default: break;
  }
  return s;
}

/// Parameters: two groups, {w (2x2), b (2)} and {c (3)}, with fixed finite values.
std::vector<std::vector<Tensor>> make_params(DType dtype) {
  auto leaf = [&](std::vector<double> v, Shape shape) {
    return from_vector(v, shape, dtype).requires_grad_(true);
  };
  return {{leaf({0.5, -1.0, 0.25, 2.0}, {2, 2}), leaf({0.1, -0.2}, {2})}, {leaf({1.0, -3.0, 0.75}, {3})}};
}

/// One step of the optimizer with the gradient of 0.5 * sum(p^2) + sum(p) (= p + 1, finite).
void optimizer_step(Optimizer& opt, int kind) {
  auto closure = [&] {
    opt.zero_grad();
    Tensor loss;
    for (const Tensor& p : opt.parameters()) {
      Tensor term = tg::sum(p * p) * 0.5 + tg::sum(p);
      loss = loss.defined() ? loss + term : term;
    }
    loss.backward();
    return loss;
  };
  if (kind == 8) {
    opt.step(closure);
  } else {
    closure();
    opt.step();
  }
}

bool all_finite(const Optimizer& opt) {
  for (const Tensor& p : opt.parameters())
    for (double v : p.to_vector())
      if (!std::isfinite(v)) return false;
  for (const ParamGroup& g : opt.param_groups())
    if (!std::isfinite(g.options().get_lr()) || g.options().get_lr() < 0) return false;
  return true;
}

/// Runs `steps` optimizer and scheduler steps; false when parameters or lrs went non-finite.
bool run(Optimizer& opt, Scheduler& sched, int kind, int steps) {
  for (int i = 0; i < steps; ++i) {
    optimizer_step(opt, kind);
    sched.step(i);
    if (!all_finite(opt)) return false;
  }
  return true;
}

/// The values an edit writes: the hostile ones first, then whatever the input spells.
double hostile_double(FuzzedDataProvider& in) {
  static const double kValues[] = {std::numeric_limits<double>::quiet_NaN(),
                                   std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity(),
                                   -1.0, 0.0, 1.0, 1e300, -1e300, 1e-300, 0.5, 2.0, 1e20, 9007199254740993.0,
                                   9.3e18, -0.0, 1e-8, 3.4e38, 1e39};
  const std::size_t n = sizeof kValues / sizeof kValues[0];
  const std::size_t pick = in.ConsumeIntegralInRange<std::size_t>(0, n);
  return pick < n ? kValues[pick] : in.ConsumeFloatingPoint<double>();
}
std::int64_t hostile_int(FuzzedDataProvider& in) {
  static const std::int64_t kValues[] = {-1, 0, 1, 2, 3, std::int64_t(1) << 53, (std::int64_t(1) << 53) + 1,
                                         std::numeric_limits<std::int64_t>::max(),
                                         std::numeric_limits<std::int64_t>::min(), 1000000};
  const std::size_t n = sizeof kValues / sizeof kValues[0];
  const std::size_t pick = in.ConsumeIntegralInRange<std::size_t>(0, n);
  return pick < n ? kValues[pick] : in.ConsumeIntegral<std::int64_t>();
}

/// Within this range (or 0), a handful of products and quotients of edited values and the
/// genuine ones stays finite in the dtype: outside it, overflow is expected arithmetic.
bool moderate(double v, DType dtype) {
  const double lo = dtype == kFloat64 ? 1e-20 : 1e-3, hi = dtype == kFloat64 ? 1e20 : 1e3;
  const double a = std::fabs(v);
  return v == 0 || (a >= lo && a <= hi);
}

Tensor with_dtype(const Tensor& t, DType dtype) {
  if (dtype == kInt64) {
    xt::xarray<std::int64_t> v = xt::xarray<std::int64_t>::from_shape(t.shape());
    const std::vector<double> d = t.to_vector();
    for (std::size_t i = 0; i < d.size(); ++i)
      v.data()[i] = std::isfinite(d[i]) && std::fabs(d[i]) < 9e18 ? static_cast<std::int64_t>(d[i]) : 0;
    return Tensor(std::move(v));
  }
  if (dtype == kBool) {
    xt::xarray<bool> v = xt::xarray<bool>::from_shape(t.shape());
    const std::vector<double> d = t.to_vector();
    for (std::size_t i = 0; i < d.size(); ++i) v.data()[i] = d[i] != 0;
    return Tensor(std::move(v));
  }
  return from_vector(t.to_vector(), t.shape(), dtype);
}

/// Applies up to 8 edits to dict; clears `moderate_edits` when one wrote an immoderate value.
void edit(FuzzedDataProvider& in, StateDict& dict, DType dtype, bool& moderate_edits) {
  const int edits = in.ConsumeIntegralInRange<int>(0, 8);
  for (int e = 0; e < edits && !dict.empty(); ++e) {
    auto it = dict.begin();
    std::advance(it, in.ConsumeIntegralInRange<std::size_t>(0, dict.size() - 1));
    Tensor& t = it->second;
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
      case 0:
      case 1: {  // one value
        if (t.numel() == 0) break;
        const std::size_t i = in.ConsumeIntegralInRange<std::size_t>(0, t.numel() - 1);
        if (t.dtype() == kInt64) {
          xt::xarray<std::int64_t> v = t.value<std::int64_t>();
          v.data()[i] = hostile_int(in);
          t = Tensor(std::move(v));
        } else if (t.dtype() == kBool) {
          xt::xarray<bool> v = t.value<bool>();
          v.data()[i] = !v.data()[i];
          t = Tensor(std::move(v));
        } else {
          std::vector<double> v = t.to_vector();
          v[i] = hostile_double(in);
          moderate_edits = moderate_edits && moderate(v[i], dtype);
          t = from_vector(v, t.shape(), t.dtype());
        }
        break;
      }
      case 2: dict.erase(it); break;
      case 3: t = with_dtype(t, in.PickValueInArray({kFloat32, kFloat64, kInt64, kBool})); break;
      case 4: {  // one value more or one fewer, as a flat list
        std::vector<double> v = t.to_vector();
        if (in.ConsumeBool() || v.empty()) v.push_back(1.0);
        else v.pop_back();
        t = with_dtype(from_vector(v, {v.size()}, kFloat64), t.dtype());
        break;
      }
      case 5: {  // a stray entry next to this one
        const std::string key = it->first + in.PickValueInArray({"x", ".9", "0"});
        dict[key] = from_vector({1.0}, {1}, kFloat64);
        break;
      }
      default: {  // an entry renamed into another group or parameter
        std::string key = it->first;
        for (char& c : key)
          if (c >= '0' && c <= '9') c = static_cast<char>('0' + (c - '0' + 1) % 10);
        const Tensor moved = t;
        dict.erase(it);
        dict[key] = moved;
        break;
      }
    }
  }
}

[[noreturn]] void finding(const char* what, int kind, int sched_kind, DType dtype) {
  std::fprintf(stderr, "fuzz_optim_state: %s (optimizer %d, scheduler %d, %s)\n", what, kind, sched_kind,
               dtype == kFloat64 ? "float64" : "float32");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const int kind = in.ConsumeIntegralInRange<int>(0, kOptimizers - 1);
  const int sched_kind = in.ConsumeIntegralInRange<int>(0, kSchedulers - 1);
  const DType dtype = in.ConsumeBool() ? kFloat64 : kFloat32;

  // The genuine state: two steps of a run.
  StateDict opt_state, sched_state;
  {
    auto params = make_params(dtype);
    auto opt = make_optimizer(kind, params);
    Scheduler sched = make_scheduler(sched_kind, *opt);
    if (!run(*opt, sched, kind, 2)) finding("the genuine run went non-finite", kind, sched_kind, dtype);
    opt_state = opt->state_dict();
    sched_state = sched.state_dict();
  }
  bool moderate_edits = true;
  edit(in, opt_state, dtype, moderate_edits);
  edit(in, sched_state, dtype, moderate_edits);

  auto params = make_params(dtype);
  auto opt = make_optimizer(kind, params);
  Scheduler sched = make_scheduler(sched_kind, *opt);
  try {
    opt->load_state_dict(opt_state);
    sched.load_state_dict(sched_state);
  } catch (const Error&) {
    return 0;  // refused: the expected answer to a bad dict
  }
  bool finite = false;
  try {
    finite = run(*opt, sched, kind, 3);
  } catch (const Error& e) {
    std::fprintf(stderr, "step after an accepted load raised: %s\n", e.what());
    finding("step raised tg::Error after load_state_dict accepted the dict", kind, sched_kind, dtype);
  }
  if (finite || !moderate_edits) return 0;
  // Would the loaded options alone (fresh state, same gradients) go non-finite too?
  auto fresh_params = make_params(dtype);
  auto fresh = make_optimizer(kind, fresh_params, opt.get());
  Scheduler none;
  if (!run(*fresh, none, kind, 3)) return 0;
  finding("parameters or lrs non-finite after an accepted load with moderate values", kind, sched_kind, dtype);
}
