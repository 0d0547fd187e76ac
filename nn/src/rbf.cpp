// Radial basis function layer; the arithmetic is functional::rbf.
#include "tapegrad/nn/rbf.hpp"

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"

namespace tg::nn {

RBF::RBF(std::size_t in, std::size_t out, double sigma_, Generator* gen)
    : Module("RBF"), in_features(in), out_features(out), sigma(sigma_) {
  if (!(sigma > 0)) fail("RBF: sigma must be > 0, got ", sigma);
  centres = register_parameter("centres", init::uniform_(zeros({out, in}), -1.0, 1.0, gen));
}

Tensor RBF::forward(const Tensor& input) { return functional::rbf(input, centres, sigma); }

std::string RBF::extra_repr() const {
  return tg::detail::cat("in_features=", in_features, ", out_features=", out_features, ", sigma=", sigma);
}

}  // namespace tg::nn
