/// \file
/// Adagrad (Duchi et al., 2011), as torch.optim.Adagrad.
///
/// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count:
/// \code{.unparsed}
///   g   <- -g                                    if maximize
///   g   <- g + weight_decay * x                  if weight_decay != 0
///   clr  = lr / (1 + (t - 1) * lr_decay)
///   sum <- sum + g * g                           (sum starts at initial_accumulator_value)
///   x   <- x - clr * g / (sqrt(sum) + eps)
/// \endcode
///
/// State: "step" (int64), "sum" (parameter's shape).
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of Adagrad, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 1e-2 (>= 0), lr_decay 0 (>= 0),
/// weight_decay 0 (>= 0), initial_accumulator_value 0 (>= 0), eps 1e-10 (>= 0), maximize false.
class AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAGRAD_OPTIONS(X)             \
  X(double, lr, )                         \
  X(double, lr_decay, 0)                  \
  X(double, weight_decay, 0)              \
  X(double, initial_accumulator_value, 0) \
  X(double, eps, 1e-10)                   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAGRAD_OPTIONS)
  /// \endcond
};

/// The Adagrad optimizer; its update rule is in the file comment.
class Adagrad : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit Adagrad(std::vector<ParamGroup> param_groups, AdagradOptions defaults = AdagradOptions());
  explicit Adagrad(std::vector<Tensor> params, AdagradOptions defaults = AdagradOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
