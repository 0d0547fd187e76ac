/// \file
/// tg::optim::Optimizer: the base of every optimizer, with parameter groups and per-parameter state.
///
/// Invariants
/// - An optimizer holds handles to its parameters (floating leaf tensors). step() reads their
///   grad() and changes their values in place through mutable_value(), so updates are never
///   recorded on the tape; float32 and float64 parameters are updated in their own dtype.
///   Parameters whose grad() is undefined are skipped: their state is neither created nor advanced.
/// - Update rules follow PyTorch's single-tensor implementations operation by operation, including
///   where its CPU kernels fuse a multiply and an add (x.add_(y, alpha) is fma(alpha, y, x)), so a
///   float64 run reproduces PyTorch's trajectory to the last bit or nearly (see tests).
/// - Every parameter belongs to exactly one group, and every group owns a complete options object
///   of the optimizer's own options type (a copy of the defaults unless one is given).
/// - Per-parameter state is a map of named tensors: buffers of the parameter's shape and dtype
///   ("exp_avg"), int64 counters ("step") and float64 scalars, created on the parameter's first
///   update. state_dict() exposes options and state as named tensor copies, keyed
///   "param_groups.<g>.<option>" and "state.<i>.<name>" with i numbering the parameters group by
///   group, so they can be saved in one checkpoint with the model; load_state_dict() restores them
///   and the resumed run continues bit for bit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

/// Declares all options of an options class from one list, so that an option cannot exist
/// without being saved. LIST(X) calls X(type, name, default...) once per option; each becomes a
/// member `name_` brace-initialised from the default (an empty default value-initialises it, as
/// for lr, which the constructor sets), a chainable setter `name(value)` and a getter `name()` as
/// libtorch's TORCH_ARG, and an entry of fields(), through which state_dict() and
/// load_state_dict() see the options. Names are PyTorch's param_group keys, i.e. the state dict's
/// format. The list is a macro written in the class (block comments only inside it: a // comment
/// would swallow the continued lines), and the optimizer's .cpp file defines fields() (and the
/// options' clone()) from the same list, so that code including the header does not compile
/// them:
/// \code{.cpp}
///   #define TG_ADAM_OPTIONS(X) X(double, lr, ) X(Betas, betas, 0.9, 0.999) ...
///   TG_OPTIM_OPTIONS(TG_ADAM_OPTIONS)                  // in the class, in adam.hpp
///   TG_OPTIM_DEFINE_OPTIONS(AdamOptions, TG_ADAM_OPTIONS)  // in adam.cpp
/// \endcode
/// Types are those OptionField holds, plus std::string, whose allowed values come from the class's
/// `static std::vector<std::string> choices(const std::string& option)`.
#define TG_OPTIM_OPTIONS(LIST)                                        \
 public:                                                              \
  LIST(TG_OPTIM_DETAIL_ACCESSORS)                                     \
  std::vector<::tg::optim::OptionField> fields() override;            \
                                                                      \
 private:                                                             \
  LIST(TG_OPTIM_DETAIL_MEMBER)                                        \
                                                                      \
 public:

/// \cond INTERNAL
#define TG_OPTIM_DETAIL_ACCESSORS(T, name, ...) \
  auto& name(const T& new_value) {              \
    name##_ = new_value;                        \
    return *this;                               \
  }                                             \
  const T& name() const { return name##_; }
#define TG_OPTIM_DETAIL_FIELD(T, name, ...) ::tg::optim::options_detail::make_field(this, #name, name##_),
/// \endcond

/// In the optimizer's .cpp file (namespace tg::optim): fields() and clone() of the options class.
#define TG_OPTIM_DEFINE_OPTIONS(Class, LIST)                                          \
  std::vector<OptionField> Class::fields() { return {LIST(TG_OPTIM_DETAIL_FIELD)}; } \
  template class OptimizerCloneableOptions<Class>;
/// \cond INTERNAL
#define TG_OPTIM_DETAIL_MEMBER(T, name, ...) T name##_{__VA_ARGS__};
/// \endcond

namespace tg::optim {

/// Named tensors: the saveable state of an optimizer or a learning-rate scheduler.
using StateDict = std::map<std::string, Tensor>;
/// The state of one parameter: named tensors such as "exp_avg" or "step".
using ParamState = std::map<std::string, Tensor>;
/// Re-evaluates the model: clears the gradients, computes the loss, calls backward() on it and
/// returns it. Required by LBFGS, optional for the others (step() then returns its loss).
using LossClosure = Callback<Tensor()>;

/// One option of an options object, by name (optim/src/options.hpp): what fields() returns.
struct OptionField;

/// Options of one parameter group (learning rate and the optimizer's other settings).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  /// A copy of the same options type.
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  /// The learning rate (what schedulers read and write).
  ///@{
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
  ///@}
  /// Throws tg::Error naming the optimizer and the offending value (e.g. a negative lr).
  virtual void validate() const = 0;
  /// Every option, named as in PyTorch's param_group dict; TG_OPTIM_OPTIONS writes it.
  virtual std::vector<OptionField> fields() = 0;

  /// The options as "<prefix><name>" -> tensor entries.
  void save(StateDict& dict, const std::string& prefix) const;
  /// Reads every option from "<prefix><name>"; a missing entry raises tg::Error.
  void load(const StateDict& dict, const std::string& prefix);
};

/// Implements clone(), get_lr() and set_lr() for an options class with an `lr` option. Defined
/// in optim/src/options.hpp and instantiated once per class by TG_OPTIM_DEFINE_OPTIONS.
template <class Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  /// A copy of the Derived options.
  std::unique_ptr<OptimizerOptions> clone() const override;
  /// Derived's lr().
  double get_lr() const override;
  /// Derived's lr(value).
  void set_lr(double lr) override;
};

