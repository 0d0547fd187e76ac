/// \file
/// NAdam (Dozat, 2016): Adam with Nesterov momentum, as torch.optim.NAdam of PyTorch >= 2.0.
///
/// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
/// (b1, b2) = betas, psi = momentum_decay:
/// \code{.unparsed}
///   g        <- -g                                     if maximize
///   x        <- x * (1 - lr * weight_decay)            if decoupled_weight_decay
///   g        <- g + weight_decay * x                   otherwise, if weight_decay != 0
///   mu_t      = b1 * (1 - 0.5 * 0.96^(t * psi))
///   mu_next   = b1 * (1 - 0.5 * 0.96^((t + 1) * psi))
///   prod     <- prod * mu_t                            (prod = mu_1 ... mu_t; starts at 1)
///   m        <- b1 * m + (1 - b1) * g
///   v        <- b2 * v + (1 - b2) * g * g
///   denom     = sqrt(v / (1 - b2^t)) + eps
///   x        <- x - lr * (1 - mu_t) / (1 - prod) * g / denom
///   x        <- x - lr * mu_next / (1 - prod * mu_next) * m / denom
/// \endcode
///
/// This is the published algorithm (the product in the last line is mu_1 ... mu_{t+1}), which
/// PyTorch documents and implements since 2.0. PyTorch 1.13 used prod * mu_t * mu_next there
/// (mu_t counted twice); tapegrad does not reproduce that.
///
/// State: "step" (int64), "mu_product" (float64 scalar), "exp_avg" (m), "exp_avg_sq" (v).
#pragma once

#include "tapegrad/optim/adam.hpp"

namespace tg::optim {

/// Options of NAdam, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 2e-3 (>= 0), betas (0.9, 0.999) (each in
/// [0, 1)), eps 1e-8 (>= 0), weight_decay 0 (>= 0), momentum_decay 4e-3 (>= 0),
/// decoupled_weight_decay false, maximize false.
class NAdamOptions : public OptimizerCloneableOptions<NAdamOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit NAdamOptions(double lr = 2e-3) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_NADAM_OPTIONS(X)              \
  X(double, lr, )                        \
  X(Betas, betas, 0.9, 0.999)            \
  X(double, eps, 1e-8)                   \
  X(double, weight_decay, 0)             \
  X(double, momentum_decay, 4e-3)        \
  X(bool, decoupled_weight_decay, false) \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_NADAM_OPTIONS)
  /// \endcond
};

/// The NAdam optimizer; its update rule is in the file comment.
class NAdam : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit NAdam(std::vector<ParamGroup> param_groups, NAdamOptions defaults = NAdamOptions());
  explicit NAdam(std::vector<Tensor> params, NAdamOptions defaults = NAdamOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
