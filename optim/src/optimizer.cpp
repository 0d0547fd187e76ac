// Parameter groups, options as named tensors, and the optimizer state dict.
#include "tapegrad/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <typeinfo>
#include <unordered_set>

#include "tapegrad/grad_mode.hpp"
#include "tapegrad/xtensor.hpp"
#include "options.hpp"
#include "kernels.hpp"
#include "tensor_impl.hpp"

namespace tg::optim {

// ---- Options as named tensors ----------------------------------------------------------------

namespace {
Tensor scalar_f64(double v) { return tensor(v, kFloat64); }
Tensor scalar_i64(std::int64_t v) { return Tensor(xt::xarray<std::int64_t>(v)); }
Tensor scalar_bool(bool v) { return Tensor(xt::xarray<bool>(v)); }

const Tensor& entry(const StateDict& dict, const std::string& key, const char* what) {
  auto it = dict.find(key);
  if (it == dict.end()) fail("load_state_dict: missing entry '", key, "' (", what, ")");
  if (!it->second.defined()) fail("load_state_dict: entry '", key, "' is an undefined tensor");
  return it->second;
}

/// The single value of a one-element entry, read exactly (int64 without a detour through double).
double number(const Tensor& t, const std::string& key) {
  if (t.numel() != 1)
    fail("load_state_dict: entry '", key, "' should hold one value, got shape ", to_string(t.shape()));
  return t.item();
}
/// State kept as one float64 value whatever the parameter's shape (ParamUpdate::scalar); every
/// other floating entry is a buffer shaped like its parameter.
bool is_scalar_state(const std::string& name) { return name == "mu_product"; }

std::int64_t integer(const Tensor& t, const std::string& key) {
  if (t.numel() != 1 || t.dtype() != kInt64)
    fail("load_state_dict: entry '", key, "' should be one int64 value, got ",
         to_string(t.dtype()), to_string(t.shape()));
  return t.value<std::int64_t>().data()[0];
}
}  // namespace

void OptimizerOptions::save(StateDict& dict, const std::string& prefix) const {
  // fields() hands out pointers for reading and writing; here they are only read.
  for (auto& field : const_cast<OptimizerOptions*>(this)->fields()) {
    Tensor& out = dict[prefix + field.name];
    std::visit(
        [&](auto&& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, double*>) out = scalar_f64(*v);
          else if constexpr (std::is_same_v<V, bool*>) out = scalar_bool(*v);
          else if constexpr (std::is_same_v<V, std::int64_t*>) out = scalar_i64(*v);
          else if constexpr (std::is_same_v<V, std::tuple<double, double>*>)
            out = tensor({std::get<0>(*v), std::get<1>(*v)}, kFloat64);
          else {
            const auto it = std::find(v.allowed.begin(), v.allowed.end(), *v.value);
            out = scalar_i64(it - v.allowed.begin());
          }
        },
        field.value);
  }
}

void OptimizerOptions::load(const StateDict& dict, const std::string& prefix) {
  for (auto& field : fields()) {
    const std::string key = prefix + field.name;
    const Tensor& t = entry(dict, key, "an option");
    std::visit(
        [&](auto&& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, double*>) *v = number(t, key);
          else if constexpr (std::is_same_v<V, bool*>) *v = number(t, key) != 0;
          else if constexpr (std::is_same_v<V, std::int64_t*>) *v = integer(t, key);
          else if constexpr (std::is_same_v<V, std::tuple<double, double>*>) {
            if (t.numel() != 2) fail("load_state_dict: entry '", key, "' should hold 2 values");
            const auto b = t.to_double();
            *v = {b.data()[0], b.data()[1]};
          } else {
            const std::int64_t i = integer(t, key);
            if (i < 0 || i >= static_cast<std::int64_t>(v.allowed.size()))
              fail("load_state_dict: entry '", key, "' = ", i, " is not a valid choice");
            *v.value = v.allowed[static_cast<std::size_t>(i)];
          }
        },
        field.value);
  }
}

