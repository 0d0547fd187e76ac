/// \file
/// Elementwise ops with NumPy broadcasting. Binary ops require equal dtypes (float32 with float32,
/// float64 with float64); a double scalar takes the tensor's dtype. Gradients of broadcast inputs
/// are summed back to the input's shape.
#pragma once

#include "tapegrad/tensor.hpp"

namespace tg {

/// a + b with broadcasting; the result has the broadcast shape of a and b.
Tensor add(const Tensor& a, const Tensor& b);
/// a - b with broadcasting.
Tensor sub(const Tensor& a, const Tensor& b);
/// a * b with broadcasting: d/da = b, d/db = a.
Tensor mul(const Tensor& a, const Tensor& b);
/// a / b with broadcasting: d/da = 1/b, d/db = -a/b^2.
Tensor div(const Tensor& a, const Tensor& b);
/// a + s for a scalar s (a's shape and dtype).
Tensor add(const Tensor& a, double s);
/// a * s for a scalar s.
Tensor mul(const Tensor& a, double s);
/// s - a for a scalar s.
Tensor rsub(const Tensor& a, double s);
/// s / a for a scalar s: d/da = -s/a^2.
Tensor rdiv(const Tensor& a, double s);
/// a / s for a scalar s.
Tensor div(const Tensor& a, double s);
/// -a
Tensor neg(const Tensor& a);

/// a^p for a scalar exponent: d/da = p a^(p-1).
Tensor pow(const Tensor& a, double exponent);
/// a^b elementwise: d/da = b a^(b-1) (0 where b == 0), d/db = a^b log(a) (0 where a == 0, b >= 0),
/// as PyTorch.
Tensor pow(const Tensor& a, const Tensor& b);
/// s^a for a scalar base s > 0: d/da = s^a log(s).
Tensor pow(double base, const Tensor& a);

/// e^x: d/dx = e^x.
Tensor exp(const Tensor& x);
/// Natural logarithm: d/dx = 1/x (-inf at 0, NaN below).
Tensor log(const Tensor& x);
/// sqrt(x): d/dx = 1 / (2 sqrt(x)).
Tensor sqrt(const Tensor& x);
/// |x|; the gradient is sign(x) (0 at 0, as in PyTorch).
Tensor abs(const Tensor& x);
/// sin(x): d/dx = cos(x).
Tensor sin(const Tensor& x);
/// cos(x): d/dx = -sin(x).
Tensor cos(const Tensor& x);
/// tanh(x): d/dx = 1 - tanh(x)^2.
Tensor tanh(const Tensor& x);
/// erf(x): d/dx = 2/sqrt(pi) exp(-x^2).
Tensor erf(const Tensor& x);
/// 1 / (1 + exp(-x)), evaluated without overflow for |x| large.
Tensor sigmoid(const Tensor& x);
/// max(x, 0) (NaN stays NaN); gradient 1 where x > 0, else 0.
Tensor relu(const Tensor& x);
/// x where x > 0, else slope * x.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// x where x > 0, else alpha (exp(x) - 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
/// log(1 + exp(beta x)) / beta, or x where beta x > threshold (as PyTorch), overflow-free.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
/// x Phi(x) with the exact normal CDF (approximate == "none") or the tanh approximation
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate == "tanh").
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
/// sign(x) in {-1, 0, 1}; not differentiable (gradient 0), returns a tensor without history.
Tensor sign(const Tensor& x);

/// Limits x to [min, max] (use -inf/inf for a missing bound); gradient 1 inside [min, max].
Tensor clamp(const Tensor& x, double min, double max);
/// max(x, min) and min(x, max): clamp with one bound.
///@{
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);
///@}
/// Elementwise max/min with broadcasting; a NaN operand gives NaN; on ties the gradient is split
/// evenly (as PyTorch).
///@{
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
///@}
/// cond ? a : b elementwise, broadcasting all three; cond is a bool tensor, a scalar a or b takes
/// the other operand's dtype. The gradient goes to a where cond holds, to b elsewhere.
///@{
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
///@}

/// Comparisons a > b, a < b, a >= b, a <= b, a == b, a != b, broadcasting (or against a scalar s);
/// bool results without history. Any dtypes: mixed ones are promoted as PyTorch (a floating dtype
/// over int64 over bool; float32 against float64 is refused). Integer and bool values are compared
/// with a scalar in double, floating ones with the scalar converted to their dtype.
///@{
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
///@}
/// Logical and/or/not of bool tensors (broadcasting).
///@{
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
///@}
/// True where x is finite, false where it is NaN or +-Inf (bool, no history).
Tensor isfinite(const Tensor& x);

/// Operators: add, sub, mul, div, neg, rsub and rdiv (with broadcasting, or with a scalar s).
///@{
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator/(double s, const Tensor& a) { return rdiv(a, s); }
///@}
/// Comparison operators (eq, ne, lt, le, gt, ge): bool tensors, as libtorch's; e.g.
/// `(argmax(logits, 1) == labels).sum().item<std::int64_t>()` counts correct predictions.
///@{
inline Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
inline Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
inline Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
inline Tensor operator==(const Tensor& a, double s) { return eq(a, s); }
inline Tensor operator!=(const Tensor& a, double s) { return ne(a, s); }
inline Tensor operator<(const Tensor& a, double s) { return lt(a, s); }
inline Tensor operator<=(const Tensor& a, double s) { return le(a, s); }
inline Tensor operator>(const Tensor& a, double s) { return gt(a, s); }
inline Tensor operator>=(const Tensor& a, double s) { return ge(a, s); }
inline Tensor operator==(double s, const Tensor& a) { return eq(a, s); }
inline Tensor operator!=(double s, const Tensor& a) { return ne(a, s); }
inline Tensor operator<(double s, const Tensor& a) { return gt(a, s); }
inline Tensor operator<=(double s, const Tensor& a) { return ge(a, s); }
inline Tensor operator>(double s, const Tensor& a) { return lt(a, s); }
inline Tensor operator>=(double s, const Tensor& a) { return le(a, s); }
///@}

}  // namespace tg
