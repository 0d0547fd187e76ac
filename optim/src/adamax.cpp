// Adamax: the update rule is stated in tapegrad/optim/adamax.hpp.
#include "options.hpp"
#include "tapegrad/optim/adamax.hpp"

#include <algorithm>
#include <cmath>

#include "param_update.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

void AdamaxOptions::validate() const {
  const auto [beta1, beta2] = betas();
  check_option(lr() >= 0, "Adamax", "learning rate", lr(), "must be >= 0");
  check_option(eps() >= 0, "Adamax", "eps", eps(), "must be >= 0");
  check_option(beta1 >= 0 && beta1 < 1, "Adamax", "beta1", beta1, "must be in [0, 1)");
  check_option(beta2 >= 0 && beta2 < 1, "Adamax", "beta2", beta2, "must be in [0, 1)");
  check_option(weight_decay() >= 0, "Adamax", "weight_decay", weight_decay(), "must be >= 0");
}

Adamax::Adamax(std::vector<ParamGroup> param_groups, AdamaxOptions defaults)
    : Optimizer("Adamax", std::move(param_groups), defaults.clone()) {}
Adamax::Adamax(std::vector<Tensor> params, AdamaxOptions defaults)
    : Adamax(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What Adamax's element loop reads (plain arrays and constants, so it vectorises).
template <class T>
struct AdamaxLoop {
  T* x;
  const T* grad;
  T* m;
  T* u;
  T minus_clr, b1, one_minus_b1, b2, eps, weight_decay;
  bool maximize, decay;
};

template <class T>
TG_VECTORIZE void adamax_elements(AdamaxLoop<T> a, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    T g = a.maximize ? -a.grad[i] : a.grad[i];
    if (a.decay) g = fused(a.weight_decay, a.x[i], g);
    a.m[i] = fused(a.one_minus_b1, g, a.m[i] * a.b1);
    a.u[i] = std::max(a.u[i] * a.b2, std::abs(g) + a.eps);
    a.x[i] = a.x[i] + a.minus_clr * a.m[i] / a.u[i];
  }
}

template <class T>
void adamax_update(detail::ParamUpdate<T>& p, const AdamaxOptions& o) {
  const auto [beta1, beta2] = o.betas();
  const std::int64_t step = ++p.counter("step");
  const double bias_correction = 1 - std::pow(beta1, static_cast<double>(step));
  AdamaxLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.m = p.buffer("exp_avg");
  a.u = p.buffer("exp_inf");
  a.minus_clr = T(-(o.lr() / bias_correction));
  a.b1 = T(beta1), a.one_minus_b1 = T(1 - beta1), a.b2 = T(beta2);
  a.eps = T(o.eps()), a.weight_decay = T(o.weight_decay());
  a.maximize = o.maximize(), a.decay = o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) { adamax_elements(a, begin, end); });
}
}  // namespace

Tensor Adamax::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<AdamaxOptions>(
      [](Tensor& param, ParamState& state, const AdamaxOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { adamax_update(p, o); });
      });
  return loss;
}

TG_OPTIM_DEFINE_OPTIONS(AdamaxOptions, TG_ADAMAX_OPTIONS)

}  // namespace tg::optim
