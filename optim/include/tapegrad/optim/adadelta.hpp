// Adadelta (Zeiler, 2012), as torch.optim.Adadelta.
//
// Update rule for each parameter x with gradient g:
//   g     <- -g                                  if maximize
//   g     <- g + weight_decay * x                if weight_decay != 0
//   sq    <- rho * sq + (1 - rho) * g * g
//   delta  = sqrt(acc + eps) / sqrt(sq + eps) * g
//   acc   <- rho * acc + (1 - rho) * delta * delta
//   x     <- x - lr * delta
//
// State: "step" (int64), "square_avg" (sq) and "acc_delta" (acc), both parameter-shaped, from 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

class AdadeltaOptions : public OptimizerCloneableOptions<AdadeltaOptions> {
 public:
  explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
  void validate() const override;

  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADADELTA_OPTIONS(X)   \
  X(double, lr, )                \
  X(double, rho, 0.9)            \
  X(double, eps, 1e-6)           \
  X(double, weight_decay, 0)     \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADADELTA_OPTIONS)
};

class Adadelta : public Optimizer {
 public:
  Adadelta(std::vector<ParamGroup> param_groups, AdadeltaOptions defaults = AdadeltaOptions());
  Adadelta(std::vector<Tensor> params, AdadeltaOptions defaults = AdadeltaOptions());
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
