// A model and its optimizer saved in one .npz checkpoint mid-run resume exactly.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

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

TEST_CASE("checkpoint: the metrics log saved inside it reads back, and a damaged one is refused",
          "[hostile][checkpoint]") {
  // The log travels in the checkpoint so that one rename moves both (issue 15); the CSV is a copy.
  const std::string path = "/tmp/tapegrad_ckpt_metrics_" + std::to_string(::getpid()) + ".npz";
  Run r = make_run("adam");
  // 12 columns: entry "metrics.10.c10" sorts before "metrics.2.c2", so the order must come from the index.
  std::vector<std::string> columns{"epoch"};
  for (int c = 1; c < 12; ++c) columns.push_back("c" + std::to_string(c));
  training::MetricsLog log(columns);
  for (int i = 1; i <= 3; ++i) {
    std::vector<double> row{double(i)};
    for (int c = 1; c < 12; ++c) row.push_back(c + 1.0 / (i + 2));
    log.append(row);
  }
  training::save_checkpoint(path, *r.model, *r.opt, {{"epoch", 3}}, &log);
  const auto back = training::read_checkpoint_metrics(path);
  REQUIRE(back.has_value());
  CHECK(back->columns() == log.columns());
  CHECK(back->to_csv() == log.to_csv());
  // Without a log: none, and the weights load as before.
  training::save_checkpoint(path, *r.model, *r.opt, {{"epoch", 1}});
  CHECK_FALSE(training::read_checkpoint_metrics(path).has_value());

  auto entries = nn::load_tensors(path);
  const auto damaged = [&](std::map<std::string, Tensor> extra) {
    auto all = entries;
    for (auto& [k, v] : extra) all[k] = v;
    nn::save_tensors(path, all);
  };
  const Tensor column = tensor({1.0, 2.0}, kFloat64);
  damaged({{"metrics.0.epoch", column}, {"metrics.2.loss", column}});
  CHECK_THROWS_WITH(training::read_checkpoint_metrics(path),
                    Catch::Matchers::Contains("entry metrics.2.loss is not metrics.<i>.<column> with i in [0, 2)"));
  damaged({{"metrics.0.epoch", column}, {"metrics.1.loss", tensor({1.0, 2.0, 3.0}, kFloat64)}});
  CHECK_THROWS_WITH(training::read_checkpoint_metrics(path),
                    Catch::Matchers::Contains("column 'loss' has 3 rows, column 'epoch' 2"));
  damaged({{"metrics.0.epoch", tensor({1.0f, 2.0f}, kFloat32)}});
  CHECK_THROWS_WITH(
      training::read_checkpoint_metrics(path),
      Catch::Matchers::Contains("entry metrics.0.epoch is float32 of shape (2), not a 1-D float64 column"));
  damaged({{"metrics.0.epoch", column}, {"metrics.1.epoch", column}});
  CHECK_THROWS_WITH(training::read_checkpoint_metrics(path), Catch::Matchers::Contains("column 'epoch' appears twice"));
  std::remove(path.c_str());
}
