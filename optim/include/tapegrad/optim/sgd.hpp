// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay,
// as torch.optim.SGD.
//
// Update rule for each parameter x with gradient g (t = 1, 2, ... counts this parameter's steps):
//   g <- -g                                 if maximize
//   g <- g + weight_decay * x               if weight_decay != 0
//   if momentum != 0:
//     buf <- g                              at t = 1 (no dampening on the first step)
//     buf <- momentum * buf + (1 - dampening) * g   for t > 1
//     g   <- g + momentum * buf             if nesterov, else g <- buf
//   x <- x - lr * g
//
// The classic "inertia" form dw(t+1) = (1 - a) * eta * grad + a * dw(t), x <- x - dw(t+1), is this
// rule with lr = eta and momentum = dampening = a (then dw = lr * buf), except that the first step
// is dw(1) = eta * grad rather than (1 - a) * eta * grad, since buf starts as the gradient itself.
//
// State: "momentum_buffer" (parameter's shape) when momentum != 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of SGD. lr has no default (as in torch); nesterov needs momentum > 0 and dampening 0.
class SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
 public:
  explicit SGDOptions(double lr) : lr_(lr) {}
  void validate() const override;

  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_SGD_OPTIONS(X)    \
  X(double, lr, )            \
  X(double, momentum, 0)     \
  X(double, dampening, 0)    \
  X(double, weight_decay, 0) \
  X(bool, nesterov, false)   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_SGD_OPTIONS)
};

/// tg::optim::SGD opt(params, SGDOptions(0.1).momentum(0.9)); ... opt.zero_grad();
/// loss.backward(); opt.step();
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> param_groups, SGDOptions defaults);
  SGD(std::vector<Tensor> params, SGDOptions defaults);
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
