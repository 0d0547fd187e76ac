/// \file
/// L-BFGS, as torch.optim.LBFGS (itself a port of minFunc), driven by a closure that re-evaluates
/// the loss and its gradient.
///
/// One step(closure) evaluates f and g = grad f at the current x (flattened over all parameters),
/// returns at once if max|g| <= tolerance_grad, and otherwise runs up to max_iter iterations
/// (k counts iterations over the optimizer's whole life, so later steps continue the history):
/// \code{.unparsed}
///   k = 1:  d = -g, history cleared, H_diag = 1
///   k > 1:  y = g - g_prev, s = t_prev * d_prev; if y.s > 1e-10, append (y, s, 1/y.s) to the
///           history (dropping the oldest beyond history_size) and set H_diag = y.s / y.y;
///           d = -H g by the two-loop recursion over the history with H0 = H_diag * I
///   t = min(1, 1 / |g|_1) * lr at k = 1, else lr;  stop if g.d > -tolerance_change
///   without line search: x <- x + t d, then f, g re-evaluated (except after the last iteration)
///   with line_search_fn = "strong_wolfe": t from a strong-Wolfe search along d (c1 = 1e-4,
///           c2 = 0.9, at most 25 evaluations, cubic interpolation), then x <- x + t d
/// \endcode
/// and stops early when max_eval evaluations were made (max_eval = 0 means max_iter * 5 / 4),
/// max|g| <= tolerance_grad, max|t d| <= tolerance_change or |f - f_prev| < tolerance_change.
/// It returns the loss of the first evaluation.
///
/// Only one parameter group; all parameters share one dtype. Vectors are kept in that dtype,
/// scalars (step length, curvature pairs' 1/y.s, H_diag) in float64. State, registered on the
/// first parameter: "func_evals", "n_iter" (int64), "d", "prev_flat_grad", "old_dirs.<j>",
/// "old_stps.<j>" (flat vectors), "t", "H_diag", "prev_loss", "ro.<j>" (float64 scalars).
#pragma once

#include <string>

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Options of LBFGS, each with a chainable setter and a getter of its name (as libtorch's), with
/// defaults and valid ranges (validate() checks them): lr 1 (>= 0), max_iter 20 (>= 1), max_eval 0
/// (>= 0; 0 means max_iter * 5 / 4), tolerance_grad 1e-7 (>= 0), tolerance_change 1e-9 (>= 0),
/// history_size 100 (>= 1), line_search_fn "" (fixed step lr) or "strong_wolfe".
class LBFGSOptions : public OptimizerCloneableOptions<LBFGSOptions> {
 public:
  /// Options with learning rate lr and the other options at their defaults.
  explicit LBFGSOptions(double lr = 1) : lr_(lr) {}
  /// Throws tg::Error naming the option unless every option is in its range.
  void validate() const override;
  /// The values a string option may take (only line_search_fn has any).
  static std::vector<std::string> choices(const std::string& option);

  /// \cond INTERNAL
  // X(type, name, default) per option: TG_OPTIM_OPTIONS makes its member, setter, getter, fields().
#define TG_LBFGS_OPTIONS(X)                                                        \
  X(double, lr, )                                                                  \
  X(std::int64_t, max_iter, 20)                                                    \
  X(std::int64_t, max_eval, 0) /* 0 means max_iter * 5 / 4 (PyTorch's default). */ \
  X(double, tolerance_grad, 1e-7)                                                  \
  X(double, tolerance_change, 1e-9)                                                \
  X(std::int64_t, history_size, 100)                                               \
  X(std::string, line_search_fn, ) /* "" (fixed step lr) or "strong_wolfe". */
  TG_OPTIM_OPTIONS(TG_LBFGS_OPTIONS)
  /// \endcond
};

/// The L-BFGS optimizer (algorithm in the file comment):
/// \code{.cpp}
/// tg::optim::LBFGS opt(params, LBFGSOptions(1).line_search_fn("strong_wolfe"));
/// opt.step([&] { opt.zero_grad(); Tensor loss = f(); loss.backward(); return loss; });
/// \endcode
class LBFGS : public Optimizer {
 public:
  /// Optimizes the parameters of param_groups (groups without options take `defaults`), or one
  /// group of params. Throws tg::Error for invalid options or parameters (see add_param_group).
  ///@{
  explicit LBFGS(std::vector<ParamGroup> param_groups, LBFGSOptions defaults = LBFGSOptions());
  explicit LBFGS(std::vector<Tensor> params, LBFGSOptions defaults = LBFGSOptions());
  ///@}
  /// Runs the iterations described above; the closure is required.
  Tensor step(const LossClosure& closure) override;

 protected:
  /// The history vectors hold one value per element of all parameters; the rest are counts and
  /// scalars.
  void check_loaded_state(const std::string& prefix, const Tensor& param, const ParamState& state) const override;

 private:
  template <class T>
  Tensor run(const LossClosure& closure);
};

}  // namespace tg::optim
