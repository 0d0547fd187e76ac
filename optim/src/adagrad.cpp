// Adagrad: the update rule is stated in tapegrad/optim/adagrad.hpp.
#include "options.hpp"
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

Adagrad::Adagrad(std::vector<ParamGroup> param_groups, AdagradOptions defaults)
    : Optimizer("Adagrad", std::move(param_groups), defaults.clone()) {}
Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions defaults)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What Adagrad's element loop reads (plain arrays and constants, so it vectorises).
template <class T>
struct AdagradLoop {
  T* x;
  const T* grad;
  T* sum;
  T minus_clr, weight_decay, eps;
  bool maximize, decay;
};

template <class T>
TG_VECTORIZE void adagrad_elements(AdagradLoop<T> a, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    T g = a.maximize ? -a.grad[i] : a.grad[i];
    if (a.decay) g = fused(a.weight_decay, a.x[i], g);
    a.sum[i] = fused(g, g, a.sum[i]);
    a.x[i] = a.x[i] + a.minus_clr * g / (std::sqrt(a.sum[i]) + a.eps);
  }
}

template <class T>
void adagrad_update(detail::ParamUpdate<T>& p, const AdagradOptions& o) {
  const std::int64_t step = ++p.counter("step");
  const double clr = o.lr() / (1 + static_cast<double>(step - 1) * o.lr_decay());
  AdagradLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.sum = p.buffer("sum", o.initial_accumulator_value());
  a.minus_clr = T(-clr), a.weight_decay = T(o.weight_decay()), a.eps = T(o.eps());
  a.maximize = o.maximize(), a.decay = o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) { adagrad_elements(a, begin, end); });
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

TG_OPTIM_DEFINE_OPTIONS(AdagradOptions, TG_ADAGRAD_OPTIONS)

}  // namespace tg::optim
