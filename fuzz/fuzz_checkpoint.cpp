// libFuzzer target: a checkpoint (.npz) from arbitrary bytes, loaded as a training program
// resumes: tensors -> model (strict and non-strict) and optimizer state, then one optimizer step
// with what was loaded. tg::Error is the expected answer to bad input; anything else (another
// exception, a crash, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/nn.hpp"
#include "tapegrad/optim/optim.hpp"

namespace {

void step_once(tg::optim::Optimizer& opt, tg::nn::Module& model) {
  for (auto& p : model.parameters()) p.set_grad(tg::ones_like(p));
  opt.step();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, tg::Tensor> tensors;
  try {
    tensors = tg::nn::load_tensors_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npz");
  } catch (const tg::Error&) {
    return 0;
  }
  tg::Generator gen(1);
  tg::nn::MLP model({3, 2, 1}, tg::nn::Tanh(), tg::nn::MLPOptions{0.0, true}, &gen);
  for (bool strict : {true, false}) {
    try {
      model.load_state_dict(tg::nn::strip_prefix("model.", tensors), strict);
    } catch (const tg::Error&) {
    }
  }
  const auto optimizer_state = tg::nn::strip_prefix("optim.", tensors);
  try {
    tg::optim::Adam adam(model.parameters(), tg::optim::AdamOptions(0.01).amsgrad(true));
    adam.load_state_dict(optimizer_state);
    step_once(adam, model);
  } catch (const tg::Error&) {
  }
  try {
    tg::optim::SGD sgd(model.parameters(), tg::optim::SGDOptions(0.01).momentum(0.9));
    sgd.load_state_dict(optimizer_state);
    step_once(sgd, model);
  } catch (const tg::Error&) {
  }
  try {
    tg::optim::LBFGS lbfgs(model.parameters(), tg::optim::LBFGSOptions(0.1).max_iter(2).history_size(2));
    lbfgs.load_state_dict(optimizer_state);
    const tg::Tensor x = tg::ones({2, 3});
    lbfgs.step([&] {
      lbfgs.zero_grad();
      tg::Tensor loss = tg::sum(model(x));
      loss.backward();
      return loss;
    });
  } catch (const tg::Error&) {
  }
  return 0;
}
