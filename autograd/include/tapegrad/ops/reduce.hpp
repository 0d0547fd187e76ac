/// \file
/// Reductions over all elements or over given axes (negative axes count from the end), with
/// keepdim; softmax and friends along one axis. Reducing a zero-size tensor follows NumPy where it
/// has an answer (sum 0, prod 1) and raises tg::Error where it has none (max, min, mean of nothing).
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// An empty axes list means "all axes".
using Axes = std::vector<int>;

/// Sum over axes (all by default); keepdim keeps reduced axes with extent 1, else they are removed.
/// An int64 or bool x gives an int64 sum without history (as PyTorch; int64 wraps on overflow).
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// sum and mean over one axis: sum(x, 1) is sum(x, {1}) (an integer type, so that a braced
/// list still means a list of axes).
///@{
template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
Tensor sum(const Tensor& x, I axis, bool keepdim = false) {
  return sum(x, Axes{static_cast<int>(axis)}, keepdim);
}
template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
Tensor mean(const Tensor& x, I axis, bool keepdim = false);
///@}
/// Mean over axes (all by default): sum / count. tg::Error for zero elements, and for int64 and
/// bool x (as PyTorch: convert to a floating dtype first).
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
template <class I, std::enable_if_t<std::is_integral_v<I>, int>>
Tensor mean(const Tensor& x, I axis, bool keepdim) {
  return mean(x, Axes{static_cast<int>(axis)}, keepdim);
}
/// Number of non-zero (true) elements over axes (all by default), as int64; any dtype, no history.
Tensor count_nonzero(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Product; the gradient is the product of the other elements (correct with zeros too).
Tensor prod(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Variance and standard deviation: sum((x - mean)^2) / (n - 1) when unbiased (default), else / n.
///@{
Tensor var(const Tensor& x, const Axes& axes = {}, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& x, const Axes& axes = {}, bool unbiased = true, bool keepdim = false);
///@}
/// log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the maximum, so it is exact
/// for inputs of any magnitude.
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);

/// Maximum/minimum of all elements; on ties the gradient is shared evenly (as torch.max(x)).
///@{
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
///@}
/// What max(x, axis) and min(x, axis) return, as torch::max(x, dim): the values and their int64
/// indices, a std::tuple (`auto [values, indices] = max(x, 1)`, `std::get<1>(max(x, 1))`). It
/// also converts to the values, so `sum(max(x, 1))` reads as before.
struct ValuesIndices : std::tuple<Tensor, Tensor> {
  using std::tuple<Tensor, Tensor>::tuple;
  /// The extremal values (differentiable).
  const Tensor& values() const { return std::get<0>(*this); }
  /// The int64 index of the first extremum along the axis (argmax/argmin).
  const Tensor& indices() const { return std::get<1>(*this); }
  /// The values (implicit, so the result reads as its values).
  operator const Tensor&() const { return values(); }  // NOLINT(google-explicit-constructor)
};
/// Maximum/minimum along one axis, with the index of the first extremal element; the gradient
/// goes to that element.
///@{
ValuesIndices max(const Tensor& x, int axis, bool keepdim = false);
ValuesIndices min(const Tensor& x, int axis, bool keepdim = false);
///@}
/// Index (int64) of the first maximum/minimum along an axis.
///@{
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int axis, bool keepdim = false);
///@}

/// exp(x) / sum(exp(x)) along axis, computed as exp(x - max) / sum(exp(x - max)).
/// A zero-size x gives a zero-size result (nothing to normalise), as in PyTorch.
Tensor softmax(const Tensor& x, int axis);
/// x - logsumexp(x) along axis, stable for inputs of any magnitude.
Tensor log_softmax(const Tensor& x, int axis);

}  // namespace tg

/// \cond SPECIALISATIONS
namespace std {
template <>
struct tuple_size<tg::ValuesIndices> : integral_constant<size_t, 2> {};
template <size_t I>
struct tuple_element<I, tg::ValuesIndices> : tuple_element<I, tuple<tg::Tensor, tg::Tensor>> {};
}  // namespace std
/// \endcond

namespace tg {
/// Sums a (broadcast) gradient back to `shape`: the reverse of broadcasting. Differentiable.
/// When x already has that shape it returns x itself (the one op that aliases: the engine calls
/// it on every gradient, and a copy there would cost a pass over each).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace tg
