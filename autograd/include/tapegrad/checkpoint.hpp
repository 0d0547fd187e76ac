/// \file
/// Activation checkpointing, as torch.utils.checkpoint: trade compute for memory by running a
/// piece of the forward pass without saving its activations and running it again in backward.
///
/// \code{.cpp}
///   // y = block(x), but only x (not block's activations) is kept until backward.
///   tg::Tensor y = tg::checkpoint([&](const std::vector<tg::Tensor>& in) { return block->forward(in[0]); },
///                                 {x}, tg::CheckpointOptions().parameters(block->parameters()));
/// \endcode
///
/// How it works (re-entrant, on tapegrad's re-entrant engine): the forward runs fn under
/// NoGradGuard and records one node, "checkpoint", whose inputs are `inputs` and the
/// `parameters` option; it keeps handles to those (not copies; their versions are checked in
/// backward, so writing one in place in between raises tg::Error) and nothing fn computed. When a
/// backward pass reaches the node, it runs fn again with grad mode on, from copies of the inputs
/// (create_graph: from the inputs themselves, so the gradients are differentiable again), with
/// the random stream the forward had, and differentiates that graph with tg::grad, handing the
/// gradients to the node's inputs. So gradients are those of the plain run: same ops, same values
/// (bit for bit), whether the outer call is backward() or grad(), first or higher order.
///
/// Rules for fn:
/// - Every tensor it reads that requires grad must be among `inputs` or the `parameters` option
///   (a module's parameters()); otherwise its gradient would be lost, and the backward raises
///   tg::Error naming it rather than dropping it.
/// - It must compute the same outputs again from the same inputs (deterministic, apart from the
///   calling thread's default tg::Generator, which is saved and restored: Dropout masks drawn
///   from it match). A Dropout layer with a generator of its own (Dropout::seed) draws a new mask
///   in the recompute, as would any other random source: keep those out of checkpointed code.
///   Side effects happen twice (BatchNorm's running statistics are updated twice, as in PyTorch).
/// - Outputs: floating tensors that need gradients; several outputs are handed back as pieces of
///   one recorded tensor (all must then have one dtype). Forward AD does not go through a
///   checkpoint (a tangent reaching it raises tg::Error).
/// With grad mode off or nothing requiring grad, checkpoint is just fn(inputs).
#pragma once

#include <utility>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

/// Options of checkpoint (chainable setters, as libtorch's option structs).
class CheckpointOptions {
 public:
  CheckpointOptions() = default;
  /// Tensors fn reads besides its inputs whose gradients are wanted (a module's parameters()).
  CheckpointOptions& parameters(std::vector<Tensor> tensors) {
    parameters_ = std::move(tensors);
    return *this;
  }
  /// The tensors set by parameters(tensors).
  const std::vector<Tensor>& parameters() const { return parameters_; }
  /// Restore the calling thread's default generator for the recompute (default true).
  CheckpointOptions& preserve_rng_state(bool on) {
    preserve_rng_state_ = on;
    return *this;
  }
  /// Whether the recompute restores the generator.
  bool preserve_rng_state() const { return preserve_rng_state_; }

 private:
  std::vector<Tensor> parameters_;
  bool preserve_rng_state_ = true;
};

/// What checkpoint runs: the inputs to the outputs (several or one).
///@{
using CheckpointFunction = Callback<std::vector<Tensor>(const std::vector<Tensor>&)>;
using CheckpointFunction1 = Callback<Tensor(const std::vector<Tensor>&)>;
///@}

/// fn(inputs) without keeping fn's intermediate tensors for backward (see the file comment).
std::vector<Tensor> checkpoint(const CheckpointFunction& fn, const std::vector<Tensor>& inputs,
                               const CheckpointOptions& options = {});
/// The same for a function with one output.
Tensor checkpoint(const CheckpointFunction1& fn, const std::vector<Tensor>& inputs,
                  const CheckpointOptions& options = {});

}  // namespace tg
