// A small training run that checkpoints every few steps and can resume from its checkpoint; the
// recovery test (test_recovery.cpp) kills it with SIGKILL mid-run and checks that the resumed run
// ends with exactly the weights of an uninterrupted one.
//
//   train_resume_child <dir> [--resume] [--step-delay-ms N]
//
// Trains an MLP (4 -> 16 -> 3, tanh) with Adam on 60 fixed samples, batches of 8 from a shuffled
// DataLoader, for 5 epochs. After every 3rd step it saves <dir>/checkpoint.npz atomically: the
// model ("model."), the optimizer ("optim.") and where it stands ("progress.epoch",
// "progress.batch": the next batch to run). Everything else a resumed run needs is a function of
// fixed seeds: the data, the initial weights and each epoch's order (DataLoader's order depends
// only on (seed, epoch)), so resuming means loading the checkpoint and skipping the batches of
// the current epoch that were already done. At the end it writes <dir>/final.npz (the model).
// --step-delay-ms slows each step so that the test can kill the run part-way.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {

constexpr std::size_t kEpochs = 5, kSamples = 60, kBatch = 8, kCheckpointEvery = 3;

struct Progress {
  std::size_t epoch = 0, batch = 0;  // the next batch to run
};

Tensor count(std::size_t v) { return Tensor(xt::xarray<std::int64_t>(static_cast<std::int64_t>(v))); }

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& opt, Progress p) {
  auto state = nn::with_prefix("model.", model.state_dict());
  const auto o = nn::with_prefix("optim.", opt.state_dict());
  state.insert(o.begin(), o.end());
  state["progress.epoch"] = count(p.epoch);
  state["progress.batch"] = count(p.batch);
  nn::save_tensors(path, state);
}

Progress load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt) {
  const auto state = nn::load_tensors(path);
  model.load_state_dict(nn::strip_prefix("model.", state));
  opt.load_state_dict(nn::strip_prefix("optim.", state));
  const auto progress = nn::strip_prefix("progress.", state);
  return {progress.at("epoch").item<std::size_t>(), progress.at("batch").item<std::size_t>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: train_resume_child <dir> [--resume] [--step-delay-ms N]\n";
    return 2;
  }
  const std::string dir = argv[1];
  bool resume = false;
  int delay_ms = 0;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--resume") == 0) resume = true;
    else if (std::strcmp(argv[i], "--step-delay-ms") == 0 && i + 1 < argc) delay_ms = std::atoi(argv[++i]);
  }
  const std::string checkpoint = dir + "/checkpoint.npz";
  try {
    Generator data_gen(5);
    const Tensor x = randn({kSamples, 4}, kFloat32, &data_gen);
    const Tensor y = randint(0, 3, {kSamples}, &data_gen);
    data::DataLoader loader(data::TensorDataset(x, y), data::DataLoaderOptions(kBatch).shuffle(true).seed(3));

    Generator init_gen(7);
    nn::MLP model({4, 16, 3}, nn::Tanh(), {}, &init_gen);
    optim::Adam opt(model.parameters(), optim::AdamOptions(0.01));

    Progress at;
    if (resume && std::filesystem::exists(checkpoint)) at = load_checkpoint(checkpoint, model, opt);
    std::size_t steps_since_checkpoint = 0;
    for (std::size_t epoch = at.epoch; epoch < kEpochs; ++epoch) {
      const auto batches = loader.epoch(epoch);
      for (auto it = batches.begin(); it != batches.end(); ++it) {
        if (epoch == at.epoch && it.index() < at.batch) continue;  // done before the interruption
        opt.zero_grad();
        Tensor loss = nn::functional::cross_entropy(model(it->input), it->target);
        loss.backward();
        opt.step();
        if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        if (++steps_since_checkpoint == kCheckpointEvery) {
          const bool epoch_done = it.index() + 1 == batches.size();
          save_checkpoint(checkpoint, model, opt,
                          epoch_done ? Progress{epoch + 1, 0} : Progress{epoch, it.index() + 1});
          steps_since_checkpoint = 0;
        }
      }
    }
    model.save(dir + "/final.npz");
  } catch (const Error& e) {
    std::cerr << "train_resume_child: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
