// NAdam: the update rule (and which PyTorch version it follows) is in tapegrad/optim/nadam.hpp.
#include "options.hpp"
#include "tapegrad/optim/nadam.hpp"

#include <cmath>

#include "param_update.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

void NAdamOptions::validate() const {
  const auto [beta1, beta2] = betas();
  check_option(lr() >= 0, "NAdam", "learning rate", lr(), "must be >= 0");
  check_option(eps() >= 0, "NAdam", "eps", eps(), "must be >= 0");
  check_option(beta1 >= 0 && beta1 < 1, "NAdam", "beta1", beta1, "must be in [0, 1)");
  check_option(beta2 >= 0 && beta2 < 1, "NAdam", "beta2", beta2, "must be in [0, 1)");
  check_option(weight_decay() >= 0, "NAdam", "weight_decay", weight_decay(), "must be >= 0");
  check_option(momentum_decay() >= 0, "NAdam", "momentum_decay", momentum_decay(),
               "must be >= 0");
}

NAdam::NAdam(std::vector<ParamGroup> param_groups, NAdamOptions defaults)
    : Optimizer("NAdam", std::move(param_groups), defaults.clone()) {}
NAdam::NAdam(std::vector<Tensor> params, NAdamOptions defaults)
    : NAdam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What NAdam's element loop reads (plain arrays and constants, so it vectorises).
template <class T>
struct NAdamLoop {
  T* x;
  const T* grad;
  T* m;
  T* v;
  T grad_coef, momentum_coef, b1, one_minus_b1, b2, one_minus_b2, eps, weight_decay, bc2;
  T decay_factor;
  bool maximize, decoupled, coupled_decay;
};

/// NAdam's element loop; the two kinds of weight decay are template parameters because selects
/// on them keep GCC 12 from vectorising.
template <bool decoupled, bool coupled_decay, class T>
TG_VECTORIZE void nadam_elements(NAdamLoop<T> a, std::size_t begin, std::size_t end) {
  const T sign = a.maximize ? T(-1) : T(1);  // g * -1 is exactly -g; a select would not vectorise
  for (std::size_t i = begin; i < end; ++i) {
    T g = sign * a.grad[i];
    T x = a.x[i];
    if constexpr (decoupled) x = x * a.decay_factor;
    if constexpr (coupled_decay) g = fused(a.weight_decay, x, g);
    a.m[i] = fused(a.one_minus_b1, g, a.m[i] * a.b1);
    a.v[i] = fused(a.one_minus_b2 * g, g, a.v[i] * a.b2);
    const T denom = std::sqrt(a.v[i] / a.bc2) + a.eps;
    x = x + a.grad_coef * g / denom;
    a.x[i] = x + a.momentum_coef * a.m[i] / denom;
  }
}

template <class T>
void nadam_update(detail::ParamUpdate<T>& p, const NAdamOptions& o) {
  const auto [beta1, beta2] = o.betas();
  const double t = static_cast<double>(++p.counter("step"));
  double& mu_product = p.scalar("mu_product", 1.0);
  NAdamLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.m = p.buffer("exp_avg");
  a.v = p.buffer("exp_avg_sq");

  const double bias_correction2 = 1 - std::pow(beta2, t);
  const double mu = beta1 * (1 - 0.5 * std::pow(0.96, t * o.momentum_decay()));
  const double mu_next = beta1 * (1 - 0.5 * std::pow(0.96, (t + 1) * o.momentum_decay()));
  mu_product *= mu;
  const double mu_product_next = mu_product * mu_next;
  a.grad_coef = T(-o.lr() * (1 - mu) / (1 - mu_product));
  a.momentum_coef = T(-o.lr() * mu_next / (1 - mu_product_next));

  a.b1 = T(beta1), a.one_minus_b1 = T(1 - beta1), a.b2 = T(beta2), a.one_minus_b2 = T(1 - beta2);
  a.eps = T(o.eps()), a.weight_decay = T(o.weight_decay()), a.bc2 = T(bias_correction2);
  a.decay_factor = T(1 - o.lr() * o.weight_decay());
  a.maximize = o.maximize(), a.decoupled = o.decoupled_weight_decay();
  a.coupled_decay = !a.decoupled && o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) {
    if (a.decoupled) nadam_elements<true, false>(a, begin, end);
    else if (a.coupled_decay) nadam_elements<false, true>(a, begin, end);
    else nadam_elements<false, false>(a, begin, end);
  });
}
}  // namespace

Tensor NAdam::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<NAdamOptions>(
      [](Tensor& param, ParamState& state, const NAdamOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { nadam_update(p, o); });
      });
  return loss;
}

TG_OPTIM_DEFINE_OPTIONS(NAdamOptions, TG_NADAM_OPTIONS)

}  // namespace tg::optim
