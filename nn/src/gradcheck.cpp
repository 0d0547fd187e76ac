// gradcheck of a module's parameters (tapegrad/nn/gradcheck.hpp).
#include "tapegrad/nn/gradcheck.hpp"

#include <algorithm>
#include <vector>

namespace tg {

GradcheckReport gradcheck(nn::Module& module, const Tensor& input, const GradcheckOptions& options) {
  if (options.check_forward_ad())
    fail(
        "gradcheck(module): check_forward_ad is not supported for a module (its forward reads its own parameter "
        "tensors, which cannot carry a tangent set from outside); check a function of the parameters instead");
  std::vector<Tensor> params;
  for (const Tensor& p : module.parameters())
    if (p.requires_grad()) params.push_back(p);
  std::vector<Tensor> inputs{input};
  inputs.insert(inputs.end(), params.begin(), params.end());
  // gradcheck evaluates f on copies of its inputs for finite differences: the parameters then
  // take the copies' values for one forward, and get their own back right after it. The writes
  // go through data_ptr without a version bump: the values a recorded graph saved are restored
  // before anything can read them.
  std::vector<std::vector<double>> originals;
  for (const Tensor& p : params) {
    if (p.dtype() != kFloat64)
      fail("gradcheck(module): parameter '", p.name(), "' is ", to_string(p.dtype()),
           "; finite differences need float64 (call module.to(tg::kFloat64))");
    originals.push_back(p.to_vector());
  }
  auto f = [&](const std::vector<Tensor>& in) {
    std::vector<std::size_t> written;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (in[i + 1].is_same(params[i])) continue;
      const double* from = in[i + 1].data_ptr<double>();
      std::copy(from, from + params[i].numel(), params[i].data_ptr<double>());
      written.push_back(i);
    }
    struct Restore {
      std::vector<Tensor>& params;
      std::vector<std::vector<double>>& originals;
      std::vector<std::size_t>& written;
      ~Restore() {
        for (std::size_t i : written) std::copy(originals[i].begin(), originals[i].end(), params[i].data_ptr<double>());
      }
    } restore{params, originals, written};
    return module.forward(in[0]);
  };
  return gradcheck(SingleFunction(f), inputs, options);
}

}  // namespace tg
