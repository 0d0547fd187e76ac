// Dropout layer.
#include "tapegrad/nn/dropout.hpp"

#include "tapegrad/nn/functional.hpp"

namespace tg::nn {

Dropout::Dropout(double p_) : Module("Dropout"), p(p_) {
  if (!(p >= 0.0 && p <= 1.0)) fail("Dropout: probability p must be in [0, 1], got ", p);
}

Dropout& Dropout::seed(std::uint64_t s) {
  generator_ = std::make_shared<Generator>(s);
  return *this;
}

Dropout& Dropout::set_mask(Tensor mask) {
  if (!mask.defined()) fail("Dropout::set_mask: got an undefined mask");
  fixed_mask_ = mask.detach();
  return *this;
}

Dropout& Dropout::clear_mask() {
  fixed_mask_ = Tensor();
  return *this;
}

Tensor Dropout::forward(const Tensor& input) {
  if (!is_training() || p == 0.0) return input;
  last_mask_ = fixed_mask_.defined() ? fixed_mask_ : functional::dropout_mask(input, p, generator_.get());
  return functional::dropout_with_mask(input, last_mask_, p);
}

std::string Dropout::extra_repr() const { return tg::detail::cat("p=", p); }

}  // namespace tg::nn
