// Adamax (Kingma & Ba, 2015, section 7.1), as torch.optim.Adamax: Adam with an infinity norm.
//
// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
// (b1, b2) = betas:
//   g <- -g                                      if maximize
//   g <- g + weight_decay * x                    if weight_decay != 0
//   m <- b1 * m + (1 - b1) * g
//   u <- max(b2 * u, |g| + eps)
//   x <- x - lr / (1 - b1^t) * m / u
//
// State: "step" (int64), "exp_avg" (m), "exp_inf" (u), both parameter-shaped, from 0.
#pragma once

#include "tapegrad/optim/adam.hpp"

namespace tg::optim {

class AdamaxOptions : public OptimizerCloneableOptions<AdamaxOptions> {
 public:
  explicit AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
  void validate() const override;

  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAMAX_OPTIONS(X)   \
  X(double, lr, )              \
  X(Betas, betas, 0.9, 0.999)  \
  X(double, eps, 1e-8)         \
  X(double, weight_decay, 0)   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAMAX_OPTIONS)
};

class Adamax : public Optimizer {
 public:
  Adamax(std::vector<ParamGroup> param_groups, AdamaxOptions defaults = AdamaxOptions());
  Adamax(std::vector<Tensor> params, AdamaxOptions defaults = AdamaxOptions());
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
