/// \file
/// Activation functions as modules (no parameters), for use in Sequential and MLP. Each forward
/// is the tapegrad op of the same name; the formulas are documented in tapegrad/ops/*.hpp.
#pragma once

#include <string>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// 1 / (1 + exp(-x)).
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;
};

/// tanh(x).
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override;
};

/// max(x, 0).
class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

/// x for x > 0, negative_slope * x otherwise.
class LeakyReLU : public Module {
 public:
  /// negative_slope defaults to 0.01.
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double negative_slope;  ///< slope for x <= 0 (default 0.01)
};

/// x for x > 0, alpha (exp(x) - 1) otherwise.
class ELU : public Module {
 public:
  /// alpha defaults to 1.
  explicit ELU(double alpha = 1.0) : Module("ELU"), alpha(alpha) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double alpha;  ///< scale of the negative part (default 1)
};

/// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
class Softplus : public Module {
 public:
  /// beta defaults to 1, threshold to 20.
  explicit Softplus(double beta = 1.0, double threshold = 20.0)
      : Module("Softplus"), beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double beta;       ///< sharpness (default 1)
  double threshold;  ///< beta x above which the result is x (default 20)
};

/// x Phi(x) with the exact normal CDF ("none") or the tanh approximation ("tanh").
class GELU : public Module {
 public:
  /// approximate is "none" (default) or "tanh"; anything else raises tg::Error.
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::string approximate;  ///< "none" (exact, default) or "tanh"
};

/// exp(x) / sum(exp(x)) along dim. (PyTorch's dim=None picks an axis implicitly and is
/// deprecated; here dim defaults to the last axis.)
class Softmax : public Module {
 public:
  /// dim defaults to -1 (the last axis).
  explicit Softmax(int dim = -1) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int dim;  ///< the axis normalised over; negative counts from the end
};

/// x - logsumexp(x) along dim (default: the last axis), stable for inputs of any magnitude.
class LogSoftmax : public Module {
 public:
  /// dim defaults to -1 (the last axis).
  explicit LogSoftmax(int dim = -1) : Module("LogSoftmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int dim;  ///< the axis normalised over; negative counts from the end
};

}  // namespace tg::nn
