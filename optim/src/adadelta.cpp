// Adadelta: the update rule is stated in tapegrad/optim/adadelta.hpp.
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

std::vector<OptionField> AdadeltaOptions::fields() {
  return {{"lr", &lr_}, {"rho", &rho_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
          {"maximize", &maximize_}};
}

Adadelta::Adadelta(std::vector<ParamGroup> param_groups, AdadeltaOptions defaults)
    : Optimizer("Adadelta", std::move(param_groups), defaults.clone()) {}
Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions defaults)
    : Adadelta(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
template <class T>
void adadelta_update(detail::ParamUpdate<T>& p, const AdadeltaOptions& o) {
  ++p.counter("step");
  T* sq = p.buffer("square_avg");
  T* acc = p.buffer("acc_delta");
  const T rho = T(o.rho()), one_minus_rho = T(1 - o.rho()), eps = T(o.eps());
  const T minus_lr = T(-o.lr()), weight_decay = T(o.weight_decay());
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if (o.weight_decay() != 0) g = fused(weight_decay, p.x[i], g);
    sq[i] = fused(one_minus_rho * g, g, sq[i] * rho);
    const T delta = std::sqrt(acc[i] + eps) / std::sqrt(sq[i] + eps) * g;
    acc[i] = fused(one_minus_rho * delta, delta, acc[i] * rho);
    p.x[i] = fused(minus_lr, delta, p.x[i]);
  }
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

}  // namespace tg::optim
