/// \file
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay,
/// as torch.optim.SGD.
///
/// Update rule for each parameter x with gradient g (t = 1, 2, ... counts this parameter's steps):
/// \code{.unparsed}
///   g <- -g                                 if maximize
///   g <- g + weight_decay * x               if weight_decay != 0
///   if momentum != 0:
///     buf <- g                              at t = 1 (no dampening on the first step)
///     buf <- momentum * buf + (1 - dampening) * g   for t > 1
///     g   <- g + momentum * buf             if nesterov, else g <- buf
///   x <- x - lr * g
/// \endcode
///
/// The classic "inertia" form dw(t+1) = (1 - a) * eta * grad + a * dw(t), x <- x - dw(t+1), is this
/// rule with lr = eta and momentum = dampening = a (then dw = lr * buf), except that the first step
/// is dw(1) = eta * grad rather than (1 - a) * eta * grad, since buf starts as the gradient itself.
///
/// State: "momentum_buffer" (parameter's shape) when momentum != 0.
#pragma once

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of SGD, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr (no default, as in torch; >= 0),
/// momentum 0 (>= 0), dampening 0, weight_decay 0 (>= 0), nesterov false (needs momentum > 0 and
/// dampening 0), maximize false.
class SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit SGDOptions(double lr) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_SGD_OPTIONS(X)    \
  X(double, lr, )            \
  X(double, momentum, 0)     \
  X(double, dampening, 0)    \
  X(double, weight_decay, 0) \
  X(bool, nesterov, false)   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_SGD_OPTIONS)
  /// \endcond
};

/// The SGD optimizer; its update rule is in the file comment.
/// `tg::optim::SGD opt(params, SGDOptions(0.1).momentum(0.9)); ... opt.zero_grad();
/// loss.backward(); opt.step();`
class SGD : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  SGD(std::vector<ParamGroup> param_groups, SGDOptions defaults);
  SGD(std::vector<Tensor> params, SGDOptions defaults);
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
