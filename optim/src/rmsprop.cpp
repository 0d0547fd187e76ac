// RMSprop: the update rule is stated in tapegrad/optim/rmsprop.hpp.
#include "options.hpp"
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

RMSprop::RMSprop(std::vector<ParamGroup> param_groups, RMSpropOptions defaults)
    : Optimizer("RMSprop", std::move(param_groups), defaults.clone()) {}
RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions defaults)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

namespace {
/// What RMSprop's element loop reads (plain arrays and constants, so it vectorises).
template <class T>
struct RMSpropLoop {
  T* x;
  const T* grad;
  T* sq;
  T* ga;   // centered only
  T* buf;  // momentum > 0 only
  T alpha, one_minus_alpha, eps, minus_lr, weight_decay, momentum;
  bool maximize, decay;
};

/// RMSprop's element loop; centered, has_momentum and decay are template parameters because
/// conditional stores into their buffers, or selects, would keep GCC 12 from vectorising it.
template <bool centered, bool has_momentum, bool decay, class T>
TG_VECTORIZE void rmsprop_elements(RMSpropLoop<T> a, std::size_t begin, std::size_t end) {
  const T sign = a.maximize ? T(-1) : T(1);  // g * -1 is exactly -g; a select would not vectorise
  for (std::size_t i = begin; i < end; ++i) {
    T g = sign * a.grad[i];
    if constexpr (decay) g = fused(a.weight_decay, a.x[i], g);
    a.sq[i] = fused(a.one_minus_alpha * g, g, a.sq[i] * a.alpha);
    T avg;
    if constexpr (centered) {
      a.ga[i] = fused(a.one_minus_alpha, g, a.ga[i] * a.alpha);
      avg = std::sqrt(fused(-a.ga[i], a.ga[i], a.sq[i])) + a.eps;
    } else {
      avg = std::sqrt(a.sq[i]) + a.eps;
    }
    if constexpr (has_momentum) {
      a.buf[i] = a.buf[i] * a.momentum + g / avg;
      a.x[i] = fused(a.minus_lr, a.buf[i], a.x[i]);
    } else {
      a.x[i] = a.x[i] + a.minus_lr * g / avg;
    }
  }
}

/// rmsprop_elements with decay chosen at run time.
template <bool centered, bool has_momentum, class T>
void rmsprop_range(const RMSpropLoop<T>& a, std::size_t begin, std::size_t end) {
  if (a.decay) rmsprop_elements<centered, has_momentum, true>(a, begin, end);
  else rmsprop_elements<centered, has_momentum, false>(a, begin, end);
}

template <class T>
void rmsprop_update(detail::ParamUpdate<T>& p, const RMSpropOptions& o) {
  ++p.counter("step");
  RMSpropLoop<T> a{};
  a.x = p.x;
  a.grad = p.grad;
  a.sq = p.buffer("square_avg");
  a.ga = o.centered() ? p.buffer("grad_avg") : nullptr;
  a.buf = o.momentum() > 0 ? p.buffer("momentum_buffer") : nullptr;
  a.alpha = T(o.alpha()), a.one_minus_alpha = T(1 - o.alpha()), a.eps = T(o.eps());
  a.minus_lr = T(-o.lr()), a.weight_decay = T(o.weight_decay()), a.momentum = T(o.momentum());
  a.maximize = o.maximize(), a.decay = o.weight_decay() != 0;
  detail::for_elements(p.n, [&a](std::size_t begin, std::size_t end) {
    if (a.ga) {
      if (a.buf) rmsprop_range<true, true>(a, begin, end);
      else rmsprop_range<true, false>(a, begin, end);
    } else {
      if (a.buf) rmsprop_range<false, true>(a, begin, end);
      else rmsprop_range<false, false>(a, begin, end);
    }
  });
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

TG_OPTIM_DEFINE_OPTIONS(RMSpropOptions, TG_RMSPROP_OPTIONS)

}  // namespace tg::optim
