// Adagrad: the update rule is stated in tapegrad/optim/adagrad.hpp.
#include "tapegrad/optim/adagrad.hpp"

#include <cmath>

#include "param_update.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

void AdagradOptions::validate() const {
  check_option(lr() >= 0, "Adagrad", "learning rate", lr(), "must be >= 0");
  check_option(lr_decay() >= 0, "Adagrad", "lr_decay", lr_decay(), "must be >= 0");
  check_option(weight_decay() >= 0, "Adagrad", "weight_decay", weight_decay(), "must be >= 0");
  check_option(initial_accumulator_value() >= 0, "Adagrad", "initial_accumulator_value",
               initial_accumulator_value(), "must be >= 0");
  check_option(eps() >= 0, "Adagrad", "eps", eps(), "must be >= 0");
}

std::vector<OptionField> AdagradOptions::fields() {
  return {{"lr", &lr_},
          {"lr_decay", &lr_decay_},
          {"weight_decay", &weight_decay_},
          {"initial_accumulator_value", &initial_accumulator_value_},
          {"eps", &eps_},
          {"maximize", &maximize_}};
}

Adagrad::Adagrad(std::vector<ParamGroup> param_groups, AdagradOptions defaults)
    : Optimizer("Adagrad", std::move(param_groups), defaults.clone()) {}
Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions defaults)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
template <class T>
void adagrad_update(detail::ParamUpdate<T>& p, const AdagradOptions& o) {
  const std::int64_t step = ++p.counter("step");
  T* sum = p.buffer("sum", o.initial_accumulator_value());
  const double clr = o.lr() / (1 + static_cast<double>(step - 1) * o.lr_decay());
  const T minus_clr = T(-clr), weight_decay = T(o.weight_decay()), eps = T(o.eps());
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if (o.weight_decay() != 0) g = fused(weight_decay, p.x[i], g);
    sum[i] = fused(g, g, sum[i]);
    p.x[i] = p.x[i] + minus_clr * g / (std::sqrt(sum[i]) + eps);
  }
}
}  // namespace

Tensor Adagrad::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<AdagradOptions>(
      [](Tensor& param, ParamState& state, const AdagradOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { adagrad_update(p, o); });
      });
  return loss;
}

}  // namespace tg::optim
