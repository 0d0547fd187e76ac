// Learning-rate schedulers: PyTorch's chainable update rules and closed forms.
#include "tapegrad/optim/lr_scheduler.hpp"
#include "tapegrad/xtensor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <xtensor/xadapt.hpp>

namespace tg::optim {

namespace {
constexpr double kPi = 3.141592653589793;  // Python's math.pi

Tensor vector_tensor(const std::vector<double>& v) {
  return Tensor(xt::xarray<double>(xt::adapt(v, {v.size()})));
}
Tensor int_tensor(std::int64_t v) { return Tensor(xt::xarray<std::int64_t>(v)); }

// Loaded values are checked against their meaning, so a damaged or hand-made state dict raises
// tg::Error "<scheduler>: load_state_dict: entry '<key>' ..." instead of making lrs NaN,
// negative or infinite, or overflowing a counter on the next step.

/// The largest epoch count a state dict may hold: epochs are used as doubles in the closed
/// forms (exact up to 2^53), and the next step's ++ must not overflow.
constexpr std::int64_t kMaxEpoch = std::int64_t(1) << 53;

const Tensor& entry(const StateDict& dict, const std::string& key, const std::string& who) {
  auto it = dict.find(key);
  if (it == dict.end() || !it->second.defined())
    fail(who, ": load_state_dict: missing entry '", key, "'");
  return it->second;
}
/// An int64 count in [lowest, kMaxEpoch].
std::int64_t read_count(const StateDict& dict, const std::string& key, const std::string& who,
                        std::int64_t lowest = 0) {
  const Tensor& t = entry(dict, key, who);
  if (t.dtype() != kInt64 || t.numel() != 1)
    fail(who, ": load_state_dict: entry '", key, "' should be one int64 value, got ", to_string(t.dtype()),
         to_string(t.shape()));
  const std::int64_t v = t.value<std::int64_t>().data()[0];
  if (v < lowest || v > kMaxEpoch)
    fail(who, ": load_state_dict: entry '", key, "' is ", v, "; it must be a count in [", lowest, ", ", kMaxEpoch,
         "]");
  return v;
}
/// One learning rate per parameter group: a 1-D float tensor of n values, each finite and >= 0
/// (what the optimizers accept as lr).
std::vector<double> read_lrs(const StateDict& dict, const std::string& key, std::size_t n, const std::string& who) {
  const Tensor& t = entry(dict, key, who);
  if (!t.is_floating_point() || t.dim() != 1 || t.numel() != n)
    fail(who, ": load_state_dict: entry '", key, "' is ", to_string(t.dtype()), to_string(t.shape()),
         ", expected float64 of shape (", n, ") (one lr per parameter group)");
  const xt::xarray<double> v = t.to_double();
  for (std::size_t g = 0; g < n; ++g)
    if (!std::isfinite(v(g)) || v(g) < 0)
      fail(who, ": load_state_dict: entry '", key, "' holds ", v(g), " for group ", g,
           "; a learning rate must be finite and >= 0");
  return std::vector<double>(v.begin(), v.end());
}
/// The entries of dict under prefix, with the prefix removed.
StateDict sub_dict(const StateDict& dict, const std::string& prefix) {
  StateDict out;
  for (const auto& [key, value] : dict)
    if (key.rfind(prefix, 0) == 0) out[key.substr(prefix.size())] = value;
  return out;
}
}  // namespace

// ---- LRScheduler -----------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name)
    : optimizer_(optimizer), name_(name) {
  for (auto& group : optimizer_.param_groups()) {
    if (!group.initial_lr()) group.set_initial_lr(group.options().get_lr());
    base_lrs_.push_back(*group.initial_lr());
  }
}

void LRScheduler::step() {
  ++last_epoch_;
  set_lrs(get_lr());
}

std::vector<double> LRScheduler::current_lrs() const {
  std::vector<double> lrs;
  for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_.param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lrs[g]);
  last_lr_ = lrs;
}

StateDict LRScheduler::state_dict() const {
  return {{"last_epoch", int_tensor(last_epoch_)},
          {"base_lrs", vector_tensor(base_lrs_)},
          {"last_lr", vector_tensor(last_lr_)}};
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  const std::size_t n = optimizer_.param_groups().size();
  // -1 is "not started yet": SequentialLR's later schedulers wait at -1 until their milestone.
  const std::int64_t last_epoch = read_count(dict, "last_epoch", name_, -1);
  std::vector<double> base_lrs = read_lrs(dict, "base_lrs", n, name_);
  std::vector<double> last_lr = read_lrs(dict, "last_lr", n, name_);
  last_epoch_ = last_epoch;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---- StepLR, MultiStepLR, ExponentialLR ------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) fail("StepLR: step_size must be >= 1, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::vector<double> StepLR::closed_form_lr(std::int64_t epoch) const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(epoch / step_size_));
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (hits == 0) return lrs;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(hits));
  return lrs;
}

