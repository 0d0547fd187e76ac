// Adam (Kingma & Ba, 2015), as torch.optim.Adam, whose weight decay is an L2 penalty added to
// the gradient (see adamw.hpp for decoupled weight decay).
//
// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
// (b1, b2) = betas:
//   g    <- -g                                   if maximize
//   g    <- g + weight_decay * x                 if weight_decay != 0
//   m    <- b1 * m + (1 - b1) * g
//   v    <- b2 * v + (1 - b2) * g * g
//   vmax <- max(vmax, v), used instead of v     if amsgrad
//   x    <- x - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// State: "step" (int64), "exp_avg" (m), "exp_avg_sq" (v), "max_exp_avg_sq" (vmax, if amsgrad),
// all parameter-shaped and starting at 0.
#pragma once

#include <tuple>

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// (beta1, beta2): decay rates of the first and second moment averages, each in [0, 1).
using Betas = std::tuple<double, double>;

class AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  void validate() const override;

  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAM_OPTIONS(X)    \
  X(double, lr, )             \
  X(Betas, betas, 0.9, 0.999) \
  X(double, eps, 1e-8)        \
  X(double, weight_decay, 0)  \
  X(bool, amsgrad, false)     \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAM_OPTIONS)
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> param_groups, AdamOptions defaults = AdamOptions());
  Adam(std::vector<Tensor> params, AdamOptions defaults = AdamOptions());
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
