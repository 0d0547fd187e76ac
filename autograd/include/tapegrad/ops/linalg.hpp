/// \file
/// Matrix products through OpenBLAS (cblas gemm), and axis permutations.
#pragma once

#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// NumPy matmul semantics: 1-D @ 1-D is a dot product, 2-D @ 2-D a matrix product, 1-D operands
/// are promoted (a row vector on the left, a column vector on the right) and the promoted axis
/// removed, and leading batch axes broadcast (e.g. (2,1,3,4) @ (5,4,2) -> (2,5,3,2)).
/// Throws "matmul: shapes (3,4) and (5,2) are not aligned" on mismatch.
Tensor matmul(const Tensor& a, const Tensor& b);
/// op(a) @ op(b) for 2-D a, b where op transposes when asked, in one gemm call without copies.
Tensor mm(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
/// Batched op(a[i]) @ op(b[i]) for 3-D a, b with equal batch size.
Tensor bmm(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
/// x @ weight^T + bias with weight (out, in) as in torch.nn.functional.linear; bias optional.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// Reorders axes: result axis i is input axis dims[i].
Tensor permute(const Tensor& x, const std::vector<int>& dims);
/// Swaps two axes.
Tensor transpose(const Tensor& x, int axis0, int axis1);

}  // namespace tg