// ---- ParamGroup ------------------------------------------------------------------------------

ParamGroup::ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}

ParamGroup::ParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}

ParamGroup::ParamGroup(const ParamGroup& other)
    : params_(other.params_),
      options_(other.options_ ? other.options_->clone() : nullptr),
      initial_lr_(other.initial_lr_) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) *this = ParamGroup(other);
  return *this;
}

OptimizerOptions& ParamGroup::options() {
  if (!options_) fail("ParamGroup: this group has no options yet (add it to an optimizer first)");
  return *options_;
}
const OptimizerOptions& ParamGroup::options() const {
  return const_cast<ParamGroup*>(this)->options();
}

// ---- Optimizer -------------------------------------------------------------------------------

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> param_groups,
                     std::unique_ptr<OptimizerOptions> defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {
  defaults_->validate();
  if (param_groups.empty()) fail(name_, ": got an empty list of parameter groups");
  for (auto& group : param_groups) add_param_group(std::move(group));
}

void Optimizer::add_param_group(ParamGroup group) {
  const std::size_t g = param_groups_.size();
  if (group.params().empty()) fail(name_, ": parameter group ", g, " has no parameters");
  std::unordered_set<const tg::detail::TensorImpl*> seen;
  for (const auto& other : param_groups_)
    for (const auto& p : other.params()) seen.insert(p.impl());
  for (std::size_t i = 0; i < group.params().size(); ++i) {
    const Tensor& p = group.params()[i];
    if (!p.defined()) fail(name_, ": parameter ", i, " of group ", g, " is an undefined tensor");
    if (!p.is_floating_point())
      fail(name_, ": can only optimize float32/float64 tensors, parameter ", i, " of group ", g,
           " is ", to_string(p.dtype()));
    if (!p.is_leaf())
      fail(name_, ": can't optimize a non-leaf tensor (parameter ", i, " of group ", g,
           " is the output of '", p.grad_fn_name(), "'); optimize the leaf it came from");
    if (!seen.insert(p.impl()).second)
      fail(name_, ": parameter ", i, " of group ", g, " appears more than once in the optimizer");
  }
  if (!group.has_options()) group.set_options(defaults_->clone());
  const OptimizerOptions& given = group.options();
  const OptimizerOptions& expected = *defaults_;
  if (typeid(given) != typeid(expected))
    fail(name_, ": parameter group ", g, " has options of another optimizer type");
  group.options().validate();
  param_groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& group : param_groups_)
    for (auto& p : group.params()) p.zero_grad(set_to_none);
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (const auto& group : param_groups_)
    all.insert(all.end(), group.params().begin(), group.params().end());
  return all;
}

ParamState& Optimizer::state_of(const Tensor& param) { return state_[param.impl()]; }

ParamState& Optimizer::state(const Tensor& param) {
  for (const auto& group : param_groups_)
    for (const auto& p : group.params())
      if (p.is_same(param)) return state_[p.impl()];
  fail(name_, ": state() of a tensor that is not one of this optimizer's parameters");
}
const ParamState& Optimizer::state(const Tensor& param) const {
  static const ParamState kEmpty;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params())
      if (p.is_same(param)) {
        auto it = state_.find(p.impl());
        return it == state_.end() ? kEmpty : it->second;
      }
  fail(name_, ": state() of a tensor that is not one of this optimizer's parameters");
}

Tensor Optimizer::evaluate(const LossClosure& closure) const {
  if (!closure) return Tensor();
  EnableGradGuard grad_on;
  return closure();
}

