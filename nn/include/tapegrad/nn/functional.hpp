/// \file
/// tg::nn::functional: the computations of the nn layers as plain functions, without state (the
/// caller passes weights, running statistics and randomness). The activations are the core ops,
/// re-exported here so `namespace F = tg::nn::functional;` reaches everything. The losses live in
/// tapegrad/nn/losses.hpp, in this namespace too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn::functional {

using tg::elu;
using tg::flatten;
using tg::gelu;
using tg::leaky_relu;
using tg::linear;
using tg::log_softmax;
using tg::relu;
using tg::sigmoid;
using tg::softmax;
using tg::softplus;
using tg::tanh;

/// A dropout mask like x: 1 with probability 1 - p, else 0, in x's (floating) dtype.
Tensor dropout_mask(const Tensor& x, double p, Generator* gen = nullptr);
/// Inverted dropout with a given mask (0/1 values, bool or floating, x's shape): x * mask / (1 - p),
/// or zeros when p = 1. Gradient: mask / (1 - p).
Tensor dropout_with_mask(const Tensor& x, const Tensor& mask, double p);
/// Inverted dropout: dropout_with_mask(x, dropout_mask(x, p), p) when training, x otherwise.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);

/// Batch normalisation over axis 1 of x (N, C) or (N, C, L), statistics taken over the other axes.
/// training: y = (x - mean) / sqrt(var + eps) with the batch mean and *biased* batch variance;
/// then, if running_mean/running_var are given, they are updated in place (no gradient):
/// \code{.unparsed}
///   running_mean = (1 - momentum) running_mean + momentum mean
///   running_var  = (1 - momentum) running_var  + momentum var * n / (n - 1)   (unbiased)
/// \endcode
/// with n the number of values per channel. Evaluation: the running statistics replace the batch
/// ones. Then y = y * weight + bias when those are given (shape (C,)). As torch's batch_norm.
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

/// Maxout (Goodfellow et al., 2013): z = x W^T + b with W of shape (units * pieces, in), then
/// h_i = max_j z[i * pieces + j] over the `pieces` affine pieces of unit i. x (..., in) gives
/// (..., units). At a tie the gradient goes to the first maximal piece.
Tensor maxout(const Tensor& x, const Tensor& weight, const Tensor& bias, std::size_t pieces);

/// Gaussian radial basis units: h_i = exp(-||x - c_i||^2 / sigma^2) for centres c (units, in) and
/// x (..., in), giving (..., units). The squared distance is summed from differences (not
/// expanded as x^2 - 2xc + c^2) so it stays exact when x is near a centre.
Tensor rbf(const Tensor& x, const Tensor& centres, double sigma);

/// One-hot encoding, as torch.nn.functional.one_hot: int64 labels of any shape (*) give (*, C)
/// with a 1 at each label and 0 elsewhere. num_classes -1 means max(labels) + 1. dtype is int64
/// by default (as PyTorch); pass the logits' dtype for a loss target, e.g.
/// `F::one_hot(labels, 10, logits.dtype())`. tg::Error for labels outside [0, C), non-int64
/// labels, or num_classes < -1 (also -1 with no labels).
Tensor one_hot(const Tensor& labels, std::int64_t num_classes = -1, DType dtype = kInt64);

}  // namespace tg::nn::functional
