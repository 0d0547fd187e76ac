/// \file
/// RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop.
///
/// Update rule for each parameter x with gradient g:
/// \code{.unparsed}
///   g   <- -g                                    if maximize
///   g   <- g + weight_decay * x                  if weight_decay != 0
///   sq  <- alpha * sq + (1 - alpha) * g * g
///   if centered:  ga <- alpha * ga + (1 - alpha) * g;   avg = sqrt(sq - ga * ga) + eps
///   else:                                              avg = sqrt(sq) + eps
///   if momentum > 0:  buf <- momentum * buf + g / avg;  x <- x - lr * buf
///   else:             x <- x - lr * g / avg
/// \endcode
///
/// State: "step" (int64), "square_avg" (sq), "grad_avg" (ga, if centered) and "momentum_buffer"
/// (if momentum > 0), all parameter-shaped and starting at 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of RMSprop, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 1e-2 (>= 0), alpha 0.99 (>= 0), eps 1e-8
/// (>= 0), weight_decay 0 (>= 0), momentum 0 (>= 0), centered false, maximize false.
class RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_RMSPROP_OPTIONS(X)   \
  X(double, lr, )               \
  X(double, alpha, 0.99)        \
  X(double, eps, 1e-8)          \
  X(double, weight_decay, 0)    \
  X(double, momentum, 0)        \
  X(bool, centered, false)      \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_RMSPROP_OPTIONS)
  /// \endcond
};

/// The RMSprop optimizer; its update rule is in the file comment.
class RMSprop : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit RMSprop(std::vector<ParamGroup> param_groups, RMSpropOptions defaults = RMSpropOptions());
  explicit RMSprop(std::vector<Tensor> params, RMSpropOptions defaults = RMSpropOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