StateDict Optimizer::state_dict() const {
  StateDict dict;
  std::int64_t index = 0;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const ParamGroup& group = param_groups_[g];
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    group.options().save(dict, prefix);
    if (group.initial_lr()) dict[prefix + "initial_lr"] = scalar_f64(*group.initial_lr());
    xt::xarray<std::int64_t> ids = xt::xarray<std::int64_t>::from_shape({group.params().size()});
    for (std::size_t i = 0; i < group.params().size(); ++i, ++index) {
      ids(i) = index;
      auto it = state_.find(group.params()[i].impl());
      if (it == state_.end()) continue;
      const std::string state_prefix = "state." + std::to_string(index) + ".";
      for (const auto& [name, value] : it->second) dict[state_prefix + name] = value.detach();
    }
    dict[prefix + "params"] = Tensor(std::move(ids));
  }
  return dict;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const std::vector<Tensor> params = parameters();
  // Check the layout before changing anything, so a mismatched dict leaves the optimizer intact.
  std::int64_t index = 0;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const std::string key = "param_groups." + std::to_string(g) + ".params";
    const Tensor& ids = entry(dict, key, "the group's parameter indices");
    const std::size_t n = param_groups_[g].params().size();
    if (ids.dtype() != kInt64 || ids.numel() != n)
      fail(name_, ": load_state_dict: group ", g, " has ", n, " parameters but the state dict has ",
           ids.numel());
    for (std::size_t i = 0; i < n; ++i, ++index)
      if (ids.value<std::int64_t>().data()[i] != index)
        fail(name_, ": load_state_dict: the state dict's parameter groups are laid out differently");
  }
  if (dict.count("param_groups." + std::to_string(param_groups_.size()) + ".params"))
    fail(name_, ": load_state_dict: the state dict has more than ", param_groups_.size(),
         " parameter groups");

  std::vector<ParamGroup> groups = param_groups_;  // copies; committed only when all is valid
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    groups[g].options().load(dict, prefix);
    groups[g].options().validate();
    auto lr0 = dict.find(prefix + "initial_lr");
    if (lr0 != dict.end()) {
      // The lr schedulers start from it (their base_lrs): the rules of an lr apply.
      const double initial_lr = number(lr0->second, lr0->first);
      if (!std::isfinite(initial_lr) || initial_lr < 0)
        fail(name_, ": load_state_dict: entry '", lr0->first, "' is ", initial_lr,
             "; a learning rate must be finite and >= 0");
      groups[g].set_initial_lr(initial_lr);
    }
  }

  std::map<const tg::detail::TensorImpl*, ParamState> state;
  for (const auto& [key, value] : dict) {
    if (key.rfind("state.", 0) != 0) continue;
    const std::size_t dot = key.find('.', 6);
    std::size_t i = 0;
    try {
      i = std::stoul(key.substr(6, dot - 6));
    } catch (const std::exception&) {
      fail(name_, ": load_state_dict: malformed state key '", key, "'");
    }
    if (dot == std::string::npos || i >= params.size())
      fail(name_, ": load_state_dict: state key '", key, "' names no parameter (there are ",
           params.size(), ")");
    const Tensor& p = params[i];
    Tensor copy = value.detach();
    const std::string name = key.substr(dot + 1);
    // Buffers take their parameter's dtype, scalar state float64 (what the update loops read).
    if (copy.is_floating_point()) {
      const bool scalar = is_scalar_state(name);
      const DType dtype = scalar ? kFloat64 : p.dtype();
      if (copy.dtype() != dtype && (scalar ? copy.numel() == 1 : copy.shape() == p.shape()))
        copy = copy.to(dtype).detach();
    }
    state[p.impl()][name] = copy;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto it = state.find(params[i].impl());
    if (it != state.end()) check_loaded_state("state." + std::to_string(i) + ".", params[i], it->second);
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    param_groups_[g].set_options(groups[g].options().clone());
    if (groups[g].initial_lr()) param_groups_[g].set_initial_lr(*groups[g].initial_lr());
  }
  state_ = std::move(state);
}

void Optimizer::check_grad(const Tensor& param) const {
  const Tensor grad = param.grad();
  if (grad.dtype() != param.dtype() || !tg::detail::same_shape(grad, param))
    fail(name_, ": step: the gradient is ", to_string(grad.dtype()), to_string(grad.shape()),
         " but its parameter is ", to_string(param.dtype()), to_string(param.shape()),
         " (were the parameter's values replaced after backward?)");
}

