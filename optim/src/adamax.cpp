// Adamax: the update rule is stated in tapegrad/optim/adamax.hpp.
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

std::vector<OptionField> AdamaxOptions::fields() {
  return {{"lr", &lr_}, {"betas", &betas_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
          {"maximize", &maximize_}};
}

Adamax::Adamax(std::vector<ParamGroup> param_groups, AdamaxOptions defaults)
    : Optimizer("Adamax", std::move(param_groups), defaults.clone()) {}
Adamax::Adamax(std::vector<Tensor> params, AdamaxOptions defaults)
    : Adamax(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
template <class T>
void adamax_update(detail::ParamUpdate<T>& p, const AdamaxOptions& o) {
  const auto [beta1, beta2] = o.betas();
  const std::int64_t step = ++p.counter("step");
  T* m = p.buffer("exp_avg");
  T* u = p.buffer("exp_inf");
  const double bias_correction = 1 - std::pow(beta1, static_cast<double>(step));
  const T minus_clr = T(-(o.lr() / bias_correction));
  const T b1 = T(beta1), one_minus_b1 = T(1 - beta1), b2 = T(beta2);
  const T eps = T(o.eps()), weight_decay = T(o.weight_decay());
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if (o.weight_decay() != 0) g = fused(weight_decay, p.x[i], g);
    m[i] = fused(one_minus_b1, g, m[i] * b1);
    u[i] = std::max(u[i] * b2, std::abs(g) + eps);
    p.x[i] = p.x[i] + minus_clr * m[i] / u[i];
  }
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

}  // namespace tg::optim
