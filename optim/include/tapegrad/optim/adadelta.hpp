/// \file
/// Adadelta (Zeiler, 2012), as torch.optim.Adadelta.
///
/// Update rule for each parameter x with gradient g:
/// \code{.unparsed}
///   g     <- -g                                  if maximize
///   g     <- g + weight_decay * x                if weight_decay != 0
///   sq    <- rho * sq + (1 - rho) * g * g
///   delta  = sqrt(acc + eps) / sqrt(sq + eps) * g
///   acc   <- rho * acc + (1 - rho) * delta * delta
///   x     <- x - lr * delta
/// \endcode
///
/// State: "step" (int64), "square_avg" (sq) and "acc_delta" (acc), both parameter-shaped, from 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of Adadelta, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 1 (>= 0), rho 0.9 (in [0, 1]), eps 1e-6
/// (>= 0), weight_decay 0 (>= 0), maximize false.
class AdadeltaOptions : public OptimizerCloneableOptions<AdadeltaOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADADELTA_OPTIONS(X)   \
  X(double, lr, )                \
  X(double, rho, 0.9)            \
  X(double, eps, 1e-6)           \
  X(double, weight_decay, 0)     \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADADELTA_OPTIONS)
  /// \endcond
};

/// The Adadelta optimizer; its update rule is in the file comment.
class Adadelta : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit Adadelta(std::vector<ParamGroup> param_groups, AdadeltaOptions defaults = AdadeltaOptions());
  explicit Adadelta(std::vector<Tensor> params, AdadeltaOptions defaults = AdadeltaOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
