// Adadelta: the update rule is stated in tapegrad/optim/adadelta.hpp.
#include "options.hpp"
#include "tapegrad/optim/adadelta.hpp"

#include <cmath>

#include "param_update.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

void AdadeltaOptions::validate() const {
  check_option(lr() >= 0, "Adadelta", "learning rate", lr(), "must be >= 0");
  check_option(rho() >= 0 && rho() <= 1, "Adadelta", "rho", rho(), "must be in [0, 1]");
  check_option(eps() >= 0, "Adadelta", "eps", eps(), "must be >= 0");
  check_option(weight_decay() >= 0, "Adadelta", "weight_decay", weight_decay(), "must be >= 0");
}

Adadelta::Adadelta(std::vector<ParamGroup> param_groups, AdadeltaOptions defaults)
    : Optimizer("Adadelta", std::move(param_groups), defaults.clone()) {}
Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions defaults)
    : Adadelta(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What Adadelta's element loop reads (plain arrays and constants, so it vectorises).
template <class T>
struct AdadeltaLoop {
  T* x;
  const T* grad;
  T* sq;
  T* acc;
  T rho, one_minus_rho, eps, minus_lr, weight_decay;
  bool maximize, decay;
};

/// Adadelta's element loop; decay is a template parameter because a select on it keeps GCC 12
/// from vectorising.
template <bool decay, class T>
TG_VECTORIZE void adadelta_elements(AdadeltaLoop<T> a, std::size_t begin, std::size_t end) {
  const T sign = a.maximize ? T(-1) : T(1);  // g * -1 is exactly -g; a select would not vectorise
  for (std::size_t i = begin; i < end; ++i) {
    T g = sign * a.grad[i];
    if constexpr (decay) g = fused(a.weight_decay, a.x[i], g);
    a.sq[i] = fused(a.one_minus_rho * g, g, a.sq[i] * a.rho);
    const T delta = std::sqrt(a.acc[i] + a.eps) / std::sqrt(a.sq[i] + a.eps) * g;
    a.acc[i] = fused(a.one_minus_rho * delta, delta, a.acc[i] * a.rho);
    a.x[i] = fused(a.minus_lr, delta, a.x[i]);
  }
}

template <class T>
void adadelta_update(detail::ParamUpdate<T>& p, const AdadeltaOptions& o) {
  ++p.counter("step");
  AdadeltaLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.sq = p.buffer("square_avg");
  a.acc = p.buffer("acc_delta");
  a.rho = T(o.rho()), a.one_minus_rho = T(1 - o.rho()), a.eps = T(o.eps());
  a.minus_lr = T(-o.lr()), a.weight_decay = T(o.weight_decay());
  a.maximize = o.maximize(), a.decay = o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) {
    if (a.decay) adadelta_elements<true>(a, begin, end);
    else adadelta_elements<false>(a, begin, end);
  });
}
}  // namespace

Tensor Adadelta::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<AdadeltaOptions>(
      [](Tensor& param, ParamState& state, const AdadeltaOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { adadelta_update(p, o); });
      });
  return loss;
}

TG_OPTIM_DEFINE_OPTIONS(AdadeltaOptions, TG_ADADELTA_OPTIONS)

}  // namespace tg::optim
