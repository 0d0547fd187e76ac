/// \file
/// Loss functions (stateless), as in torch.nn.functional. `input` is the prediction, `target` the
/// truth; shapes must match exactly unless stated (no silent broadcasting of a (N,1) prediction
/// against an (N,) target). Reductions: none (per element), mean (default), sum.
#pragma once

#include "tapegrad/options.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn {

/// How a loss combines per-element values. batchmean (sum / batch size) exists for kl_div only.
enum class Reduction { none, mean, sum, batchmean };

}  // namespace tg::nn

namespace tg {
/// The reductions by libtorch's names: `F::MSELossFuncOptions().reduction(tg::kSum)`.
///@{
inline constexpr nn::Reduction kNone = nn::Reduction::none;
inline constexpr nn::Reduction kMean = nn::Reduction::mean;
inline constexpr nn::Reduction kSum = nn::Reduction::sum;
inline constexpr nn::Reduction kBatchMean = nn::Reduction::batchmean;
///@}
}  // namespace tg

namespace tg::nn {

namespace functional {

/// (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
/// |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
/// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is l1.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0);
/// 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                  double delta = 1.0);
/// -w (t log p + (1 - t) log(1 - p)) for probabilities p (input) and t (target), both in [0, 1];
/// each log is clamped to >= -100 as in PyTorch, so p = 0 or 1 gives a finite loss.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            Reduction reduction = Reduction::mean);
/// binary_cross_entropy(sigmoid(x), t) computed from logits x without overflow:
/// (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), times weight. pos_weight broadcasts over
/// the last axis (one per class).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        Reduction reduction = Reduction::mean,
                                        const Tensor& pos_weight = {});
/// Cross-entropy from logits. input (N, C) (or (C,), or (N, C, d1, ...)); target either int64
/// class indices (N) (or (), or (N, d1, ...)) in [0, C), or float class probabilities shaped like
/// input. weight (C,) rescales classes; with index targets the mean divides by the sum of the
/// targets' weights (as nll_loss). label_smoothing eps mixes the target with the uniform
/// distribution: loss = (1 - eps) nll + eps / C sum_c (-w_c log p_c).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                     Reduction reduction = Reduction::mean, double label_smoothing = 0.0);
/// Negative log-likelihood of log-probabilities input (N, C) at int64 targets (N): -w_t input[i, t_i];
/// mean divides by the sum of w over the targets.
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                Reduction reduction = Reduction::mean);
/// Kullback-Leibler divergence with input = log-probabilities: target (log target - input), with
/// 0 log 0 = 0; log_target means target holds log-probabilities. batchmean divides the sum by the
/// size of the first axis (the mathematically correct KL per sample).
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false);
// ---- Option structs with chained setters (libtorch's F::...FuncOptions) --------------------------
// Each loss also takes its options as one struct, e.g.
//   F::binary_cross_entropy_with_logits(z, y, F::BCEWithLogitsFuncOptions().reduction(kSum));
// Fields not set keep the defaults of the positional spelling above.

/// Options of mse_loss: reduction (mean).
struct MSELossFuncOptions {
  TG_ARG(Reduction, reduction, Reduction::mean);
};
/// Options of l1_loss: reduction (mean).
struct L1LossFuncOptions {
  TG_ARG(Reduction, reduction, Reduction::mean);
};
/// Options of smooth_l1_loss: reduction (mean), beta (1).
struct SmoothL1LossFuncOptions {
  TG_ARG(Reduction, reduction, Reduction::mean);
  TG_ARG(double, beta, 1.0);
};
/// Options of huber_loss: reduction (mean), delta (1).
struct HuberLossFuncOptions {
  TG_ARG(Reduction, reduction, Reduction::mean);
  TG_ARG(double, delta, 1.0);
};
/// Options of binary_cross_entropy: weight (none), reduction (mean).
struct BinaryCrossEntropyFuncOptions {
  TG_ARG(Tensor, weight, );
  TG_ARG(Reduction, reduction, Reduction::mean);
};
/// Options of binary_cross_entropy_with_logits: weight (none), reduction (mean), pos_weight (none).
struct BinaryCrossEntropyWithLogitsFuncOptions {
  TG_ARG(Tensor, weight, );
  TG_ARG(Reduction, reduction, Reduction::mean);
  TG_ARG(Tensor, pos_weight, );
};
/// The short name.
using BCEWithLogitsFuncOptions = BinaryCrossEntropyWithLogitsFuncOptions;
/// Options of cross_entropy: weight (none), reduction (mean), label_smoothing (0).
struct CrossEntropyFuncOptions {
  TG_ARG(Tensor, weight, );
  TG_ARG(Reduction, reduction, Reduction::mean);
  TG_ARG(double, label_smoothing, 0.0);
};
/// Options of nll_loss: weight (none), reduction (mean).
struct NLLLossFuncOptions {
  TG_ARG(Tensor, weight, );
  TG_ARG(Reduction, reduction, Reduction::mean);
};
/// Options of kl_div: reduction (mean), log_target (false).
struct KLDivFuncOptions {
  TG_ARG(Reduction, reduction, Reduction::mean);
  TG_ARG(bool, log_target, false);
};

/// The losses above with their options as one struct.
///@{
inline Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& o) {
  return mse_loss(input, target, o.reduction());
}
inline Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& o) {
  return l1_loss(input, target, o.reduction());
}
inline Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& o) {
  return smooth_l1_loss(input, target, o.reduction(), o.beta());
}
inline Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossFuncOptions& o) {
  return huber_loss(input, target, o.reduction(), o.delta());
}
inline Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyFuncOptions& o) {
  return binary_cross_entropy(input, target, o.weight(), o.reduction());
}
inline Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                               const BinaryCrossEntropyWithLogitsFuncOptions& o) {
  return binary_cross_entropy_with_logits(input, target, o.weight(), o.reduction(), o.pos_weight());
}
inline Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& o) {
  return cross_entropy(input, target, o.weight(), o.reduction(), o.label_smoothing());
}
inline Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& o) {
  return nll_loss(input, target, o.weight(), o.reduction());
}
inline Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& o) {
  return kl_div(input, target, o.reduction(), o.log_target());
}
///@}

/// The quadratic cost 0.5 ||a - y||^2 summed over outputs and averaged over the batch (first axis).
Tensor quadratic_cost(const Tensor& output, const Tensor& target);

}  // namespace functional
}  // namespace tg::nn
