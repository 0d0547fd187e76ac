/// \file
/// Adamax (Kingma & Ba, 2015, section 7.1), as torch.optim.Adamax: Adam with an infinity norm.
///
/// Update rule for each parameter x with gradient g, t = 1, 2, ... this parameter's step count,
/// (b1, b2) = betas:
/// \code{.unparsed}
///   g <- -g                                      if maximize
///   g <- g + weight_decay * x                    if weight_decay != 0
///   m <- b1 * m + (1 - b1) * g
///   u <- max(b2 * u, |g| + eps)
///   x <- x - lr / (1 - b1^t) * m / u
/// \endcode
///
/// State: "step" (int64), "exp_avg" (m), "exp_inf" (u), both parameter-shaped, from 0.
#pragma once

#include "tapegrad/optim/adam.hpp"

namespace tg::optim {

/// Options of Adamax, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 2e-3 (>= 0), betas (0.9, 0.999) (each in
/// [0, 1)), eps 1e-8 (>= 0), weight_decay 0 (>= 0), maximize false.
class AdamaxOptions : public OptimizerCloneableOptions<AdamaxOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_ADAMAX_OPTIONS(X)   \
  X(double, lr, )              \
  X(Betas, betas, 0.9, 0.999)  \
  X(double, eps, 1e-8)         \
  X(double, weight_decay, 0)   \
  X(bool, maximize, false)
  TG_OPTIM_OPTIONS(TG_ADAMAX_OPTIONS)
  /// \endcond
};

/// The Adamax optimizer; its update rule is in the file comment.
class Adamax : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit Adamax(std::vector<ParamGroup> param_groups, AdamaxOptions defaults = AdamaxOptions());
  explicit Adamax(std::vector<Tensor> params, AdamaxOptions defaults = AdamaxOptions());
  ///@}
  Tensor step(const LossClosure& closure = nullptr) override;
};

}  // namespace tg::optim