/// A list of parameters that share options (e.g. a smaller lr or no weight decay for biases).
class ParamGroup {
 public:
  /// A group that takes the optimizer's default options.
  ParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, so a list of params is a group
  /// A group with its own options, e.g. ParamGroup(biases, AdamOptions(1e-3).weight_decay(0)).
  template <class Options,
            class = std::enable_if_t<std::is_base_of_v<OptimizerOptions, Options>>>
  ParamGroup(std::vector<Tensor> params, const Options& options)
      : ParamGroup(std::move(params), options.clone()) {}
  /// A group owning the given options (nullptr: the optimizer's defaults).
  ParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  /// Copies share the parameters (handles) and clone the options.
  ///@{
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ///@}
  /// Moves take over parameters and options.
  ///@{
  ParamGroup(ParamGroup&&) = default;
  ParamGroup& operator=(ParamGroup&&) = default;
  ///@}

  /// The group's parameters.
  ///@{
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }
  ///@}
  /// False until the group has options of its own (an optimizer gives it a copy of its defaults).
  bool has_options() const { return options_ != nullptr; }
  /// The group's options; cast to the optimizer's type to read them, e.g.
  /// static_cast<SGDOptions&>(group.options()).momentum().
  ///@{
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  ///@}
  /// Replaces the group's options.
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  /// The lr the first learning-rate scheduler found (PyTorch's group["initial_lr"]), if any.
  const std::optional<double>& initial_lr() const { return initial_lr_; }
  /// Sets initial_lr() (the first scheduler does).
  void set_initial_lr(double lr) { initial_lr_ = lr; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  std::optional<double> initial_lr_;
};

/// The base of all optimizers (see the file comment for the invariants).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Performs one update of every parameter that has a gradient. When a closure is given it is
  /// called first (with grad enabled) and its loss is returned; otherwise an undefined tensor.
  virtual Tensor step(const LossClosure& closure = nullptr) = 0;

  /// Clears every parameter's gradient: undefined (set_to_none, the default) or zero-filled.
  void zero_grad(bool set_to_none = true);
  /// Adds a group; its options must be of this optimizer's type (defaults are copied when none).
  /// Throws for an empty list, non-floating or non-leaf tensors, and parameters already present.
  void add_param_group(ParamGroup group);
  /// The parameter groups, in the order they were added.
  ///@{
  std::vector<ParamGroup>& param_groups() { return param_groups_; }
  const std::vector<ParamGroup>& param_groups() const { return param_groups_; }
  ///@}
  /// The options given to the constructor, copied into groups that have none.
  const OptimizerOptions& defaults() const { return *defaults_; }
  /// All parameters, group by group: the order in which state_dict() numbers them.
  std::vector<Tensor> parameters() const;
  /// The state of one parameter of this optimizer (empty before its first update).
  ///@{
  ParamState& state(const Tensor& param);
  const ParamState& state(const Tensor& param) const;
  ///@}
  /// "SGD", "Adam", ...: used in error messages.
  const std::string& name() const { return name_; }

  /// Copies of the options and state: "param_groups.<g>.<option>" (plus ".params", the int64
  /// indices of the group's parameters, and ".initial_lr" once a scheduler set it) and
  /// "state.<i>.<name>".
  StateDict state_dict() const;
  /// Restores options and state saved by state_dict() of an optimizer of the same type over
  /// parameters of the same shapes in the same groups (checked). Buffers are converted to their
  /// parameter's dtype, as PyTorch does. Everything is checked before anything changes (layout,
  /// options, and each parameter's state by check_loaded_state()), so a bad dict raises tg::Error
  /// naming the entry and leaves the optimizer as it was.
  void load_state_dict(const StateDict& dict);

 protected:
  /// name for messages ("Adam"); the groups are added with add_param_group() after validating
  /// defaults.
  Optimizer(std::string name, std::vector<ParamGroup> param_groups,
            std::unique_ptr<OptimizerOptions> defaults);

  /// Calls update(param, state, options) for each parameter with a gradient, group by group,
  /// after check_grad(param).
  template <class Options, class Update>
  void for_each_param_with_grad(Update&& update) {
    for (auto& group : param_groups_) {
      const auto& options = static_cast<const Options&>(group.options());
      for (auto& param : group.params())
        if (param.grad().defined()) {
          check_grad(param);
          update(param, state_of(param), options);
        }
    }
  }
  /// Throws tg::Error naming the optimizer unless param's gradient has param's shape and dtype:
  /// the update loops index both with param's element count (a parameter whose values were
  /// replaced after backward would otherwise be updated out of bounds).
  void check_grad(const Tensor& param) const;
  /// The state of a parameter (created empty on first use).
  ParamState& state_of(const Tensor& param);
  /// Checks the state that load_state_dict() read for one parameter, before anything changes;
  /// throws tg::Error naming the entry (prefix is "state.<i>."). The default suits the
  /// per-element optimizers: "step" is one int64 count, every other entry is floating and either
  /// shaped like the parameter or a single value.
  virtual void check_loaded_state(const std::string& prefix, const Tensor& param, const ParamState& state) const;
  /// Runs the closure with grad enabled and returns its loss (undefined when there is none).
  Tensor evaluate(const LossClosure& closure) const;

 private:
  std::string name_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::vector<ParamGroup> param_groups_;
  std::map<const detail::TensorImpl*, ParamState> state_;
};

}  // namespace tg::optim
