// Activation functions as modules (no parameters), for use in Sequential and MLP. Each forward
// is the tapegrad op of the same name; the formulas are documented in tapegrad/ops/*.hpp.
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
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double negative_slope;
};

/// x for x > 0, alpha (exp(x) - 1) otherwise.
class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : Module("ELU"), alpha(alpha) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double alpha;
};

/// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0)
      : Module("Softplus"), beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  double beta;
  double threshold;
};

/// x Phi(x) with the exact normal CDF ("none") or the tanh approximation ("tanh").
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::string approximate;
};

/// exp(x) / sum(exp(x)) along dim. (PyTorch's dim=None picks an axis implicitly and is
/// deprecated; here dim defaults to the last axis.)
class Softmax : public Module {
 public:
  explicit Softmax(int dim = -1) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int dim;
};

/// x - logsumexp(x) along dim (default: the last axis), stable for inputs of any magnitude.
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int dim = -1) : Module("LogSoftmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int dim;
};

}  // namespace tg::nn
