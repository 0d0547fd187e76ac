// L2 regularisation on Nielsen's network (README, "L2 regularisation"; bench/PROFILE.md): a
// training epoch with the penalty 0.5 lambda / n ||w||^2 added to the cost, against weight decay
// lambda / n on a weights-only parameter group (the README's recipe), and with neither.
//
//   l2_bench [--data datasets/mnist] [--reps 3] [--threads 1] [--lambda 5]
//
// 784-30-10 sigmoid, quadratic cost, SGD with eta 3 on shuffled mini-batches of 10 over the first
// 50,000 training images (n = 50,000), as network2.py with lmbda 5 and its quadratic cost. Each rep
// runs the three recipes (in an order rotated from rep to rep) from the same initial weights and
// the same shuffle. One JSON line per epoch, and one per rep with the largest difference between
// the penalty's and the decay's final parameters (the same updates, so only rounding).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tapegrad/tapegrad.hpp"

namespace {

namespace nn = tg::nn;
namespace F = tg::nn::functional;

enum class Recipe { none, penalty, decay };

const char* recipe_name(Recipe recipe) {
  switch (recipe) {
    case Recipe::none:
      return "none";
    case Recipe::penalty:
      return "l2_penalty in the cost";
    case Recipe::decay:
      return "weight decay on split_weights";
  }
  return "?";
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one_minute = NAN;
  in >> one_minute;
  return one_minute;
}

struct Epoch {
  double seconds = 0;
  double cpu_seconds = 0;  // this process's CPU time: less inflated than wall time on a loaded machine
  std::size_t steps = 0;
  std::vector<double> parameters;
};

Epoch train_epoch(Recipe recipe, const tg::data::TensorDataset& train, double lambda) {
  const double eta = 3.0, decay = lambda / static_cast<double>(train.size());
  tg::manual_seed(1);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 30, 10}, nn::Sigmoid());
  std::unique_ptr<tg::optim::SGD> optimizer;
  if (recipe == Recipe::decay) {
    auto [weights, others] = nn::split_weights(*model);
    optimizer = std::make_unique<tg::optim::SGD>(
        std::vector<tg::optim::ParamGroup>{
            tg::optim::ParamGroup(weights, tg::optim::SGDOptions(eta).weight_decay(decay)), others},
        tg::optim::SGDOptions(eta));
  } else {
    optimizer = std::make_unique<tg::optim::SGD>(model->parameters(), tg::optim::SGDOptions(eta));
  }
  const std::vector<tg::Tensor> weights = nn::weights(*model);
  const tg::data::DataLoader loader(train, tg::data::DataLoaderOptions(10).shuffle(true).seed(1));
  Epoch result;
  const double start = bench::now_seconds();
  const std::clock_t cpu_start = std::clock();
  for (const tg::data::Batch& batch : loader.epoch(0)) {
    tg::Tensor cost = F::quadratic_cost(tg::sigmoid((*model)(batch.input)), batch.target);
    if (recipe == Recipe::penalty) cost = cost + 0.5 * decay * nn::l2_penalty(weights);
    optimizer->zero_grad();
    cost.backward();
    optimizer->step();
    ++result.steps;
  }
  result.seconds = bench::now_seconds() - start;
  result.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  for (const tg::Tensor& p : model->parameters()) {
    const std::vector<double> v = p.to_vector();
    result.parameters.insert(result.parameters.end(), v.begin(), v.end());
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options opt(argc, argv, 1,
                             {{"data", "datasets/mnist"}, {"reps", "3"}, {"threads", "1"}, {"lambda", "5"}});
    tg::set_num_threads(static_cast<int>(opt.integer("threads")));
    const double lambda = std::stod(opt.str("lambda"));
    const tg::data::MnistSplit mnist = tg::data::load_mnist(opt.str("data"), "train");
    const tg::Tensor targets = F::one_hot(mnist.labels, F::OneHotFuncOptions().num_classes(10).dtype(tg::kFloat32));
    const tg::data::TensorDataset train = tg::data::TensorDataset(mnist.images, targets).slice(0, 50000);
    const Recipe order[] = {Recipe::none, Recipe::penalty, Recipe::decay};
    for (long rep = 0; rep < opt.integer("reps"); ++rep) {
      std::map<Recipe, Epoch> epochs;
      for (std::size_t k = 0; k < 3; ++k) {
        const Recipe recipe = order[(k + static_cast<std::size_t>(rep)) % 3];
        const double load = load_average();
        const Epoch& e = epochs[recipe] = train_epoch(recipe, train, lambda);
        bench::JsonLine()
            .add("workload", "l2_nielsen")
            .add("recipe", recipe_name(recipe))
            .add("rep", static_cast<double>(rep))
            .add("epoch_s", e.seconds)
            .add("cpu_s", e.cpu_seconds)
            .add("us_per_step", e.seconds / static_cast<double>(e.steps) * 1e6)
            .add("threads", static_cast<double>(tg::get_num_threads()))
            .add("loadavg_1min", load)
            .print();
      }
      const std::vector<double>& a = epochs[Recipe::penalty].parameters;
      const std::vector<double>& b = epochs[Recipe::decay].parameters;
      double max_diff = 0, max_abs = 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
        max_abs = std::max(max_abs, std::abs(a[i]));
      }
      bench::JsonLine()
          .add("workload", "l2_nielsen")
          .add("rep", static_cast<double>(rep))
          .add("penalty_vs_decay_max_abs_diff", max_diff)
          .add("max_abs_parameter", max_abs)
          .print();
    }
  } catch (const std::exception& e) {
    std::cerr << "l2_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
