// Adam and AdamW: the update rules are stated in tapegrad/optim/adam.hpp and adamw.hpp; they
// differ only in where weight decay enters.
#include <cmath>
#include <type_traits>

#include "param_update.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/adamw.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

namespace {
template <class Options>
void validate_adam(const char* name, const Options& o) {
  const auto [beta1, beta2] = o.betas();
  check_option(o.lr() >= 0, name, "learning rate", o.lr(), "must be >= 0");
  check_option(o.eps() >= 0, name, "eps", o.eps(), "must be >= 0");
  check_option(beta1 >= 0 && beta1 < 1, name, "beta1", beta1, "must be in [0, 1)");
  check_option(beta2 >= 0 && beta2 < 1, name, "beta2", beta2, "must be in [0, 1)");
  check_option(o.weight_decay() >= 0, name, "weight_decay", o.weight_decay(), "must be >= 0");
}

/// One Adam step of one parameter; AdamW (decoupled) shrinks x instead of adding to g.
template <class T, class Options>
void adam_update(detail::ParamUpdate<T>& p, const Options& o) {
  constexpr bool decoupled = std::is_same_v<Options, AdamWOptions>;
  const auto [beta1, beta2] = o.betas();
  const std::int64_t step = ++p.counter("step");
  T* m = p.buffer("exp_avg");
  T* v = p.buffer("exp_avg_sq");
  T* vmax = o.amsgrad() ? p.buffer("max_exp_avg_sq") : nullptr;

  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T minus_step_size = T(-(o.lr() / bias_correction1));
  const T bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  const T b1 = T(beta1), one_minus_b1 = T(1 - beta1), b2 = T(beta2), one_minus_b2 = T(1 - beta2);
  const T eps = T(o.eps()), weight_decay = T(o.weight_decay());
  const T decay_factor = T(1 - o.lr() * o.weight_decay());
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if constexpr (decoupled) {
      p.x[i] = p.x[i] * decay_factor;
    } else if (o.weight_decay() != 0) {
      g = fused(weight_decay, p.x[i], g);
    }
    m[i] = fused(one_minus_b1, g, m[i] * b1);
    v[i] = fused(one_minus_b2 * g, g, v[i] * b2);
    T second = v[i];
    if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    p.x[i] = p.x[i] + minus_step_size * m[i] / denom;
  }
}
}  // namespace

void AdamOptions::validate() const { validate_adam("Adam", *this); }
void AdamWOptions::validate() const { validate_adam("AdamW", *this); }

std::vector<OptionField> AdamOptions::fields() {
  return {{"lr", &lr_}, {"betas", &betas_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
          {"amsgrad", &amsgrad_}, {"maximize", &maximize_}};
}
std::vector<OptionField> AdamWOptions::fields() {
  return {{"lr", &lr_}, {"betas", &betas_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
          {"amsgrad", &amsgrad_}, {"maximize", &maximize_}};
}

Adam::Adam(std::vector<ParamGroup> param_groups, AdamOptions defaults)
    : Optimizer("Adam", std::move(param_groups), defaults.clone()) {}
Adam::Adam(std::vector<Tensor> params, AdamOptions defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}
AdamW::AdamW(std::vector<ParamGroup> param_groups, AdamWOptions defaults)
    : Optimizer("AdamW", std::move(param_groups), defaults.clone()) {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions defaults)
    : AdamW(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

Tensor Adam::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<AdamOptions>([](Tensor& param, ParamState& state, const AdamOptions& o) {
    detail::visit_param(param, state, [&](auto& p) { adam_update(p, o); });
  });
  return loss;
}

Tensor AdamW::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<AdamWOptions>(
      [](Tensor& param, ParamState& state, const AdamWOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { adam_update(p, o); });
      });
  return loss;
}

}  // namespace tg::optim
