// RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop.
//
// Update rule for each parameter x with gradient g:
//   g   <- -g                                    if maximize
//   g   <- g + weight_decay * x                  if weight_decay != 0
//   sq  <- alpha * sq + (1 - alpha) * g * g
//   if centered:  ga <- alpha * ga + (1 - alpha) * g;   avg = sqrt(sq - ga * ga) + eps
//   else:                                              avg = sqrt(sq) + eps
//   if momentum > 0:  buf <- momentum * buf + g / avg;  x <- x - lr * buf
//   else:             x <- x - lr * g / avg
//
// State: "step" (int64), "square_avg" (sq), "grad_avg" (ga, if centered) and "momentum_buffer"
// (if momentum > 0), all parameter-shaped and starting at 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

class RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
 public:
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  void validate() const override;
  std::vector<OptionField> fields() override;

  TG_OPTIM_ARG(double, lr);
  TG_OPTIM_ARG(double, alpha) = 0.99;
  TG_OPTIM_ARG(double, eps) = 1e-8;
  TG_OPTIM_ARG(double, weight_decay) = 0;
  TG_OPTIM_ARG(double, momentum) = 0;
  TG_OPTIM_ARG(bool, centered) = false;
  TG_OPTIM_ARG(bool, maximize) = false;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> param_groups, RMSpropOptions defaults = RMSpropOptions());
  RMSprop(std::vector<Tensor> params, RMSpropOptions defaults = RMSpropOptions());
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
