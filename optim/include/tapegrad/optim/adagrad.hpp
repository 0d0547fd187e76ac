// Adagrad (Duchi et al., 2011), as torch.optim.Adagrad.
//
// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count:
//   g   <- -g                                    if maximize
//   g   <- g + weight_decay * x                  if weight_decay != 0
//   clr  = lr / (1 + (t - 1) * lr_decay)
//   sum <- sum + g * g                           (sum starts at initial_accumulator_value)
//   x   <- x - clr * g / (sqrt(sum) + eps)
//
// State: "step" (int64), "sum" (parameter's shape).
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

class AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
 public:
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
  void validate() const override;

  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAGRAD_OPTIONS(X)             \
  X(double, lr, )                         \
  X(double, lr_decay, 0)                  \
  X(double, weight_decay, 0)              \
  X(double, initial_accumulator_value, 0) \
  X(double, eps, 1e-10)                   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAGRAD_OPTIONS)
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> param_groups, AdagradOptions defaults = AdagradOptions());
  Adagrad(std::vector<Tensor> params, AdagradOptions defaults = AdagradOptions());
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
