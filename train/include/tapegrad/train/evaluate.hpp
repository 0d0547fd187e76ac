/// \file
/// Evaluating a model: predictions and metrics over a data set, in evaluation mode and without
/// recording a tape.
#pragma once

#include <cstddef>

#include "tapegrad/callback.hpp"
#include "tapegrad/data/dataset.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/train/metrics.hpp"

namespace tg::training {

/// Puts a module in evaluation mode for its lifetime and restores the previous mode after.
class EvalModeGuard {
 public:
  /// Calls module.eval(); the destructor calls module.train(previous mode).
  explicit EvalModeGuard(nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  nn::Module& module_;
  bool was_training_;
};

/// A batch's loss from the model's output and the batch's target. It must return the mean over
/// the batch (the losses' default reduction), so that evaluate() can weight batches by size.
using LossFunction = Callback<Tensor(const Tensor& output, const Tensor& target)>;

/// What evaluate() measured.
struct Evaluation {
  double loss = 0;           ///< mean loss per sample
  double accuracy = 0;       ///< fraction of samples whose largest output is the true class
  std::size_t samples = 0;   ///< number of samples evaluated
  ConfusionMatrix confusion{1};  ///< (true class, predicted class) counts over num_classes classes
};

/// Runs the model over every batch of the loader in evaluation mode (restored afterwards) with
/// recording off, and returns the sample-weighted mean loss, the accuracy and the confusion
/// matrix over num_classes classes. Outputs are (N, num_classes) scores; targets may be int64
/// classes (N) or one-hot rows (N, num_classes). An empty `loss` skips the loss (reported as 0).
Evaluation evaluate(nn::Module& model, const data::DataLoader& loader, const LossFunction& loss,
                    std::size_t num_classes);
/// The same over a whole data set, in order, batch_size rows at a time.
Evaluation evaluate(nn::Module& model, const data::TensorDataset& dataset, const LossFunction& loss,
                    std::size_t num_classes, std::size_t batch_size = 1000);

/// The model's outputs for all rows of inputs (first axis), computed batch_size rows at a time
/// in evaluation mode with recording off, concatenated.
Tensor predict(nn::Module& model, const Tensor& inputs, std::size_t batch_size = 1000);

}  // namespace tg::training
