/// \file
/// Regularisers: L1/L2 penalties to add to a loss, and the max-norm constraint applied after a step.
///
/// L2 on the weights is cheapest as weight decay on their parameter group (split_weights): the
/// same update as the penalty in the loss, without its forward and backward work (bench/PROFILE.md).
/// \code{.cpp}
///   auto [w, others] = nn::split_weights(*model);
///   optim::SGD optimizer({optim::ParamGroup(w, optim::SGDOptions(lr).weight_decay(lambda)), others},
///                        optim::SGDOptions(lr));
///   data_loss.backward();
///   optimizer.step();  // as plain SGD on data_loss + 0.5 * lambda * nn::l2_penalty(nn::weights(*model))
///   nn::max_norm_(*model, 3.0);  // a constraint, applied after the step
/// \endcode
#pragma once

#include <utility>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn {

/// sum_p sum_i |p_i| over the given tensors, differentiable (subgradient sign(p), 0 at 0). The
/// tensors must share one floating dtype; an empty list gives a 0-d zero of default_dtype().
Tensor l1_penalty(const std::vector<Tensor>& params);
/// sum_p sum_i p_i^2, differentiable (gradient 2 p). Weight decay lambda / 2 ||w||^2 is
/// 0.5 * lambda * l2_penalty(weights).
Tensor l2_penalty(const std::vector<Tensor>& params);

/// The parameters of a model named "...weight" with at least 2 axes (Linear and Maxout weights):
/// not biases, BatchNorm scales and shifts or RBF centres. The usual set to penalise.
std::vector<Tensor> weights(const Module& model);
/// (weights(model), every other parameter), for weight decay on the weights only, in one line:
/// \code{.cpp}
///   auto [w, others] = nn::split_weights(*model);
///   optim::SGD opt({optim::ParamGroup(w, optim::SGDOptions(lr).weight_decay(lambda)), others}, optim::SGDOptions(lr));
/// \endcode
std::pair<std::vector<Tensor>, std::vector<Tensor>> split_weights(const Module& model);

/// Max-norm constraint (Srebro & Shraibman 2005; Hinton et al. 2012): every row w_i of weight
/// (the incoming weights of unit i; trailing axes flattened) with ||w_i||_2 > max_norm is scaled
/// to norm max_norm; other rows are unchanged. In place, outside autograd; returns weight.
/// (torch.renorm scales by max_norm / (norm + 1e-7); here the projected norm is exactly max_norm.)
Tensor max_norm_(Tensor weight, double max_norm);
/// max_norm_ on every parameter of the model with at least 2 axes named "...weight".
void max_norm_(Module& model, double max_norm);

}  // namespace tg::nn
