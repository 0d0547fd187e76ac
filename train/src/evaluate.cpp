// evaluate() and predict(): forward passes without a tape.
#include "tapegrad/train/evaluate.hpp"

#include <vector>

#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg::training {

Evaluation evaluate(nn::Module& model, const data::DataLoader& loader, const LossFunction& loss,
                    std::size_t num_classes) {
  EvalModeGuard eval_mode(model);
  NoGradGuard no_grad;
  Evaluation result;
  result.confusion = ConfusionMatrix(num_classes);
  double loss_sum = 0;
  for (const data::Batch& batch : loader.epoch(0)) {
    const Tensor output = model(batch.input);
    const std::size_t n = output.size(0);
    if (loss) loss_sum += loss(output, batch.target).item() * static_cast<double>(n);
    result.confusion.add(output, batch.target);
    result.samples += n;
  }
  if (result.samples > 0) result.loss = loss_sum / static_cast<double>(result.samples);
  result.accuracy = result.confusion.accuracy();
  return result;
}

Evaluation evaluate(nn::Module& model, const data::TensorDataset& dataset, const LossFunction& loss,
                    std::size_t num_classes, std::size_t batch_size) {
  return evaluate(model, data::DataLoader(dataset, data::DataLoaderOptions(batch_size)), loss, num_classes);
}

Tensor predict(nn::Module& model, const Tensor& inputs, std::size_t batch_size) {
  if (batch_size == 0) fail("predict: batch_size must be positive");
  EvalModeGuard eval_mode(model);
  NoGradGuard no_grad;
  const std::size_t n = inputs.size(0);
  if (n <= batch_size) return model(inputs);
  std::vector<Tensor> outputs;
  for (std::size_t begin = 0; begin < n; begin += batch_size) {
    const std::size_t end = std::min(n, begin + batch_size);
    outputs.push_back(model(slice(inputs, 0, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end))));
  }
  return cat(outputs, 0);
}

}  // namespace tg::training
