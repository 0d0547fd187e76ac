/// \file
/// Dropout (inverted): zeroes inputs at random during training and rescales the survivors.
#pragma once

#include <memory>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/random.hpp"

namespace tg::nn {

/// Training: y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p) drawn afresh each call, so E[y] = x
/// and evaluation needs no rescaling. Evaluation: y = x. p = 1 gives zeros (as PyTorch).
/// Masks come from the calling thread's default tg::Generator unless seed() gives this layer a
/// generator of its own. For tests, set_mask() fixes m (same shape as the input, 0/1 values).
class Dropout : public Module {
 public:
  /// p, the probability of zeroing an element, in [0, 1] (default 0.5; tg::Error otherwise).
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  /// Gives this layer its own generator seeded with s (reproducible masks independent of others).
  Dropout& seed(std::uint64_t s);
  /// Uses mask (a bool or floating tensor of 0s and 1s) instead of drawing one, until clear_mask().
  Dropout& set_mask(Tensor mask);
  /// Goes back to drawing masks.
  Dropout& clear_mask();
  /// The mask used by the last training-mode forward (as drawn, or as given to set_mask).
  const Tensor& last_mask() const { return last_mask_; }

  double p;  ///< probability of zeroing an element, in [0, 1]

 private:
  std::shared_ptr<Generator> generator_;
  Tensor fixed_mask_;
  Tensor last_mask_;
};

}  // namespace tg::nn
