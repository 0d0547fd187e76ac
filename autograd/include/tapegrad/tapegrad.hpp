/// \file
/// Umbrella header: everything a tapegrad user needs.
#pragma once

// autograd: tensors, the tape, ops, gradient checking
#include "tapegrad/autograd.hpp"
#include "tapegrad/blas.hpp"
#include "tapegrad/checkpoint.hpp"
#include "tapegrad/dot.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/file_io.hpp"
#include "tapegrad/forward_ad.hpp"
#include "tapegrad/function.hpp"
#include "tapegrad/functional.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/memory.hpp"
#include "tapegrad/numpy_random.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/threads.hpp"

// nn: modules, layers, losses, initialisers, regularisers, save/load
#include "tapegrad/nn.hpp"

// optim: optimizers, schedulers, clipping
#include "tapegrad/optim/optim.hpp"

// data: readers, datasets, loaders
#include "tapegrad/data.hpp"

// train: metrics, progress display, metrics log, plots
#include "tapegrad/train.hpp"
