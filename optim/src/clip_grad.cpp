// Gradient clipping by global norm and by value.
#include "tapegrad/optim/clip_grad.hpp"
#include "tapegrad/xtensor.hpp"

#include <algorithm>
#include <cmath>

namespace tg::optim {

namespace {
/// Calls f(values) on each defined gradient of parameters, with values its float/double array.
template <class F>
void for_each_grad(const std::vector<Tensor>& parameters, F&& f) {
  for (const Tensor& p : parameters) {
    const Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    if (g.dtype() == kFloat64) f(g.value<double>());
    else f(g.value<float>());
  }
}

/// Replaces each gradient with op(element), computed in the gradient's dtype.
template <class Op>
void transform_grads(const std::vector<Tensor>& parameters, Op op) {
  for (const Tensor& p : parameters) {
    const Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    Tensor param = p;
    if (g.dtype() == kFloat64) {
      xt::xarray<double> v = g.value<double>();
      for (double& e : v) e = op(e);
      param.set_grad(Tensor(std::move(v)));
    } else {
      xt::xarray<float> v = g.value<float>();
      for (float& e : v) e = op(e);
      param.set_grad(Tensor(std::move(v)));
    }
  }
}
}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  if (!(norm_type > 0))
    fail("clip_grad_norm_: norm_type must be > 0 (or infinity), got ", norm_type);
  bool any = false;
  double total = 0;
  const bool inf_norm = std::isinf(norm_type);
  for_each_grad(parameters, [&](const auto& g) {
    any = true;
    for (auto e : g) {
      const double a = std::abs(static_cast<double>(e));
      if (inf_norm) total = std::isnan(a) ? a : std::max(total, a);
      else total += norm_type == 2.0 ? a * a : std::pow(a, norm_type);
    }
  });
  if (!any) return 0.0;
  if (!inf_norm) total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    fail("clip_grad_norm_: the total norm of order ", norm_type, " of the gradients is ", total,
         ", so they cannot be clipped (pass error_if_nonfinite = false to scale them anyway)");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1 || std::isnan(coef)) {
    transform_grads(parameters, [coef](auto e) {
      return static_cast<decltype(e)>(e * static_cast<decltype(e)>(coef));
    });
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  if (!(clip_value >= 0)) fail("clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  transform_grads(parameters, [clip_value](auto e) {
    using T = decltype(e);
    return std::clamp(e, static_cast<T>(-clip_value), static_cast<T>(clip_value));
  });
}

}  // namespace tg::optim
