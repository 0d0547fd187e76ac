// All of the train component: metrics, progress display, metrics log, plots.
#pragma once

#include "tapegrad/train/metrics.hpp"
#include "tapegrad/train/metrics_log.hpp"
#include "tapegrad/train/plot.hpp"
#include "tapegrad/train/progress.hpp"
