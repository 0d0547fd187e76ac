/// \file
/// gradcheck of a module: every parameter's gradient (and the input's, when it requires grad)
/// against finite differences.
///
/// \code{.cpp}
///   auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
///   model->to(tg::kFloat64);
///   REQUIRE(tg::gradcheck(*model, x, tg::GradcheckOptions().fast_mode(true)));
/// \endcode
#pragma once

#include <memory>
#include <type_traits>

#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/module.hpp"

namespace tg {

/// Checks the Jacobian of the whole output module.forward(input) (every output element, not a
/// scalar reduction of it) with respect to every parameter that requires grad, and to input when
/// it requires grad, as gradcheck(f, inputs) does: one report per tensor, input first (when
/// checked) and then the parameters in parameters() order. Everything must be float64
/// (module.to(kFloat64)). The numerical side writes perturbed values into the parameters and
/// restores them after each forward, so the module is unchanged afterwards; forward must be
/// deterministic (call eval() for Dropout). With fast_mode this costs two forwards per parameter
/// and two backward passes, so a 235k-parameter MLP checks in seconds. check_forward_ad is refused
/// (a module reads its own parameter tensors, which cannot carry tangents set from outside).
GradcheckReport gradcheck(nn::Module& module, const Tensor& input, const GradcheckOptions& options = {});

/// The same for a module held by shared_ptr.
template <class M, class = std::enable_if_t<std::is_base_of_v<nn::Module, M>>>
GradcheckReport gradcheck(const std::shared_ptr<M>& module, const Tensor& input, const GradcheckOptions& options = {}) {
  return gradcheck(static_cast<nn::Module&>(*module), input, options);
}

}  // namespace tg
