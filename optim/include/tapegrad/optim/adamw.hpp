/// \file
/// AdamW (Loshchilov & Hutter, 2019), as torch.optim.AdamW: Adam with decoupled weight decay.
///
/// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
/// (b1, b2) = betas:
/// \code{.unparsed}
///   g    <- -g                                   if maximize
///   x    <- x * (1 - lr * weight_decay)          (decay first, independent of the gradient)
///   m    <- b1 * m + (1 - b1) * g
///   v    <- b2 * v + (1 - b2) * g * g
///   vmax <- max(vmax, v), used instead of v     if amsgrad
///   x    <- x - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// \endcode
///
/// State: as Adam: "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (if amsgrad).
#pragma once

#include "tapegrad/optim/adam.hpp"

namespace tg::optim {

/// As AdamOptions, but weight_decay defaults to 1e-2 and is decoupled from the gradient.
class AdamWOptions : public OptimizerCloneableOptions<AdamWOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAMW_OPTIONS(X)     \
  X(double, lr, )               \
  X(Betas, betas, 0.9, 0.999)   \
  X(double, eps, 1e-8)          \
  X(double, weight_decay, 1e-2) \
  X(bool, amsgrad, false)       \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAMW_OPTIONS)
  /// \endcond
};

/// The AdamW optimizer; its update rule is in the file comment.
class AdamW : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit AdamW(std::vector<ParamGroup> param_groups, AdamWOptions defaults = AdamWOptions());
  explicit AdamW(std::vector<Tensor> params, AdamWOptions defaults = AdamWOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
