// Maxout layer; the arithmetic is functional::maxout.
#include "tapegrad/nn/maxout.hpp"

#include <cmath>

#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/init.hpp"

namespace tg::nn {

Maxout::Maxout(std::size_t in, std::size_t out, std::size_t k, bool with_bias, Generator* gen)
    : Module("Maxout"), in_features(in), out_features(out), pieces(k) {
  if (pieces == 0) fail("Maxout: the number of pieces must be at least 1");
  const double bound = in > 0 ? 1.0 / std::sqrt(static_cast<double>(in)) : 0.0;
  weight = register_parameter("weight", init::uniform_(zeros({out * k, in}), -bound, bound, gen));
  if (with_bias) bias = register_parameter("bias", init::uniform_(zeros({out * k}), -bound, bound, gen));
}

Tensor Maxout::forward(const Tensor& input) {
  if (!input.defined() || input.dim() == 0 || input.shape().back() != in_features)
    fail("Maxout(in_features=", in_features, "): input of shape ",
         input.defined() ? to_string(input.shape()) : std::string("(undefined)"), " must end in ", in_features,
         " features");
  return functional::maxout(input, weight, bias, pieces);
}

std::string Maxout::extra_repr() const {
  return tg::detail::cat("in_features=", in_features, ", out_features=", out_features, ", pieces=", pieces,
                         ", bias=", bias.defined() ? "true" : "false");
}

}  // namespace tg::nn
