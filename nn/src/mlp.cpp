// MLP builder.
#include "tapegrad/nn/mlp.hpp"

#include "tapegrad/nn/batchnorm.hpp"
#include "tapegrad/nn/dropout.hpp"
#include "tapegrad/nn/linear.hpp"

namespace tg::nn {

MLP::MLP(std::vector<std::size_t> sizes_, MLPOptions options, Generator* gen)
    : MLP(std::move(sizes_), ReLU(), options, gen) {}

MLP::MLP(std::vector<std::size_t> sizes_, const ActivationFactory& make_activation, MLPOptions options,
         Generator* gen)
    : Module("MLP"), sizes(std::move(sizes_)) {
  if (sizes.size() < 2) fail("MLP: needs at least an input and an output size, got ", sizes.size(), " sizes");
  for (std::size_t s : sizes)
    if (s == 0) fail("MLP: layer sizes must be positive");
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    fail("MLP: dropout must be in [0, 1), got ", options.dropout);
  auto seq = std::make_shared<Sequential>();
  for (std::size_t i = 1; i < sizes.size(); ++i) {
    seq->push_back(std::make_shared<Linear>(sizes[i - 1], sizes[i], options.bias, gen));
    if (i + 1 == sizes.size()) break;  // the output layer stays linear
    if (options.batchnorm) seq->push_back(std::make_shared<BatchNorm1d>(sizes[i]));
    auto activation = make_activation();
    if (!activation) fail("MLP: the activation factory returned a null module");
    seq->push_back(std::move(activation));
    if (options.dropout > 0.0) seq->push_back(std::make_shared<Dropout>(options.dropout));
  }
  layers = register_module("layers", seq);  // after filling, so the tensors get "layers." names
}

std::string MLP::extra_repr() const {
  std::string s = "sizes=[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

}  // namespace tg::nn
