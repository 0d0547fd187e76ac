// Checkpoints as one .npz: model.*, optim.* and meta.* entries.
#include "tapegrad/train/checkpoint.hpp"

#include <cmath>

#include "tapegrad/error.hpp"
#include "tapegrad/nn/serialize.hpp"

namespace tg::training {

namespace {

CheckpointInfo info_of(const std::map<std::string, Tensor>& entries) {
  CheckpointInfo info;
  for (const auto& [name, tensor] : nn::strip_prefix("meta.", entries)) {
    if (tensor.numel() != 1) fail("load_checkpoint: entry meta.", name, " is not a single number");
    info[name] = tensor.item();
  }
  return info;
}

std::map<std::string, Tensor> read_checkpoint(const std::string& path) {
  std::map<std::string, Tensor> entries = nn::load_tensors(path);
  if (nn::strip_prefix("model.", entries).empty())
    fail("load_checkpoint: ", path, " has no model.* entries; it is not a checkpoint written by save_checkpoint");
  return entries;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     const CheckpointInfo& info, const MetricsLog* metrics) {
  std::map<std::string, Tensor> entries = nn::with_prefix("model.", model.state_dict());
  for (auto& [name, tensor] : nn::with_prefix("optim.", optimizer.state_dict())) entries.emplace(name, tensor);
  for (const auto& [key, value] : info) entries.emplace("meta." + key, tensor(value, kFloat64));
  if (metrics) {
    for (std::size_t i = 0; i < metrics->columns().size(); ++i) {
      const std::vector<double> values = metrics->column(metrics->columns()[i]);
      entries.emplace("metrics." + std::to_string(i) + "." + metrics->columns()[i],
                      from_vector(values, {values.size()}, kFloat64));
    }
  }
  nn::save_tensors(path, entries);
}

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* optimizer) {
  const std::map<std::string, Tensor> entries = read_checkpoint(path);
  const CheckpointInfo info = info_of(entries);
  try {
    model.load_state_dict(nn::strip_prefix("model.", entries));
    if (optimizer) optimizer->load_state_dict(nn::strip_prefix("optim.", entries));
  } catch (const Error& e) {
    fail("load_checkpoint: ", path, ": ", e.what());
  }
  return info;
}

void load_weights(const std::string& path, nn::Module& model) {
  const std::map<std::string, Tensor> entries = nn::load_tensors(path);
  std::map<std::string, Tensor> weights = nn::strip_prefix("model.", entries);
  if (weights.empty()) weights = entries;  // a plain Module::save() file
  try {
    model.load_state_dict(weights);
  } catch (const Error& e) {
    fail("load_weights: ", path, ": ", e.what());
  }
}

CheckpointInfo read_checkpoint_info(const std::string& path) { return info_of(read_checkpoint(path)); }

std::optional<MetricsLog> read_checkpoint_metrics(const std::string& path) {
  const std::map<std::string, Tensor> entries = nn::strip_prefix("metrics.", read_checkpoint(path));
  if (entries.empty()) return std::nullopt;
  // "<i>.<column>": the map orders "10.x" before "2.y", so columns go to their parsed index.
  std::vector<std::string> names(entries.size());
  std::vector<std::vector<double>> columns(entries.size());
  for (const auto& [key, t] : entries) {
    const std::size_t dot = key.find('.');
    std::size_t index = entries.size();
    if (dot != std::string::npos && dot > 0 && dot <= 6 &&
        key.find_first_not_of("0123456789") == dot)
      index = std::stoul(key.substr(0, dot));
    if (index >= entries.size() || !names[index].empty())
      fail("read_checkpoint_metrics: ", path, ": entry metrics.", key, " is not metrics.<i>.<column> with i in [0, ",
           entries.size(), ") used once");
    if (t.dtype() != kFloat64 || t.dim() != 1)
      fail("read_checkpoint_metrics: ", path, ": entry metrics.", key, " is ", to_string(t.dtype()), " of shape ",
           to_string(t.shape()), ", not a 1-D float64 column");
    names[index] = key.substr(dot + 1);
    columns[index] = t.to_vector();
  }
  std::optional<MetricsLog> log;
  try {
    log.emplace(names);
  } catch (const Error& e) {
    fail("read_checkpoint_metrics: ", path, ": ", e.what());
  }
  const std::size_t rows = columns[0].size();
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].size() != rows)
      fail("read_checkpoint_metrics: ", path, ": column '", names[i], "' has ", columns[i].size(), " rows, column '",
           names[0], "' ", rows);
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<double> row;
    for (const auto& column : columns) row.push_back(column[r]);
    log->append(row);
  }
  return log;
}

std::size_t resumed_epoch(const std::string& path, const CheckpointInfo& info, std::size_t epochs) {
  const auto found = info.find("epoch");
  if (found == info.end()) fail("resume: ", path, " has no meta.epoch entry; it cannot be resumed");
  const double epoch = found->second;
  if (!(epoch >= 0 && epoch <= static_cast<double>(epochs)) || epoch != std::floor(epoch))
    fail("resume: ", path, " says it was written after epoch ", epoch, ", which is not a whole number in [0, ", epochs,
         "] (this run has ", epochs, " epochs)");
  return static_cast<std::size_t>(epoch);
}

void check_resumed_metrics(const std::string& path, const MetricsLog& saved, const std::vector<std::string>& columns,
                           std::size_t epoch) {
  if (saved.columns() != columns)
    fail("resume: ", path, " holds a metrics log with ", saved.columns().size(), " columns that are not this run's ",
         columns.size());
  if (saved.num_rows() != epoch)
    fail("resume: ", path, " was written after epoch ", epoch, " but holds ", saved.num_rows(), " metrics rows");
  for (std::size_t i = 0; i < epoch; ++i)
    if (saved.row(i)[0] != static_cast<double>(i + 1))
      fail("resume: ", path, ": metrics row ", i + 1, " is for epoch ", saved.row(i)[0], ", expected ", i + 1);
}

}  // namespace tg::training
