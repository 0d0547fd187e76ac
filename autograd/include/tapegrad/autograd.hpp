/// \file
/// The reverse sweep: backward() into leaves' grad(), and grad() returning gradients directly.
#pragma once

#include <optional>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg {

/// Accumulates d(sum_i <grad_tensors[i], tensors[i]>)/d(leaf) into every leaf's grad().
/// grad_tensors may be empty when every tensor is a one-element tensor (then 1 is used).
/// retain_graph defaults to create_graph (as in PyTorch).
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

/// Returns d(sum_i <grad_outputs[i], outputs[i]>)/d(inputs[j]) for each j, without touching any
/// grad(), like torch.autograd.grad. With create_graph the results are themselves recorded and can
/// be differentiated again (Hessian-vector products, gradient penalties). An input the outputs do
/// not depend on raises tg::Error unless allow_unused, in which case its entry is undefined.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

/// Called from a hook during backward() or grad(): runs fn on this thread once the running sweep
/// has delivered every gradient (after the last post-accumulate hook), before the call returns,
/// as PyTorch's Variable._execution_engine.queue_callback. Callbacks run in the order queued; one
/// may queue another. Data-parallel training waits for its last all-reduce there. Raises
/// tg::Error outside a sweep. An exception from fn propagates out of backward().
void queue_callback(Callback<void()> fn);

}  // namespace tg
