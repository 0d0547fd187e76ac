/// \file
/// Everything in tapegrad's nn component: modules, layers, initialisers, regularisers, save/load.
#pragma once

#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/batchnorm.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/dropout.hpp"
#include "tapegrad/nn/flatten.hpp"
#include "tapegrad/nn/functional.hpp"
#include "tapegrad/nn/gradcheck.hpp"
#include "tapegrad/nn/identity.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/nn/maxout.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/rbf.hpp"
#include "tapegrad/nn/regularize.hpp"
#include "tapegrad/nn/sequential.hpp"
#include "tapegrad/nn/serialize.hpp"
