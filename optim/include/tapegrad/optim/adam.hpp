/// \file
/// Adam (Kingma & Ba, 2015), as torch.optim.Adam, whose weight decay is an L2 penalty added to
/// the gradient (see adamw.hpp for decoupled weight decay).
///
/// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
/// (b1, b2) = betas:
/// \code{.unparsed}
///   g    <- -g                                   if maximize
///   g    <- g + weight_decay * x                 if weight_decay != 0
///   m    <- b1 * m + (1 - b1) * g
///   v    <- b2 * v + (1 - b2) * g * g
///   vmax <- max(vmax, v), used instead of v     if amsgrad
///   x    <- x - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// \endcode
///
/// State: "step" (int64), "exp_avg" (m), "exp_avg_sq" (v), "max_exp_avg_sq" (vmax, if amsgrad),
/// all parameter-shaped and starting at 0.
#pragma once

#include <tuple>

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// (beta1, beta2): decay rates of the first and second moment averages, each in [0, 1).
using Betas = std::tuple<double, double>;

/// Options of Adam, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 1e-3 (>= 0), betas (0.9, 0.999) (each in
/// [0, 1)), eps 1e-8 (>= 0), weight_decay 0 (>= 0), amsgrad false, maximize false.
class AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAM_OPTIONS(X)    \
  X(double, lr, )             \
  X(Betas, betas, 0.9, 0.999) \
  X(double, eps, 1e-8)        \
  X(double, weight_decay, 0)  \
  X(bool, amsgrad, false)     \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAM_OPTIONS)
  /// \endcond
};

/// The Adam optimizer; its update rule is in the file comment.
class Adam : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit Adam(std::vector<ParamGroup> param_groups, AdamOptions defaults = AdamOptions());
  explicit Adam(std::vector<Tensor> params, AdamOptions defaults = AdamOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
