// SGD: the update rule is stated in tapegrad/optim/sgd.hpp.
#include "options.hpp"
#include "tapegrad/optim/sgd.hpp"

#include "param_update.hpp"

namespace tg::optim {

using detail::fused;

using detail::check_option;

void SGDOptions::validate() const {
  check_option(lr() >= 0, "SGD", "learning rate", lr(), "must be >= 0");
  check_option(momentum() >= 0, "SGD", "momentum", momentum(), "must be >= 0");
  check_option(weight_decay() >= 0, "SGD", "weight_decay", weight_decay(), "must be >= 0");
  check_option(true, "SGD", "dampening", dampening(), "any value");
  if (nesterov() && (momentum() <= 0 || dampening() != 0))
    fail("SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ",
         momentum(), ", dampening ", dampening(), ")");
}

SGD::SGD(std::vector<ParamGroup> param_groups, SGDOptions defaults)
    : Optimizer("SGD", std::move(param_groups), defaults.clone()) {}
SGD::SGD(std::vector<Tensor> params, SGDOptions defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What SGD's element loop reads, computed once per parameter by sgd_update.
template <class T>
struct SGDLoop {
  T* x;
  const T* grad;
  T* buf;  // the momentum buffer, when momentum != 0
  T minus_lr, weight_decay, momentum, undamped;
  bool maximize, decay, first, nesterov;
};

/// SGD's element loop. It gets plain arrays (and throws nothing) so that it vectorises;
/// has_momentum is a template parameter because the conditional store into the momentum
/// buffer would keep it from vectorising.
template <bool has_momentum, class T>
TG_VECTORIZE void sgd_elements(SGDLoop<T> s, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    T g = s.maximize ? -s.grad[i] : s.grad[i];
    if (s.decay) g = fused(s.weight_decay, s.x[i], g);
    if constexpr (has_momentum) {
      s.buf[i] = s.first ? g : fused(s.undamped, g, s.buf[i] * s.momentum);
      g = s.nesterov ? fused(s.momentum, s.buf[i], g) : s.buf[i];
    }
    s.x[i] = fused(s.minus_lr, g, s.x[i]);
  }
}

template <class T>
void sgd_update(detail::ParamUpdate<T>& p, const SGDOptions& o) {
  SGDLoop<T> s{};
  s.x = p.x;
  s.grad = p.grad;
  s.first = !p.has("momentum_buffer");
  s.buf = o.momentum() != 0 ? p.buffer("momentum_buffer") : nullptr;
  s.minus_lr = T(-o.lr()), s.weight_decay = T(o.weight_decay()), s.momentum = T(o.momentum());
  s.undamped = T(1 - o.dampening());
  s.maximize = o.maximize(), s.decay = o.weight_decay() != 0, s.nesterov = o.nesterov();
  detail::for_elements(p.n, [&s](std::size_t begin, std::size_t end) {
    if (s.buf) sgd_elements<true>(s, begin, end);
    else sgd_elements<false>(s, begin, end);
  });
}
}  // namespace

Tensor SGD::step(const LossClosure& closure) {
  Tensor loss = evaluate(closure);
  for_each_param_with_grad<SGDOptions>([](Tensor& param, ParamState& state, const SGDOptions& o) {
    detail::visit_param(param, state, [&](auto& p) { sgd_update(p, o); });
  });
  return loss;
}

TG_OPTIM_DEFINE_OPTIONS(SGDOptions, TG_SGD_OPTIONS)

}  // namespace tg::optim
