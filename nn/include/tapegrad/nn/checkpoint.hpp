/// \file
/// Activation checkpointing of a Sequential in segments, as torch.utils.checkpoint.checkpoint_sequential.
#pragma once

#include <cstddef>

#include "tapegrad/checkpoint.hpp"
#include "tapegrad/nn/sequential.hpp"

namespace tg::nn {

/// seq(input), with its modules split into `segments` runs of size() / segments modules (the last
/// run takes the remainder): every run but the last goes through tg::checkpoint (its parameters
/// passed as the parameters option), so only the runs' inputs are kept for backward, and each
/// run's activations are recomputed in backward, one run at a time. The last run is not
/// checkpointed (backward starts there at once), as in PyTorch. Needs 1 <= segments <= size().
/// Saved activations drop from those of all modules to about 1/segments of them plus the runs'
/// inputs, for one extra forward pass of all runs but the last.
Tensor checkpoint_sequential(Sequential& seq, std::size_t segments, const Tensor& input,
                             const CheckpointOptions& options = {});

}  // namespace tg::nn
