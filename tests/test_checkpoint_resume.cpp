// A model and its optimizer saved in one .npz checkpoint mid-run resume exactly.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "tapegrad/nn.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {
struct Run {
  std::shared_ptr<nn::MLP> model;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::StepLR> sched;
};

Run make_run(const std::string& which) {
  Generator gen(21);
  Run r;
  r.model = std::make_shared<nn::MLP>(std::vector<std::size_t>{6, 12, 3}, nn::Tanh(), nn::MLPOptions{}, &gen);
  if (which == "adam")
    r.opt = std::make_unique<optim::Adam>(r.model->parameters(), optim::AdamOptions(1e-2).amsgrad(true));
  else
    r.opt = std::make_unique<optim::SGD>(r.model->parameters(), optim::SGDOptions(0.05).momentum(0.9).nesterov(true));
  r.sched = std::make_unique<optim::StepLR>(*r.opt, 7, 0.5);
  return r;
}

void train_steps(Run& r, const Tensor& x, const Tensor& y, int from, int to) {
  for (int step = from; step < to; ++step) {
    r.opt->zero_grad();
    Tensor loss = nn::functional::cross_entropy((*r.model)(x), y);
    loss.backward();
    r.opt->step();
    r.sched->step();
  }
}
}  // namespace

TEST_CASE("checkpoint: model + optimizer + scheduler in one .npz resume bit for bit") {
  Generator data_gen(5);
  const Tensor x = randn({20, 6}, kFloat32, &data_gen);
  const Tensor y = randint(0, 3, {20}, &data_gen);
  const std::string path = "/tmp/tapegrad-ckpt-" + std::to_string(::getpid()) + ".npz";
  for (const std::string which : {"adam", "sgd"}) {
    INFO(which);
    Run straight = make_run(which);
    train_steps(straight, x, y, 0, 30);

    Run first = make_run(which);
    train_steps(first, x, y, 0, 13);
    auto state = nn::with_prefix("model.", first.model->state_dict());
    for (auto& [k, v] : nn::with_prefix("optim.", first.opt->state_dict())) state[k] = v;
    for (auto& [k, v] : nn::with_prefix("sched.", first.sched->state_dict())) state[k] = v;
    nn::save_tensors(path, state);

    Run resumed = make_run(which);  // fresh objects, as after a restart
    const auto loaded = nn::load_tensors(path);
    resumed.model->load_state_dict(nn::strip_prefix("model.", loaded));
    resumed.opt->load_state_dict(nn::strip_prefix("optim.", loaded));
    resumed.sched->load_state_dict(nn::strip_prefix("sched.", loaded));
    train_steps(resumed, x, y, 13, 30);

    const auto a = straight.model->named_parameters(), b = resumed.model->named_parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      CHECK(bool(a[i].second.value<float>() == b[i].second.value<float>()));
    }
  }
  std::remove(path.c_str());
}
