// Checkpoints as one .npz: model.*, optim.* and meta.* entries.
#include "tapegrad/train/checkpoint.hpp"

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
                     const CheckpointInfo& info) {
  std::map<std::string, Tensor> entries = nn::with_prefix("model.", model.state_dict());
  for (auto& [name, tensor] : nn::with_prefix("optim.", optimizer.state_dict())) entries.emplace(name, tensor);
  for (const auto& [key, value] : info) entries.emplace("meta." + key, tensor(value, kFloat64));
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

}  // namespace tg::training
