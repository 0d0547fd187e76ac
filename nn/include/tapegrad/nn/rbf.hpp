/// \file
/// Gaussian radial basis function layer.
#pragma once

#include <cstddef>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tg::nn {

/// h_i = exp(-||x - c_i||^2 / sigma^2) for the learnable centres c (out_features, in_features);
/// x (..., in) -> (..., out). sigma is a fixed width shared by all units. Centres start as
/// U(-1, 1) draws, a spread suited to standardised inputs; set them from data (e.g. k-means or
/// a sample of training points) with init or load_state_dict for anything serious.
class RBF : public Module {
 public:
  /// sigma > 0 (default 1); gen draws the initial centres (nullptr: the default generator).
  RBF(std::size_t in_features, std::size_t out_features, double sigma = 1.0, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::size_t in_features;   ///< size of the last input axis
  std::size_t out_features;  ///< number of units (centres)
  double sigma;              ///< the width, fixed (not trained)
  Tensor centres;            ///< c, (out_features, in_features), trained
};

}  // namespace tg::nn