std::vector<double> MultiStepLR::closed_form_lr(std::int64_t epoch) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) -
                      milestones_.begin();
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(passed));
  return lrs;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

std::vector<double> ExponentialLR::closed_form_lr(std::int64_t epoch) const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(epoch));
  return lrs;
}

// ---- CosineAnnealingLR, LinearLR -------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  if (T_max < 1) fail("CosineAnnealingLR: T_max must be >= 1, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  const auto epoch = static_cast<double>(last_epoch_), T_max = static_cast<double>(T_max_);
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
      // Leaving the minimum (epoch T_max + 1, 3 T_max + 1, ...): the ratio form would divide
      // by 1 + cos(pi) = 0, so PyTorch adds the increment instead.
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / T_max)) / 2;
    } else {
      lrs[g] = (1 + std::cos(kPi * epoch / T_max)) / (1 + std::cos(kPi * (epoch - 1) / T_max)) *
                   (lrs[g] - eta_min_) +
               eta_min_;
    }
  }
  return lrs;
}

std::vector<double> CosineAnnealingLR::closed_form_lr(std::int64_t epoch) const {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs)
    lr = eta_min_ + (lr - eta_min_) *
                        (1 + std::cos(kPi * static_cast<double>(epoch) / static_cast<double>(T_max_))) /
                        2;
  return lrs;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor,
                   std::int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  if (!(start_factor > 0 && start_factor <= 1))
    fail("LinearLR: start_factor must be in (0, 1], got ", start_factor);
  if (!(end_factor >= 0 && end_factor <= 1))
    fail("LinearLR: end_factor must be in [0, 1], got ", end_factor);
  if (total_iters < 1) fail("LinearLR: total_iters must be >= 1, got ", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr *= start_factor_;
  } else if (last_epoch_ <= total_iters_) {
    // Ratio of consecutive factors f(e) / f(e - 1).
    const double change = end_factor_ - start_factor_;
    const double ratio =
        1 + change / (static_cast<double>(total_iters_) * start_factor_ +
                      static_cast<double>(last_epoch_ - 1) * change);
    for (double& lr : lrs) lr *= ratio;
  }
  return lrs;
}

std::vector<double> LinearLR::closed_form_lr(std::int64_t epoch) const {
  const auto done = static_cast<double>(std::min(total_iters_, epoch));
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs)
    lr *= start_factor_ +
          (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_);
  return lrs;
}

// ---- ChainedScheduler, SequentialLR ----------------------------------------------------------

namespace {
/// Loads each scheduler's state from "schedulers.<k>." entries, all or none: when one is
/// refused, those already loaded get their previous state back. Errors name the composite and k.
void load_all(const std::vector<std::shared_ptr<LRScheduler>>& schedulers, const StateDict& dict, const char* who) {
  std::vector<StateDict> before;
  for (const auto& s : schedulers) before.push_back(s->state_dict());
  std::size_t k = 0;
  try {
    for (; k < schedulers.size(); ++k)
      schedulers[k]->load_state_dict(sub_dict(dict, "schedulers." + std::to_string(k) + "."));
  } catch (const Error& e) {
    for (std::size_t j = 0; j < k; ++j) schedulers[j]->load_state_dict(before[j]);
    fail(who, ": load_state_dict: scheduler ", k, " (entries 'schedulers.", k, ".*'): ", e.what());
  }
}
}  // namespace

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : schedulers_(std::move(schedulers)) {
  if (schedulers_.empty()) fail("ChainedScheduler: needs at least one scheduler");
  for (const auto& s : schedulers_)
    if (!s) fail("ChainedScheduler: got a null scheduler");
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
}

const std::vector<double>& ChainedScheduler::get_last_lr() const {
  return schedulers_.back()->get_last_lr();
}

StateDict ChainedScheduler::state_dict() const {
  StateDict dict;
  for (std::size_t k = 0; k < schedulers_.size(); ++k)
    for (auto& [key, value] : schedulers_[k]->state_dict())
      dict["schedulers." + std::to_string(k) + "." + key] = value;
  return dict;
}

