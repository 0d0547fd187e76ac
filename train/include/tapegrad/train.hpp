/// \file
/// All of the train component: metrics, evaluation, checkpoints, progress display, metrics log,
/// plots. Its namespace is tg::training (not tg::train), so that a program's own function
/// train() stays unambiguous next to `using namespace tg`.
#pragma once

#include "tapegrad/train/metrics.hpp"
#include "tapegrad/train/metrics_log.hpp"
#include "tapegrad/train/plot.hpp"
#include "tapegrad/train/progress.hpp"
#include "tapegrad/train/checkpoint.hpp"
#include "tapegrad/train/evaluate.hpp"
