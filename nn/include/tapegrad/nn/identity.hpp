/// \file
/// Identity: returns its input (a placeholder, e.g. to switch a layer off without rewiring).
#pragma once

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// forward(x) = x (the same tensor, so gradients pass through untouched).
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace tg::nn
