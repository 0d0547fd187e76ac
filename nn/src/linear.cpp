// Linear layer.
#include "tapegrad/nn/linear.hpp"

#include <cmath>

#include "tapegrad/nn/init.hpp"
#include "tapegrad/ops/linalg.hpp"

namespace tg::nn {

Linear::Linear(std::size_t in, std::size_t out, bool with_bias, Generator* gen)
    : Module("Linear"), in_features(in), out_features(out) {
  weight = register_parameter("weight", zeros({out, in}));
  if (with_bias) bias = register_parameter("bias", zeros({out}));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& input) {
  if (!input.defined() || input.dim() == 0 || input.shape().back() != in_features)
    fail("Linear(in_features=", in_features, ", out_features=", out_features, "): input of shape ",
         input.defined() ? to_string(input.shape()) : std::string("(undefined)"), " must end in ",
         in_features, " features");
  return linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return tg::detail::cat("in_features=", in_features, ", out_features=", out_features,
                    ", bias=", bias.defined() ? "true" : "false");
}

}  // namespace tg::nn
