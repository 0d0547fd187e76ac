/// \file
/// Maxout: each unit is the maximum of k affine pieces (Goodfellow et al., 2013).
#pragma once

#include <cstddef>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tg::nn {

/// h_i = max_{j < pieces} (x . w_ij + b_ij) for i < out_features; x (..., in) -> (..., out).
/// weight is (out_features * pieces, in_features) with row i * pieces + j holding piece j of unit
/// i, so the pieces are one Linear and one matrix product; bias is (out_features * pieces,).
/// Initialised as a Linear with out_features * pieces outputs (U(-1/sqrt(in), 1/sqrt(in))).
class Maxout : public Module {
 public:
  /// pieces >= 1; bias defaults to true; gen draws the initial values (nullptr: default generator).
  Maxout(std::size_t in_features, std::size_t out_features, std::size_t pieces, bool bias = true,
         Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  std::size_t in_features;   ///< size of the last input axis
  std::size_t out_features;  ///< number of units (size of the last output axis)
  std::size_t pieces;        ///< affine pieces per unit, k
  Tensor weight;             ///< (out_features * pieces, in_features)
  Tensor bias;               ///< (out_features * pieces,); undefined without bias
};

}  // namespace tg::nn
