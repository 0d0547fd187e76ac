/// \file
/// tg::nn::functional: the computations of the nn layers as plain functions, without state (the
/// caller passes weights, running statistics and randomness). The activations are the core ops,
/// re-exported here so `namespace F = tg::nn::functional;` reaches everything. The losses live in
/// tapegrad/nn/losses.hpp, in this namespace too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/options.hpp"
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

// ---- Option structs with chained setters (libtorch's F::...FuncOptions) --------------------------
// Each functional with optional arguments also takes them as one struct, under libtorch's names:
//   F::dropout(x, F::DropoutFuncOptions().p(0.2).training(is_training));
//   F::softmax(x, F::SoftmaxFuncOptions(1));
// Options not set keep the defaults of the positional spelling above, which stays available.

/// Options of dropout: p (0.5), training (true), generator (none: the thread's default generator).
struct DropoutFuncOptions {
  TG_ARG(double, p, 0.5);
  TG_ARG(bool, training, true);
  TG_ARG(Generator*, generator, nullptr);
};
/// Options of batch_norm: weight and bias (none), training (false, as libtorch's), momentum
/// (0.1), eps (1e-5).
struct BatchNormFuncOptions {
  TG_ARG(Tensor, weight, );
  TG_ARG(Tensor, bias, );
  TG_ARG(bool, training, false);
  TG_ARG(double, momentum, 0.1);
  TG_ARG(double, eps, 1e-5);
};
/// Options of one_hot: num_classes (-1: max(labels) + 1), dtype (int64).
struct OneHotFuncOptions {
  TG_ARG(std::int64_t, num_classes, -1);
  TG_ARG(DType, dtype, kInt64);
};
/// Options of leaky_relu: negative_slope (0.01).
struct LeakyReLUFuncOptions {
  TG_ARG(double, negative_slope, 0.01);
};
/// Options of elu: alpha (1).
struct ELUFuncOptions {
  TG_ARG(double, alpha, 1.0);
};
/// Options of softplus: beta (1), threshold (20).
struct SoftplusFuncOptions {
  TG_ARG(double, beta, 1.0);
  TG_ARG(double, threshold, 20.0);
};
/// Options of gelu: approximate ("none": the exact normal CDF; "tanh").
struct GELUFuncOptions {
  TG_ARG(std::string, approximate, "none");
};
/// Options of softmax: the axis dim, which has no default (libtorch's `SoftmaxFuncOptions(dim)`).
struct SoftmaxFuncOptions {
  /// Softmax along axis dim (negative: from the end).
  explicit SoftmaxFuncOptions(int dim) : dim_(dim) {}
  TG_ARG(int, dim, 0);
};
/// Options of log_softmax: the axis dim, which has no default (`LogSoftmaxFuncOptions(dim)`).
struct LogSoftmaxFuncOptions {
  /// log_softmax along axis dim (negative: from the end).
  explicit LogSoftmaxFuncOptions(int dim) : dim_(dim) {}
  TG_ARG(int, dim, 0);
};
/// Options of flatten: start_dim (0), end_dim (-1), the axes merged (inclusive; negative: from the end).
struct FlattenFuncOptions {
  TG_ARG(int, start_dim, 0);
  TG_ARG(int, end_dim, -1);
};

/// The functionals above with their options as one struct.
///@{
inline Tensor dropout(const Tensor& x, const DropoutFuncOptions& o) {
  return dropout(x, o.p(), o.training(), o.generator());
}
inline Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const BatchNormFuncOptions& o) {
  return batch_norm(x, std::move(running_mean), std::move(running_var), o.weight(), o.bias(), o.training(),
                    o.momentum(), o.eps());
}
inline Tensor one_hot(const Tensor& labels, const OneHotFuncOptions& o) {
  return one_hot(labels, o.num_classes(), o.dtype());
}
inline Tensor leaky_relu(const Tensor& x, const LeakyReLUFuncOptions& o) {
  return tg::leaky_relu(x, o.negative_slope());
}
inline Tensor elu(const Tensor& x, const ELUFuncOptions& o) { return tg::elu(x, o.alpha()); }
inline Tensor softplus(const Tensor& x, const SoftplusFuncOptions& o) {
  return tg::softplus(x, o.beta(), o.threshold());
}
inline Tensor gelu(const Tensor& x, const GELUFuncOptions& o) { return tg::gelu(x, o.approximate()); }
inline Tensor softmax(const Tensor& x, const SoftmaxFuncOptions& o) { return tg::softmax(x, o.dim()); }
inline Tensor log_softmax(const Tensor& x, const LogSoftmaxFuncOptions& o) { return tg::log_softmax(x, o.dim()); }
inline Tensor flatten(const Tensor& x, const FlattenFuncOptions& o) {
  return tg::flatten(x, o.start_dim(), o.end_dim());
}
///@}

}  // namespace tg::nn::functional
