/// \file
/// BatchNorm1d: normalises each feature over the batch (Ioffe & Szegedy, 2015).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// Input (N, C) or (N, C, L) with C = num_features. Training mode normalises with the batch mean
/// and biased batch variance, y = (x - mean) / sqrt(var + eps) * weight + bias, and updates the
/// running statistics with the *unbiased* variance:
/// \code{.unparsed}
///   running_mean = (1 - momentum) running_mean + momentum mean
///   running_var  = (1 - momentum) running_var  + momentum var_unbiased
/// \endcode
/// Evaluation mode uses running_mean and running_var instead of batch statistics. momentum =
/// nullopt gives the cumulative average (momentum 1 / num_batches_tracked), as PyTorch.
/// Parameters: weight (C,) = 1 and bias (C,) = 0 when affine. Buffers (when
/// track_running_stats): running_mean (C,) = 0, running_var (C,) = 1, num_batches_tracked, a 0-d
/// int64 counter. Without running statistics, evaluation also uses batch statistics.
class BatchNorm1d : public Module {
 public:
  /// Defaults as torch.nn.BatchNorm1d: eps 1e-5, momentum 0.1, affine, tracking running statistics.
  explicit BatchNorm1d(std::size_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);
  Tensor forward(const Tensor& input) override;
  /// Running statistics back to 0 / 1 and the counter to 0.
  void reset_running_stats();
  std::string extra_repr() const override;

  std::size_t num_features;        ///< C, the number of features (channels)
  double eps;                      ///< added to the variance before the square root (default 1e-5)
  std::optional<double> momentum;  ///< running-statistics update rate in [0, 1]; nullopt: cumulative average
  bool affine;                     ///< whether weight and bias exist and train (default true)
  bool track_running_stats;        ///< whether the running statistics exist (default true)
  /// Parameters weight (C,) and bias (C,); undefined unless affine.
  ///@{
  Tensor weight, bias;                                     // undefined unless affine
  ///@}
  /// Buffers running_mean (C,), running_var (C,) and num_batches_tracked (0-d int64); undefined
  /// unless track_running_stats.
  ///@{
  Tensor running_mean, running_var, num_batches_tracked;  // undefined unless track_running_stats
  ///@}
};

}  // namespace tg::nn
