/// \file
/// All of the data component.
#pragma once

#include "tapegrad/data/csv.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/data/distributed_sampler.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/data/mnist.hpp"