void ChainedScheduler::load_state_dict(const StateDict& dict) {
  load_all(schedulers_, dict, "ChainedScheduler");
}

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  if (schedulers_.empty()) fail("SequentialLR: needs at least one scheduler");
  if (milestones_.size() != schedulers_.size() - 1)
    fail("SequentialLR: expected ", schedulers_.size() - 1, " milestones for ", schedulers_.size(),
         " schedulers, got ", milestones_.size());
  if (!std::is_sorted(milestones_.begin(), milestones_.end()))
    fail("SequentialLR: milestones must be increasing");
  for (const auto& s : schedulers_)
    if (!s || &s->optimizer_ != &optimizer_)
      fail("SequentialLR: every scheduler must belong to the same optimizer as SequentialLR");
  // Undo what the schedulers' constructors did to the lrs, then start the first one.
  std::vector<double> initial;
  for (const auto& group : optimizer_.param_groups()) initial.push_back(*group.initial_lr());
  set_lrs(initial);
  for (auto& s : schedulers_) --s->last_epoch_;
  schedulers_[0]->initial_step();
  last_epoch_ = 0;
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto k = static_cast<std::size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& s = *schedulers_[k];
  if (k > 0 && milestones_[k - 1] == last_epoch_) {
    // Hand-over: the next scheduler restarts at its epoch 0, from base_lrs.
    s.last_epoch_ = 0;
    s.set_lrs(s.closed_form_lr(0));
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

std::vector<double> SequentialLR::get_lr() const { return current_lrs(); }
std::vector<double> SequentialLR::closed_form_lr(std::int64_t) const { return base_lrs_; }

StateDict SequentialLR::state_dict() const {
  StateDict dict = LRScheduler::state_dict();
  for (std::size_t k = 0; k < schedulers_.size(); ++k)
    for (auto& [key, value] : schedulers_[k]->state_dict())
      dict["schedulers." + std::to_string(k) + "." + key] = value;
  return dict;
}

void SequentialLR::load_state_dict(const StateDict& dict) {
  const StateDict before = LRScheduler::state_dict();
  LRScheduler::load_state_dict(dict);
  try {
    load_all(schedulers_, dict, "SequentialLR");
  } catch (const Error&) {
    LRScheduler::load_state_dict(before);
    throw;
  }
}

// ---- ReduceLROnPlateau -----------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, Options options)
    : optimizer_(optimizer), options_(std::move(options)) {
  const Options& o = options_;
  if (!(o.factor < 1)) fail("ReduceLROnPlateau: factor must be < 1, got ", o.factor);
  if (o.mode != "min" && o.mode != "max")
    fail("ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"", o.mode, "\"");
  if (o.threshold_mode != "rel" && o.threshold_mode != "abs")
    fail("ReduceLROnPlateau: threshold_mode must be \"rel\" or \"abs\", got \"", o.threshold_mode,
         "\"");
  const std::size_t n = optimizer_.param_groups().size();
  if (o.min_lr.size() == 1) min_lrs_.assign(n, o.min_lr[0]);
  else if (o.min_lr.size() == n) min_lrs_ = o.min_lr;
  else
    fail("ReduceLROnPlateau: expected 1 or ", n, " min_lr values (one per group), got ",
         o.min_lr.size());
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity()
                          : -std::numeric_limits<double>::infinity();
  for (const auto& group : optimizer_.param_groups()) last_lr_.push_back(group.options().get_lr());
}

bool ReduceLROnPlateau::is_better(double a) const {
  const Options& o = options_;
  if (o.mode == "min")
    return o.threshold_mode == "rel" ? a < best_ * (1 - o.threshold) : a < best_ - o.threshold;
  return o.threshold_mode == "rel" ? a > best_ * (o.threshold + 1) : a > best_ + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    auto& groups = optimizer_.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].options().get_lr();
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[g]);
      if (old_lr - new_lr > options_.eps) groups[g].options().set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const auto& group : optimizer_.param_groups()) last_lr_.push_back(group.options().get_lr());
}

StateDict ReduceLROnPlateau::state_dict() const {
  return {{"best", tensor(best_, kFloat64)},
          {"last_epoch", int_tensor(last_epoch_)},
          {"num_bad_epochs", int_tensor(num_bad_epochs_)},
          {"cooldown_counter", int_tensor(cooldown_counter_)}};
}

void ReduceLROnPlateau::load_state_dict(const StateDict& dict) {
  const char* who = "ReduceLROnPlateau";
  const Tensor& best_entry = entry(dict, "best", who);
  if (!best_entry.is_floating_point() || best_entry.numel() != 1)
    fail(who, ": load_state_dict: entry 'best' should be one float64 value, got ", to_string(best_entry.dtype()),
         to_string(best_entry.shape()));
  // The best metric so far: a number, or the infinity it starts from (+inf in mode "min"); NaN,
  // or the other infinity, would make every later metric compare the same way forever.
  const double best = best_entry.item();
  const double start = options_.mode == "min" ? std::numeric_limits<double>::infinity()
                                              : -std::numeric_limits<double>::infinity();
  if (std::isnan(best) || (std::isinf(best) && best != start))
    fail(who, ": load_state_dict: entry 'best' is ", best, "; it must be a number or ", start, " in mode \"",
         options_.mode, "\"");
  const std::int64_t last_epoch = read_count(dict, "last_epoch", who);
  const std::int64_t num_bad_epochs = read_count(dict, "num_bad_epochs", who);
  const std::int64_t cooldown_counter = read_count(dict, "cooldown_counter", who);
  best_ = best;
  last_epoch_ = last_epoch;
  num_bad_epochs_ = num_bad_epochs;
  cooldown_counter_ = cooldown_counter;
}

}  // namespace tg::optim
