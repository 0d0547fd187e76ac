/// \file
/// Linear: an affine map y = x W^T + b.
#pragma once

#include <cstddef>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tg::nn {

/// y = x W^T + b for x of shape (..., in_features) and y of shape (..., out_features).
/// weight is stored (out_features, in_features) as in libtorch, so row i holds the incoming
/// weights of unit i; bias is (out_features,) and absent (undefined) when bias = false.
/// Parameters are created in default_dtype() and initialised as libtorch does:
/// weight kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and bias
/// U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  /// bias: whether to learn b (default true). gen draws the initial values (nullptr: the calling
  /// thread's default generator).
  Linear(std::size_t in_features, std::size_t out_features, bool bias = true,
         Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  /// Re-draws weight and bias with the default initialisation.
  void reset_parameters(Generator* gen = nullptr);
  std::string extra_repr() const override;

  std::size_t in_features;   ///< size of the last input axis
  std::size_t out_features;  ///< size of the last output axis
  Tensor weight;             ///< W, (out_features, in_features)
  Tensor bias;               ///< b, (out_features,); undefined without bias
};

}  // namespace tg::nn
