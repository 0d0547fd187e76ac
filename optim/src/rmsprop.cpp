// RMSprop: the update rule is stated in tapegrad/optim/rmsprop.hpp.
#include "tapegrad/optim/rmsprop.hpp"

#include <cmath>

#include "param_update.hpp"

namespace tg::optim {

using detail::check_option;
using detail::fused;

void RMSpropOptions::validate() const {
  check_option(lr() >= 0, "RMSprop", "learning rate", lr(), "must be >= 0");
  check_option(alpha() >= 0, "RMSprop", "alpha", alpha(), "must be >= 0");
  check_option(eps() >= 0, "RMSprop", "eps", eps(), "must be >= 0");
  check_option(weight_decay() >= 0, "RMSprop", "weight_decay", weight_decay(), "must be >= 0");
  check_option(momentum() >= 0, "RMSprop", "momentum", momentum(), "must be >= 0");
}

std::vector<OptionField> RMSpropOptions::fields() {
  return {{"lr", &lr_},       {"alpha", &alpha_},       {"eps", &eps_},
          {"weight_decay", &weight_decay_}, {"momentum", &momentum_}, {"centered", &centered_},
          {"maximize", &maximize_}};
}

RMSprop::RMSprop(std::vector<ParamGroup> param_groups, RMSpropOptions defaults)
    : Optimizer("RMSprop", std::move(param_groups), defaults.clone()) {}
RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions defaults)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
template <class T>
void rmsprop_update(detail::ParamUpdate<T>& p, const RMSpropOptions& o) {
  ++p.counter("step");
  T* sq = p.buffer("square_avg");
  T* ga = o.centered() ? p.buffer("grad_avg") : nullptr;
  T* buf = o.momentum() > 0 ? p.buffer("momentum_buffer") : nullptr;
  const T alpha = T(o.alpha()), one_minus_alpha = T(1 - o.alpha()), eps = T(o.eps());
  const T minus_lr = T(-o.lr()), weight_decay = T(o.weight_decay()), momentum = T(o.momentum());
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if (o.weight_decay() != 0) g = fused(weight_decay, p.x[i], g);
    sq[i] = fused(one_minus_alpha * g, g, sq[i] * alpha);
    T avg;
    if (ga) {
      ga[i] = fused(one_minus_alpha, g, ga[i] * alpha);
      avg = std::sqrt(fused(-ga[i], ga[i], sq[i])) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if (buf) {
      buf[i] = buf[i] * momentum + g / avg;
      p.x[i] = fused(minus_lr, buf[i], p.x[i]);
    } else {
      p.x[i] = p.x[i] + minus_lr * g / avg;
    }
  }
}
}  // namespace

Tensor RMSprop::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<RMSpropOptions>(
      [](Tensor& param, ParamState& state, const RMSpropOptions& o) {
        detail::visit_param(param, state, [&](auto& p) { rmsprop_update(p, o); });
      });
  return loss;
}

}  // namespace tg::optim