void Optimizer::check_loaded_state(const std::string& prefix, const Tensor& param, const ParamState& state) const {
  for (const auto& [name, value] : state) {
    const std::string key = prefix + name;
    if (name == "step") {
      if (value.dtype() != kInt64 || value.numel() != 1)
        fail(name_, ": load_state_dict: entry '", key, "' should be one int64 count, got ",
             to_string(value.dtype()), to_string(value.shape()));
      detail::check_loaded_count(name_, key, value.data_ptr<std::int64_t>()[0]);
    } else if (!value.is_floating_point()) {
      fail(name_, ": load_state_dict: entry '", key, "' should be float32 or float64, got ",
           to_string(value.dtype()), to_string(value.shape()));
    } else if (is_scalar_state(name) && value.numel() != 1) {
      fail(name_, ": load_state_dict: entry '", key, "' should hold one value, got shape ", to_string(value.shape()));
    } else if (!is_scalar_state(name) && value.shape() != param.shape()) {
      // Exactly the parameter's shape: the update loops index a buffer as their parameter, in
      // its dtype (a buffer of one value for a larger parameter used to be accepted here and
      // refused by the next step(); found by fuzz_optim_state).
      fail(name_, ": load_state_dict: entry '", key, "' has shape ", to_string(value.shape()),
           " but its parameter has shape ", to_string(param.shape()),
           " (was the state dict saved for another model?)");
    } else {
      detail::check_loaded_finite(name_, key, value);
      // Running averages of squares (Adam's, Adamax's infinity norm, RMSprop's, Adadelta's,
      // Adagrad's sum) are >= 0 by construction; a negative one makes the update's square root
      // NaN. NAdam's mu_product is a product of momentum factors in [0, 1).
      static const char* const kNonNegative[] = {"exp_avg_sq", "max_exp_avg_sq", "exp_inf", "square_avg",
                                                 "acc_delta", "sum"};
      bool non_negative = false;
      for (const char* n : kNonNegative) non_negative = non_negative || name == n;
      const double hi = name == "mu_product" ? 1.0 : std::numeric_limits<double>::infinity();
      if (non_negative || name == "mu_product") {
        const xt::xarray<double> v = value.to_double();
        for (std::size_t i = 0; i < v.size(); ++i)
          if (!(v.data()[i] >= 0 && v.data()[i] <= hi))
            fail(name_, ": load_state_dict: entry '", key, "' holds ", v.data()[i], " at index ", i,
                 name == "mu_product" ? "; a product of momentum factors must be in [0, 1]"
                                      : "; an average of squares must be >= 0");
      }
    }
  }
  // Centered RMSprop divides by sqrt(square_avg - grad_avg^2), a variance estimate >= 0 by
  // construction (Jensen); a state that breaks it makes every later step NaN. Checked in double,
  // where a float32 buffer's square is exact, so the sign is the exact one.
  const auto sq = state.find("square_avg"), ga = state.find("grad_avg");
  if (sq != state.end() && ga != state.end()) {
    const xt::xarray<double> s = sq->second.to_double(), g = ga->second.to_double();
    for (std::size_t i = 0; i < s.size() && i < g.size(); ++i)
      if (!(s.data()[i] - g.data()[i] * g.data()[i] >= 0))
        fail(name_, ": load_state_dict: entries '", prefix, "square_avg' and '", prefix, "grad_avg' hold ",
             s.data()[i], " and ", g.data()[i], " at index ", i,
             "; the mean of squares must be >= the squared mean (their difference is a variance)");
  }
}

namespace detail {
void check_loaded_finite(const std::string& optimizer, const std::string& key, const Tensor& t) {
  const xt::xarray<double> v = t.to_double();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v.data()[i]))
      fail(optimizer, ": load_state_dict: entry '", key, "' holds ", v.data()[i], " at index ", i,
           "; optimizer state must be finite");
}
}  // namespace detail

}  // namespace tg::optim
