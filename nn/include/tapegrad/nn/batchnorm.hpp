// BatchNorm1d: normalises each feature over the batch (Ioffe & Szegedy, 2015).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// Input (N, C) or (N, C, L) with C = num_features. Training mode normalises with the batch mean
/// and biased batch variance, y = (x - mean) / sqrt(var + eps) * weight + bias, and updates the
/// running statistics with the *unbiased* variance:
///   running_mean = (1 - momentum) running_mean + momentum mean
///   running_var  = (1 - momentum) running_var  + momentum var_unbiased
/// Evaluation mode uses running_mean and running_var instead of batch statistics. momentum =
/// nullopt gives the cumulative average (momentum 1 / num_batches_tracked), as PyTorch.
/// Parameters: weight (C,) = 1 and bias (C,) = 0 when affine. Buffers (when
/// track_running_stats): running_mean (C,) = 0, running_var (C,) = 1, num_batches_tracked, a 0-d
/// int64 counter. Without running statistics, evaluation also uses batch statistics.
class BatchNorm1d : public Module {
 public:
  explicit BatchNorm1d(std::size_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);
  Tensor forward(const Tensor& input) override;
  /// Running statistics back to 0 / 1 and the counter to 0.
  void reset_running_stats();
  std::string extra_repr() const override;

  std::size_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine;
  bool track_running_stats;
  Tensor weight, bias;                                     // undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined unless track_running_stats
};

}  // namespace tg::nn
