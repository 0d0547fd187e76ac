/// \file
/// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_: applied to the
/// parameters' grad() between backward() and the optimizer's step(). Parameters without a
/// gradient are ignored. Each clipped gradient is replaced by a new tensor (never modified in
/// place, since a gradient tensor may be shared with a caller's upstream tensor).
#pragma once

#include <limits>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg::optim {

/// Scales all gradients by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
/// norm of order norm_type of all gradients seen as one vector: (sum |g|^p)^(1/p), or max |g|
/// for norm_type = infinity. Returns total_norm (before clipping; 0 when there are no gradients).
/// A NaN or infinite total norm raises tg::Error when error_if_nonfinite, otherwise the
/// gradients are scaled by NaN as in PyTorch.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false);

/// Clamps every gradient element to [-clip_value, clip_value] (clip_value >= 0).
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace tg::optim
