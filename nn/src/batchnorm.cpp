// BatchNorm1d layer; the arithmetic is functional::batch_norm.
#include "tapegrad/nn/batchnorm.hpp"

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::nn {

BatchNorm1d::BatchNorm1d(std::size_t features, double eps_, std::optional<double> momentum_, bool affine_,
                         bool track)
    : Module("BatchNorm1d"),
      num_features(features),
      eps(eps_),
      momentum(momentum_),
      affine(affine_),
      track_running_stats(track) {
  if (num_features == 0) fail("BatchNorm1d: num_features must be at least 1");
  if (momentum && !(*momentum >= 0.0 && *momentum <= 1.0))
    fail("BatchNorm1d: momentum must be in [0, 1], got ", *momentum);
  if (affine) {
    weight = register_parameter("weight", ones({features}));
    bias = register_parameter("bias", zeros({features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({features}));
    running_var = register_buffer("running_var", ones({features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}

void BatchNorm1d::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  num_batches_tracked.mutable_value<std::int64_t>()() = 0;
}

Tensor BatchNorm1d::forward(const Tensor& input) {
  if (!input.defined() || (input.dim() != 2 && input.dim() != 3) || input.size(1) != num_features)
    fail("BatchNorm1d(", num_features, "): expected input of shape (N, ", num_features, ") or (N, ",
         num_features, ", L), got ", input.defined() ? to_string(input.shape()) : std::string("(undefined)"));
  if (!track_running_stats)  // batch statistics in both modes
    return functional::batch_norm(input, Tensor(), Tensor(), weight, bias, true, 0.0, eps);
  if (!is_training())
    return functional::batch_norm(input, running_mean, running_var, weight, bias, false, 0.0, eps);
  const std::int64_t count = num_batches_tracked.value<std::int64_t>()() + 1;
  const double factor = momentum ? *momentum : 1.0 / static_cast<double>(count);  // cumulative average
  Tensor y = functional::batch_norm(input, running_mean, running_var, weight, bias, true, factor, eps);
  num_batches_tracked.mutable_value<std::int64_t>()() = count;  // only once the batch was accepted
  return y;
}

std::string BatchNorm1d::extra_repr() const {
  const std::string m = momentum ? tg::detail::cat(*momentum) : std::string("None");
  return tg::detail::cat(num_features, ", eps=", eps, ", momentum=", m,
                         ", affine=", affine ? "true" : "false",
                         ", track_running_stats=", track_running_stats ? "true" : "false");
}

}  // namespace tg::nn
