// Adam and AdamW: the update rules are stated in tapegrad/optim/adam.hpp and adamw.hpp; they
// differ only in where weight decay enters.
#include <cmath>
#include <type_traits>

#include "options.hpp"
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

/// What Adam's element loop reads, computed once per parameter by adam_update.
template <class T>
struct AdamLoop {
  T* x;
  const T* grad;
  T* m;
  T* v;
  T* vmax;  // amsgrad only
  T b1, one_minus_b1, b2, one_minus_b2, eps, weight_decay, decay_factor;
  T minus_step_size, bias_correction2_sqrt;
  bool maximize, coupled_decay;
};

/// Adam's element loop. It gets plain arrays (and throws nothing) so that it vectorises;
/// amsgrad and the kind of weight decay are template parameters because a conditional store or
/// a select would keep GCC 12 from vectorising it.
template <bool decoupled, bool coupled_decay, bool amsgrad, class T>
TG_VECTORIZE void adam_elements(AdamLoop<T> a, std::size_t begin, std::size_t end) {
  const T sign = a.maximize ? T(-1) : T(1);  // g * -1 is exactly -g; a select would not vectorise
  for (std::size_t i = begin; i < end; ++i) {
    T g = sign * a.grad[i];
    if constexpr (decoupled) a.x[i] = a.x[i] * a.decay_factor;
    if constexpr (coupled_decay) g = fused(a.weight_decay, a.x[i], g);
    a.m[i] = fused(a.one_minus_b1, g, a.m[i] * a.b1);
    a.v[i] = fused(a.one_minus_b2 * g, g, a.v[i] * a.b2);
    T second = a.v[i];
    if constexpr (amsgrad) second = a.vmax[i] = std::max(a.vmax[i], a.v[i]);
    const T denom = std::sqrt(second) / a.bias_correction2_sqrt + a.eps;
    a.x[i] = a.x[i] + a.minus_step_size * a.m[i] / denom;
  }
}

/// One Adam step of one parameter; AdamW (decoupled) shrinks x instead of adding to g.
template <class T, class Options>
void adam_update(detail::ParamUpdate<T>& p, const Options& o) {
  constexpr bool decoupled = std::is_same_v<Options, AdamWOptions>;
  const auto [beta1, beta2] = o.betas();
  const std::int64_t step = ++p.counter("step");
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  AdamLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.m = p.buffer("exp_avg");
  a.v = p.buffer("exp_avg_sq");
  a.vmax = o.amsgrad() ? p.buffer("max_exp_avg_sq") : nullptr;
  a.b1 = T(beta1), a.one_minus_b1 = T(1 - beta1), a.b2 = T(beta2), a.one_minus_b2 = T(1 - beta2);
  a.eps = T(o.eps()), a.weight_decay = T(o.weight_decay());
  a.decay_factor = T(1 - o.lr() * o.weight_decay());
  a.minus_step_size = T(-(o.lr() / bias_correction1));
  a.bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  a.maximize = o.maximize(), a.coupled_decay = !decoupled && o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) {
    if (a.vmax) {
      if (a.coupled_decay) adam_elements<decoupled, true, true>(a, begin, end);
      else adam_elements<decoupled, false, true>(a, begin, end);
    } else {
      if (a.coupled_decay) adam_elements<decoupled, true, false>(a, begin, end);
      else adam_elements<decoupled, false, false>(a, begin, end);
    }
  });
}
}  // namespace

void AdamOptions::validate() const { validate_adam("Adam", *this); }
void AdamWOptions::validate() const { validate_adam("AdamW", *this); }

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

TG_OPTIM_DEFINE_OPTIONS(AdamOptions, TG_ADAM_OPTIONS)

TG_OPTIM_DEFINE_OPTIONS(AdamWOptions, TG_ADAMW_OPTIONS)

}  // namespace tg::optim
