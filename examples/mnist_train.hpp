// The two MNIST recipes of examples/mnist.cpp, as functions the tests can run too.
//
//   mlp:      784-256-128-10, ReLU, softmax cross-entropy, Adam (lr 1e-3), batches of 128,
//             PyTorch's default initialisation, dropout 0.2 after each hidden ReLU while
//             training, 10 epochs on all 60,000 training images. (Dropout p was chosen by the
//             final validation accuracy of 50,000/10,000 runs over seeds 1-5 among 0, 0.1, 0.2
//             and 0.3; see README.)
//             (init "kaiming" instead: He et al.'s N(0, 2 / fan_in) weights, zero biases.)
//   nielsen:  784-30-10, sigmoid hidden and output units, the quadratic cost
//             0.5 ||a - y||^2 (averaged over the batch) against one-hot targets, plain SGD with
//             eta 3.0 on mini-batches of 10, weights and biases drawn from N(0, 1), 30 epochs:
//             Nielsen, "Neural Networks and Deep Learning", chapter 1 (network.py), which
//             trains on the first 50,000 training images and keeps the last 10,000 for validation.
// Both take pixels scaled to [0, 1].
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace examples::mnist {

/// A recipe: network, loss, optimizer and schedule.
struct Preset {
  std::string name;
  std::vector<std::size_t> hidden;
  bool sigmoid = false;  ///< sigmoid units and quadratic cost (nielsen), else ReLU and cross-entropy
  bool adam = false;     ///< Adam, else plain SGD
  double lr = 0;
  std::size_t batch_size = 0;
  std::size_t epochs = 0;
  std::size_t validation = 0;  ///< last training images held out for validation (0: none)
  /// How the parameters start: "default" (nn.Linear's: weights and biases from
  /// U(-1/sqrt(fan_in), 1/sqrt(fan_in))), "kaiming" (He et al. 2015 for ReLU: weights from
  /// N(0, 2 / fan_in), biases 0) or "normal" (weights and biases from N(0, 1), as network.py).
  std::string init = "default";
  double dropout = 0;  ///< > 0: dropout with this probability after each hidden activation
};

/// The initialisations a preset can name.
inline const std::vector<std::string> kInits = {"default", "kaiming", "normal"};

/// The preset called name ("mlp" or "nielsen"); tg::Error for any other name.
inline Preset preset(const std::string& name) {
  if (name == "mlp") return {"mlp", {256, 128}, false, true, 1e-3, 128, 10, 0, "default", 0.2};
  if (name == "nielsen") return {"nielsen", {30}, true, false, 3.0, 10, 30, 10000, "normal"};
  tg::fail("mnist: unknown preset '", name, "' (known: mlp, nielsen)");
}

/// The network of a preset over `inputs` features and `classes` outputs, initialised from gen.
inline std::shared_ptr<tg::nn::MLP> make_model(const Preset& p, std::size_t inputs, std::size_t classes,
                                               tg::Generator& gen) {
  std::vector<std::size_t> sizes{inputs};
  sizes.insert(sizes.end(), p.hidden.begin(), p.hidden.end());
  sizes.push_back(classes);
  tg::nn::MLPOptions options;
  options.dropout = p.dropout;
  std::shared_ptr<tg::nn::MLP> model;
  if (p.sigmoid) {
    model = std::make_shared<tg::nn::MLP>(sizes, tg::nn::Sigmoid(), options, &gen);
    model->layers->push_back(std::make_shared<tg::nn::Sigmoid>());  // sigmoid outputs
  } else {
    model = std::make_shared<tg::nn::MLP>(sizes, tg::nn::ReLU(), options, &gen);
  }
  // The layers start with nn.Linear's default; the other inits redraw every parameter from gen.
  if (p.init == "default") return model;
  for (auto& [name, param] : model->named_parameters()) {
    const bool weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    if (p.init == "normal") {
      tg::nn::init::normal_(param, 0.0, 1.0, &gen);
    } else if (p.init == "kaiming") {
      // All three layers, the output layer too: its input is a ReLU output like the hidden
      // layers', which is what the factor 2 in He et al.'s derivation compensates for.
      if (weight) tg::nn::init::kaiming_normal_(param, 0.0, "fan_in", "relu", &gen);
      else tg::nn::init::zeros_(param);
    } else {
      tg::fail("mnist: unknown init '", p.init, "' (known: default, kaiming, normal)");
    }
  }
  return model;
}

inline std::unique_ptr<tg::optim::Optimizer> make_optimizer(const Preset& p, const tg::nn::Module& model) {
  if (p.adam) return std::make_unique<tg::optim::Adam>(model.parameters(), tg::optim::AdamOptions(p.lr));
  return std::make_unique<tg::optim::SGD>(model.parameters(), tg::optim::SGDOptions(p.lr));
}

/// The preset's loss of a batch (mean over the batch) for int64 labels.
inline tg::Tensor loss(const Preset& p, const tg::Tensor& output, const tg::Tensor& labels) {
  if (!p.sigmoid) return tg::nn::functional::cross_entropy(output, labels);
  return tg::nn::functional::quadratic_cost(output, tg::data::one_hot(labels, output.size(1), output.dtype()));
}

/// Gives every Dropout layer of model a generator seeded from (seed, epoch, its position, rank),
/// so the masks of an epoch do not depend on what ran before it: a run resumed from the
/// checkpoint of an epoch draws the masks an uninterrupted run draws. `rank` (data-parallel
/// runs) gives each process masks of its own for its part of the batch.
inline void seed_dropout(tg::nn::Module& model, std::uint64_t seed, std::size_t epoch, std::size_t rank = 0) {
  std::uint64_t layer = 0;
  model.apply([&](tg::nn::Module& m) {
    if (auto* dropout = dynamic_cast<tg::nn::Dropout*>(&m)) {
      // Distinct, well-mixed seeds per (seed, epoch, layer, rank) (splitmix64's finaliser); rank 0
      // adds nothing, so a single process draws what it drew before data parallelism existed.
      std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (1 + epoch * 1024 + layer++) + 0xD1B54A32D192ED03ull * rank;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      dropout->seed(z ^ (z >> 31));
    }
  });
}

/// One pass over the loader's batches of `epoch` (its order depends only on seed and epoch, and
/// so do the dropout masks): zero_grad, loss, backward, step. Reports each batch to progress
/// when given; returns the mean loss per sample over the epoch (of this process's samples when
/// the loader has a DistributedSampler, whose rank also seeds the dropout masks).
inline double train_epoch(tg::nn::Module& model, tg::optim::Optimizer& optimizer, const Preset& p,
                          const tg::data::DataLoader& loader, std::size_t epoch,
                          tg::training::Progress* progress = nullptr) {
  model.train();
  const auto& sampler = loader.options().sampler();
  seed_dropout(model, sampler ? sampler->options().seed() : loader.options().seed(), epoch,
               sampler ? sampler->rank() : 0);
  double loss_sum = 0;
  std::size_t samples = 0;
  std::size_t k = 0;
  for (const tg::data::Batch& batch : loader.epoch(epoch)) {
    optimizer.zero_grad();
    tg::Tensor batch_loss = loss(p, model(batch.input), batch.target);
    const std::size_t n = batch.input.size(0);
    if (sampler) {
      // DistributedDataParallel averages the processes' gradients of their own batch means; when
      // the processes' parts of global batch k differ in size (N does not divide it), weighting
      // each mean by n N / (size of batch k) makes that average the gradient of batch k's mean.
      const std::size_t global = loader.options().global_batch_size();
      const std::size_t size_k = std::min(global, sampler->total_size() - k * global);
      const double weight = static_cast<double>(n * sampler->num_replicas()) / static_cast<double>(size_k);
      if (weight != 1)
        (batch_loss * weight).backward();
      else
        batch_loss.backward();
    } else {
      batch_loss.backward();
    }
    ++k;
    optimizer.step();
    const double value = batch_loss.item();
    loss_sum += value * static_cast<double>(n);
    samples += n;
    if (progress) progress->step(n, value);
  }
  return samples ? loss_sum / static_cast<double>(samples) : 0.0;
}

}  // namespace examples::mnist
