// checkpoint_sequential (tapegrad/nn/checkpoint.hpp).
#include "tapegrad/nn/checkpoint.hpp"

#include <memory>
#include <vector>

namespace tg::nn {

Tensor checkpoint_sequential(Sequential& seq, std::size_t segments, const Tensor& input,
                             const CheckpointOptions& options) {
  const std::size_t n = seq.size();
  if (segments < 1 || segments > n)
    fail("checkpoint_sequential: segments must be in [1, ", n, "] for a Sequential of ", n, " modules, got ", segments);
  std::vector<std::shared_ptr<Module>> modules = seq.children();
  const std::size_t per = n / segments;
  Tensor x = input;
  std::size_t start = 0;
  for (std::size_t s = 0; s + 1 < segments; ++s, start += per) {
    std::vector<std::shared_ptr<Module>> run(modules.begin() + static_cast<std::ptrdiff_t>(start),
                                             modules.begin() + static_cast<std::ptrdiff_t>(start + per));
    std::vector<Tensor> params = options.parameters();
    for (const auto& m : run)
      for (const Tensor& p : m->parameters()) params.push_back(p);
    // The modules by value: the recorded node runs them again in backward.
    x = tg::checkpoint(
        [run](const std::vector<Tensor>& in) {
          Tensor y = in[0];
          for (const auto& m : run) y = m->forward(y);
          return y;
        },
        {x}, CheckpointOptions(options).parameters(std::move(params)));
  }
  for (std::size_t i = start; i < n; ++i) x = modules[i]->forward(x);
  return x;
}

}  // namespace tg::nn
