/// \file
/// Flatten: collapses a range of axes into one.
#pragma once

#include <string>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// Collapses axes start_dim..end_dim (inclusive; negative from the end) into one. The default
/// start_dim = 1 keeps the batch axis, so (N, C, H, W) becomes (N, C*H*W), as torch.nn.Flatten.
class Flatten : public Module {
 public:
  /// Defaults: start_dim 1, end_dim -1 (the last axis).
  explicit Flatten(int start_dim = 1, int end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int start_dim;  ///< first axis collapsed (default 1)
  int end_dim;    ///< last axis collapsed, inclusive (default -1)
};

}  // namespace tg::nn
