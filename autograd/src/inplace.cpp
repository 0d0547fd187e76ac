// In-place ops (Tensor::add_, mul_, clamp_, fill_, +=, ...): each computes its result out of
// place with the differentiable ops, then writes it into the tensor (tape.hpp: inplace_source,
// commit_inplace), so its backward and JVP are those of the out-of-place op.
#include <limits>

#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/ops/elementwise.hpp"

namespace tg {

namespace {

std::string describe(const Tensor& t) { return to_string(t.dtype()) + to_string(t.shape()); }

/// Writes compute(self) into self. compute reads self only through its argument: a stand-in
/// holding self's values before the write when the write is recorded or carries a tangent.
template <class F>
Tensor& apply_inplace(const char* op, Tensor& self, const Tensor* other, F compute) {
  detail::require_defined(op, self);
  if (is_grad_enabled() && self.is_leaf() && self.requires_grad())
    fail(op, ": a leaf Variable that requires grad is being used in an in-place operation (", describe(self),
         "); write to it under tg::NoGradGuard, or to a clone()");
  const Tensor inputs[2] = {self, other ? *other : Tensor()};
  const bool tangents =
      detail::forward_ad_possible() && (detail::has_live_tangent(self) || (other && detail::has_live_tangent(*other)));
  if (!tangents && !detail::should_record(inputs, 2)) {
    detail::commit_inplace(op, self, Tensor(), compute(self));
    return self;
  }
  const Tensor source = detail::inplace_source(op, self);
  detail::commit_inplace(op, self, source, compute(source));
  return self;
}

/// self op= other: `other` is checked under op's name, and stands for self's earlier values
/// when it is self (x += x).
template <class F>
Tensor& binary_inplace(const char* op, Tensor& self, const Tensor& other, F f) {
  detail::require_defined(op, self);
  detail::require_defined(op, other);
  if (!self.is_floating_point() || other.dtype() != self.dtype())
    fail(op, ": expects floating tensors of one dtype, got ", describe(self), " and ", describe(other));
  return apply_inplace(op, self, &other, [&](const Tensor& s) { return f(s, other.is_same(self) ? s : other); });
}

template <class F>
Tensor& scalar_inplace(const char* op, Tensor& self, F f) {
  detail::require_defined(op, self);
  if (!self.is_floating_point()) fail(op, ": expects a floating tensor, got ", describe(self));
  return apply_inplace(op, self, nullptr, f);
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return binary_inplace("add_", *this, other,
                        [alpha](const Tensor& s, const Tensor& o) { return alpha == 1.0 ? s + o : s + o * alpha; });
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  return binary_inplace("sub_", *this, other,
                        [alpha](const Tensor& s, const Tensor& o) { return alpha == 1.0 ? s - o : s - o * alpha; });
}
Tensor& Tensor::mul_(const Tensor& other) {
  return binary_inplace("mul_", *this, other, [](const Tensor& s, const Tensor& o) { return s * o; });
}
Tensor& Tensor::div_(const Tensor& other) {
  return binary_inplace("div_", *this, other, [](const Tensor& s, const Tensor& o) { return s / o; });
}
Tensor& Tensor::add_(double v) {
  return scalar_inplace("add_", *this, [v](const Tensor& s) { return s + v; });
}
Tensor& Tensor::sub_(double v) {
  return scalar_inplace("sub_", *this, [v](const Tensor& s) { return s - v; });
}
Tensor& Tensor::mul_(double v) {
  return scalar_inplace("mul_", *this, [v](const Tensor& s) { return s * v; });
}
Tensor& Tensor::div_(double v) {
  return scalar_inplace("div_", *this, [v](const Tensor& s) { return s / v; });
}

Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  if (!min && !max) fail("clamp_: at least one of min and max must be given");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double lo = min.value_or(-kInf), hi = max.value_or(kInf);
  if (lo > hi) fail("clamp_: min ", lo, " is greater than max ", hi);
  return scalar_inplace("clamp_", *this, [lo, hi](const Tensor& s) { return tg::clamp(s, lo, hi); });
}
Tensor& Tensor::clamp_min_(double min) { return clamp_(min, std::nullopt); }
Tensor& Tensor::clamp_max_(double max) { return clamp_(std::nullopt, max); }

Tensor& Tensor::fill_(double value) {
  return apply_inplace("fill_", *this, nullptr, [value](const Tensor& s) {
    // Recorded when s is in a graph, with a zero gradient: the tensor stays in the graph (it
    // still requires grad, as in PyTorch) and its earlier history gets nothing.
    Tensor out = full_like(s, value);
    if (!s.is_floating_point()) return out;
    return record(
        "fill_", std::move(out), {s}, kSaveNone, [](BackwardContext&) {}, [](const JvpContext&) { return Tensor(); });
  });
}
Tensor& Tensor::zero_() { return fill_(0.0); }

}  // namespace tg
