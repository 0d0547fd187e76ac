/// \file
/// Shape ops: views of the same values in another shape, slicing, indexing, joining.
/// Every op here copies values (tensors are always contiguous); gradients route back exactly,
/// accumulating where an index repeats.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// New shape with the same number of elements; one extent may be -1 (inferred).
Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape);
/// Collapses axes start..end (inclusive, negative from the end) into one.
Tensor flatten(const Tensor& x, int start_axis = 0, int end_axis = -1);
/// Removes all extent-1 axes, or the given one (a no-op when its extent is not 1, as PyTorch).
///@{
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int axis);
///@}
/// Inserts an extent-1 axis at position axis (in [-dim-1, dim]).
Tensor unsqueeze(const Tensor& x, int axis);
/// Broadcasts to shape (NumPy rules; like torch expand / numpy broadcast_to). Gradient: sum_to.
Tensor expand(const Tensor& x, const Shape& shape);

/// Python slice start:stop:step along axis; negative start/stop count from the end, missing ones
/// default as in Python, step > 0. Out-of-range bounds clamp as in Python.
Tensor slice(const Tensor& x, int axis, std::optional<std::int64_t> start,
             std::optional<std::int64_t> stop, std::int64_t step = 1);
/// x.select(axis, index): removes the axis; negative index counts from the end.
Tensor select(const Tensor& x, int axis, std::int64_t index);

/// One entry of a multi-axis index: an integer (selects, removing the axis) or a slice.
struct Index {
  bool is_slice = false;  ///< a slice (start, stop, step) rather than an integer (index)
  std::int64_t index = 0;  ///< the integer; negative counts from the end
  /// Slice bounds; missing ones default as in Python.
  ///@{
  std::optional<std::int64_t> start, stop;
  ///@}
  std::int64_t step = 1;  ///< slice step, > 0
  /// An integer entry (implicit, so x[{0, Slice(1, 3)}] reads naturally).
  Index(std::int64_t i) : index(i) {}  // NOLINT: x[{0, Slice(1, 3)}] reads naturally
  /// A slice entry start:stop:step (what Slice() returns).
  static Index range(std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                     std::int64_t step = 1) {
    Index s(0);
    s.is_slice = true;
    s.start = start;
    s.stop = stop;
    s.step = step;
    return s;
  }
};
/// Slice(start, stop, step): a slice entry for getitem(); Slice() keeps the whole axis.
inline Index Slice(std::optional<std::int64_t> start = std::nullopt,
                   std::optional<std::int64_t> stop = std::nullopt, std::int64_t step = 1) {
  return Index::range(start, stop, step);
}
/// x[i0, i1, ...] as in Python; trailing axes are kept whole.
Tensor getitem(const Tensor& x, const std::vector<Index>& index);

/// Rows (or slices along axis) picked by an int64 index tensor (1-D); indices may repeat and
/// gradients then accumulate. Negative or out-of-range indices raise tg::Error.
Tensor index_select(const Tensor& x, int axis, const Tensor& index);
/// weight[indices] for an int64 tensor of any shape: result shape indices.shape + (dim,).
Tensor embedding(const Tensor& indices, const Tensor& weight);
/// out[i][j] = x[index[i][j]][j] (axis 0) etc., as torch.gather; index is int64, same rank as x.
Tensor gather(const Tensor& x, int axis, const Tensor& index);
/// The adjoint of gather: zeros of `shape` with src added at the indexed positions.
Tensor scatter_add(const Shape& shape, int axis, const Tensor& index, const Tensor& src);
/// The adjoint of index_select: zeros of `shape` with src's slices added at index along axis.
Tensor index_add(const Shape& shape, int axis, const Tensor& index, const Tensor& src);

/// Joins tensors along an existing axis (all other extents equal).
Tensor cat(const std::vector<Tensor>& tensors, int axis = 0);
/// Joins equal-shaped tensors along a new axis.
Tensor stack(const std::vector<Tensor>& tensors, int axis = 0);

}  // namespace tg
