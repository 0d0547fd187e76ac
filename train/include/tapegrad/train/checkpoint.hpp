/// \file
/// Training checkpoints: a model, its optimizer's state and a few numbers (the epoch reached, the
/// settings of the run) in one .npz file, written atomically, so an interrupted run can resume
/// and end with exactly the weights of an uninterrupted one.
///
/// Entries: "model.<name>" (Module::state_dict), "optim.<name>" (Optimizer::state_dict),
/// "meta.<key>" (float64 scalars) and, when a metrics log is saved with it, "metrics.<i>.<column>"
/// (column i of the log, float64, one value per row). The file opens with numpy.load like any .npz.
///
/// The metrics log travels inside the checkpoint because two files cannot be renamed at once: a
/// run killed between the checkpoint's rename and the CSV's would resume with the new weights and
/// without that epoch's row. The CSV is a copy, rewritten from the checkpoint.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/train/metrics_log.hpp"

namespace tg::training {

/// Named numbers stored with a checkpoint (integers up to 2^53 are exact).
using CheckpointInfo = std::map<std::string, double>;

/// Writes model, optimizer, info and, when given, the metrics log to path atomically (temporary
/// file, fsync, rename): a crash while saving leaves the previous checkpoint intact.
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     const CheckpointInfo& info, const MetricsLog* metrics = nullptr);

/// Restores the model (strictly: every tensor present, same shapes) and, when given, the
/// optimizer from a file written by save_checkpoint(), and returns its info. Throws tg::Error
/// naming the file when it cannot be read or is not a checkpoint.
CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* optimizer);

/// Loads model weights from either a checkpoint (its "model." entries) or a file written by
/// Module::save(). Throws tg::Error naming the file and any mismatch.
void load_weights(const std::string& path, nn::Module& model);

/// The info of a checkpoint without loading anything else.
CheckpointInfo read_checkpoint_info(const std::string& path);

/// The metrics log saved with a checkpoint, or nullopt when it was saved without one. tg::Error
/// naming the file when the metrics.* entries do not form a table (column indices not 0..n-1,
/// a column that is not 1-D float64, columns of different lengths, a bad column name).
std::optional<MetricsLog> read_checkpoint_metrics(const std::string& path);

/// The epoch a checkpoint says it was written after (its "meta.epoch"), for a run of `epochs`
/// epochs to resume from: a whole number in [0, epochs], or tg::Error naming the file (a damaged
/// or hand-made checkpoint must not resume at epoch 2^63, or retrain from 0 on top of trained
/// weights).
std::size_t resumed_epoch(const std::string& path, const CheckpointInfo& info, std::size_t epochs);

/// Checks that the metrics log saved in a checkpoint written after `epoch` has this run's columns
/// and one row per epoch 1..epoch, in order (its first column is the epoch); tg::Error naming the
/// file otherwise (a damaged log must not become the run's record).
void check_resumed_metrics(const std::string& path, const MetricsLog& saved, const std::vector<std::string>& columns,
                           std::size_t epoch);

}  // namespace tg::training
