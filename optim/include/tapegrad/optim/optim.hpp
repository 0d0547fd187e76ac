/// \file
/// Everything in tapegrad::optim: the optimizers, gradient clipping and learning-rate schedulers.
#pragma once

#include "tapegrad/optim/adadelta.hpp"
#include "tapegrad/optim/adagrad.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/adamax.hpp"
#include "tapegrad/optim/adamw.hpp"
#include "tapegrad/optim/clip_grad.hpp"
#include "tapegrad/optim/lbfgs.hpp"
#include "tapegrad/optim/lr_scheduler.hpp"
#include "tapegrad/optim/nadam.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/rmsprop.hpp"
#include "tapegrad/optim/sgd.hpp"
