/// \file
/// MLP: a multilayer perceptron built from layer sizes and an activation.
///
/// \code{.cpp}
///   auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
///   Tensor logits = (*model)(x);   // x (N, 784) -> (N, 10)
/// \endcode
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/nn/sequential.hpp"

namespace tg::nn {

/// What goes between the Linear layers besides the activation.
struct MLPOptions {
  double dropout = 0.0;    ///< > 0: Dropout(dropout) after each hidden activation
  bool batchnorm = false;  ///< BatchNorm1d between each hidden Linear and its activation
  bool bias = true;        ///< Linear layers with bias (a BatchNorm1d's shift makes it redundant)
};

/// Makes a fresh activation module for each hidden layer.
using ActivationFactory = Callback<std::shared_ptr<Module>()>;

/// sizes {d0, d1, ..., dL} give L Linear layers d_{i-1} -> d_i; every hidden layer is followed by
/// [BatchNorm1d] -> activation -> [Dropout], the output layer by nothing (add a loss that takes
/// logits). The layers live in a Sequential registered as "layers", so parameters are named
/// `layers.0.weight`, `layers.0.bias`, `layers.2.weight`, ... (indices count every module).
class MLP : public Module {
 public:
  /// activation is a prototype copied for each hidden layer; it must have no parameters or
  /// buffers (ReLU(), Tanh(), LeakyReLU(0.2), ...).
  template <class Activation, class = std::enable_if_t<std::is_base_of_v<Module, Activation>>>
  MLP(std::vector<std::size_t> sizes, const Activation& activation, MLPOptions options = {},
      Generator* gen = nullptr)
      : MLP(std::move(sizes), copies_of(activation), options, gen) {}
  /// make_activation is called once per hidden layer.
  MLP(std::vector<std::size_t> sizes, const ActivationFactory& make_activation, MLPOptions options = {},
      Generator* gen = nullptr);
  /// ReLU between layers.
  explicit MLP(std::vector<std::size_t> sizes, MLPOptions options = {}, Generator* gen = nullptr);

  Tensor forward(const Tensor& input) override { return layers->forward(input); }
  std::string extra_repr() const override;

  std::vector<std::size_t> sizes;      ///< the layer widths, input first, output last
  std::shared_ptr<Sequential> layers;  ///< the Linear layers with the activations (and dropout) between

 private:
  template <class Activation>
  static ActivationFactory copies_of(const Activation& prototype) {
    if (!prototype.named_parameters().empty() || !prototype.named_buffers().empty() ||
        !prototype.named_children().empty())
      fail("MLP: the activation prototype ", prototype.type_name(),
           " has parameters, buffers or submodules; pass an ActivationFactory instead");
    return [prototype] { return std::make_shared<Activation>(prototype); };
  }
};

}  // namespace tg::nn
