/// \file
/// Reductions over all elements or over given axes (negative axes count from the end), with
/// keepdim; softmax and friends along one axis. Reducing a zero-size tensor follows NumPy where it
/// has an answer (sum 0, prod 1) and raises tg::Error where it has none (max, min, mean of nothing).
#pragma once

#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// An empty axes list means "all axes".
using Axes = std::vector<int>;

/// Sum over axes (all by default); keepdim keeps reduced axes with extent 1, else they are removed.
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Mean over axes (all by default): sum / count. tg::Error for zero elements.
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
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
/// Maximum/minimum along one axis; the gradient goes to the first extremal element (the index
/// returned by argmax/argmin).
///@{
Tensor max(const Tensor& x, int axis, bool keepdim = false);
Tensor min(const Tensor& x, int axis, bool keepdim = false);
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

/// Sums a (broadcast) gradient back to `shape`: the reverse of broadcasting. Differentiable.
/// When x already has that shape it returns x itself (the one op that aliases: the engine calls
/// it on every gradient, and a copy there would cost a pass over each).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace tg
