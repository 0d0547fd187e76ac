// SGD: the update rule is stated in tapegrad/optim/sgd.hpp.
#include "tapegrad/optim/sgd.hpp"

#include "param_update.hpp"

namespace tg::optim {

using detail::fused;

using detail::check_option;

void SGDOptions::validate() const {
  check_option(lr() >= 0, "SGD", "learning rate", lr(), "must be >= 0");
  check_option(momentum() >= 0, "SGD", "momentum", momentum(), "must be >= 0");
  check_option(weight_decay() >= 0, "SGD", "weight_decay", weight_decay(), "must be >= 0");
  if (nesterov() && (momentum() <= 0 || dampening() != 0))
    fail("SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ",
         momentum(), ", dampening ", dampening(), ")");
}

std::vector<OptionField> SGDOptions::fields() {
  return {{"lr", &lr_},           {"momentum", &momentum_}, {"dampening", &dampening_},
          {"weight_decay", &weight_decay_}, {"nesterov", &nesterov_}, {"maximize", &maximize_}};
}

SGD::SGD(std::vector<ParamGroup> param_groups, SGDOptions defaults)
    : Optimizer("SGD", std::move(param_groups), defaults.clone()) {}
SGD::SGD(std::vector<Tensor> params, SGDOptions defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
template <class T>
void sgd_update(detail::ParamUpdate<T>& p, const SGDOptions& o) {
  const T minus_lr = T(-o.lr()), weight_decay = T(o.weight_decay()), momentum = T(o.momentum());
  const T undamped = T(1 - o.dampening());
  const bool first = !p.has("momentum_buffer");
  T* buf = o.momentum() != 0 ? p.buffer("momentum_buffer") : nullptr;
  for (std::size_t i = 0; i < p.n; ++i) {
    T g = o.maximize() ? -p.grad[i] : p.grad[i];
    if (o.weight_decay() != 0) g = fused(weight_decay, p.x[i], g);
    if (buf) {
      buf[i] = first ? g : fused(undamped, g, buf[i] * momentum);
      g = o.nesterov() ? fused(momentum, buf[i], g) : buf[i];
    }
    p.x[i] = fused(minus_lr, g, p.x[i]);
  }
}
}  // namespace

Tensor SGD::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<SGDOptions>([](Tensor& param, ParamState& state, const SGDOptions& o) {
    detail::visit_param(param, state, [&](auto& p) { sgd_update(p, o); });
  });
  return loss;
}

}  // namespace tg::optim
