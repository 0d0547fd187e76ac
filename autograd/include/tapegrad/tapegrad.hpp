// Umbrella header: everything a tapegrad user needs.
#pragma once

#include "tapegrad/autograd.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/tape.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/function.hpp"
#include "tapegrad/dot.hpp"
#include "tapegrad/nn.hpp"
