// clusters: three Gaussian clusters in the plane, told apart by a 2-3-3 network.
//
// The data are made as the NumPy original makes them: np.random.seed(1234), then
// randn(600).reshape(300, 2) with the centres (-2,-2), (0,2) and (2,-2) added to rows 0-99,
// 100-199 and 200-299 (classes 0, 1, 2). The weights are the next draws of the same stream, in
// the original's order: W1 = randn(2, 3), b1 = randn(3), W2 = randn(3, 3), b2 = randn(3). The
// network has a sigmoid hidden layer and a softmax output (folded into the cross-entropy, which
// takes the logits); plain gradient descent on the total cross-entropy
// -sum_n log p(y_n | x_n) over all 300 points.
//
// Prints the cost and classification rate as it trains; writes metrics.csv, curves.png/.svg and
// decision_boundary.png/.svg into --plot-dir.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace nn = tg::nn;
namespace plot = tg::training::plot;

namespace {

struct Points {
  tg::Tensor x;  // (N, 2) float64
  tg::Tensor y;  // (N) int64
  std::vector<std::string> class_names;
};

/// The three clusters, drawn from the NumPy stream.
Points make_clusters(tg::NumpyRandomState& numpy) {
  const double centres[3][2] = {{-2, -2}, {0, 2}, {2, -2}};
  xt::xarray<double> x = numpy.randn({600}).value<double>();
  x.reshape({300, 2});
  xt::xarray<std::int64_t> y = xt::zeros<std::int64_t>({300});
  for (std::size_t i = 0; i < 300; ++i) {
    x(i, 0) += centres[i / 100][0];
    x(i, 1) += centres[i / 100][1];
    y(i) = static_cast<std::int64_t>(i / 100);
  }
  return {tg::Tensor(x), tg::Tensor(y), {"centre (-2,-2)", "centre (0,2)", "centre (2,-2)"}};
}

/// Points from a CSV file with two feature columns and a label column.
Points read_points(const std::string& path) {
  const tg::data::CsvTable table = tg::data::read_csv(path);
  if (table.features.size(1) != 2)
    tg::fail("clusters: ", path, " has ", table.features.size(1), " feature columns; expected 2 (x1, x2, label)");
  return {table.feature_tensor(tg::kFloat64), table.label_tensor(), table.classes};
}

/// Linear layers with sigmoids between them: 2 -> hidden... -> classes.
std::shared_ptr<nn::Sequential> make_network(const std::vector<std::size_t>& hidden, std::size_t classes) {
  auto net = std::make_shared<nn::Sequential>();
  std::size_t in = 2;
  for (std::size_t h : hidden) {
    net->push_back(std::make_shared<nn::Linear>(in, h));
    net->push_back(std::make_shared<nn::Sigmoid>());
    in = h;
  }
  net->push_back(std::make_shared<nn::Linear>(in, classes));
  return net;
}

/// Sets every Linear layer as the NumPy original does: W = randn(in, out), then b = randn(out).
/// (A Linear stores W transposed, as (out, in).)
void numpy_initialise(nn::Sequential& net, tg::NumpyRandomState& numpy) {
  tg::NoGradGuard no_grad;
  for (const auto& [name, module] : net.named_children()) {
    auto linear = std::dynamic_pointer_cast<nn::Linear>(module);
    if (!linear) continue;
    linear->weight.mutable_value<double>() =
        xt::transpose(numpy.randn({linear->in_features, linear->out_features}).value<double>());
    linear->bias.mutable_value<double>() = numpy.randn({linear->out_features}).value<double>();
  }
}

tg::Tensor total_cross_entropy(const tg::Tensor& logits, const tg::Tensor& target) {
  return nn::functional::cross_entropy(logits, target, {}, nn::Reduction::sum);
}

tg::Tensor mean_cross_entropy(const tg::Tensor& logits, const tg::Tensor& target) {
  return nn::functional::cross_entropy(logits, target);
}

/// The predicted class over a grid covering the points with a margin of 1.
plot::DecisionRegions decision_regions(nn::Module& net, const Points& points) {
  const xt::xarray<double>& x = points.x.value<double>();
  plot::DecisionRegions r;
  r.title = "Decision regions of the trained network, with the data";
  for (std::size_t i = 0; i < x.shape(0); ++i) {
    r.point_x.push_back(x(i, 0));
    r.point_y.push_back(x(i, 1));
  }
  r.x_min = *std::min_element(r.point_x.begin(), r.point_x.end()) - 1;
  r.x_max = *std::max_element(r.point_x.begin(), r.point_x.end()) + 1;
  r.y_min = *std::min_element(r.point_y.begin(), r.point_y.end()) - 1;
  r.y_max = *std::max_element(r.point_y.begin(), r.point_y.end()) + 1;
  r.nx = r.ny = 250;
  xt::xarray<double> grid = xt::zeros<double>({r.nx * r.ny, std::size_t{2}});
  for (std::size_t i = 0; i < r.ny; ++i)
    for (std::size_t j = 0; j < r.nx; ++j) {
      grid(i * r.nx + j, 0) =
          r.x_min + (static_cast<double>(j) + 0.5) * (r.x_max - r.x_min) / static_cast<double>(r.nx);
      grid(i * r.nx + j, 1) =
          r.y_min + (static_cast<double>(i) + 0.5) * (r.y_max - r.y_min) / static_cast<double>(r.ny);
    }
  r.grid_class = tg::training::class_indices(tg::training::predict(net, tg::Tensor(grid)));
  r.point_class = tg::training::class_indices(points.y);
  r.class_names = points.class_names;
  return r;
}

int run(const examples::Flags& flags) {
  tg::set_default_dtype(tg::kFloat64);  // NumPy's precision throughout
  tg::NumpyRandomState numpy(flags.seed);
  const Points points = flags.data.empty() ? make_clusters(numpy) : read_points(flags.data);
  const std::size_t n = points.x.size(0), classes = points.class_names.size();

  auto net = make_network(flags.hidden, classes);
  numpy_initialise(*net, numpy);
  if (!flags.load.empty()) tg::training::load_weights(flags.load, *net);
  tg::optim::SGD optimizer(net->parameters(), tg::optim::SGDOptions(flags.lr));
  const tg::data::TensorDataset dataset(points.x, points.y);
  const tg::data::DataLoader loader(
      dataset, tg::data::DataLoaderOptions(flags.batch_size).shuffle(flags.batch_size < n).seed(flags.seed));

  std::cout << "clusters: " << n << " points in " << classes << " classes; network 2";
  for (std::size_t h : flags.hidden) std::cout << "-" << h;
  std::cout << "-" << classes << " (sigmoid hidden, softmax output), learning rate " << flags.lr << ", "
            << flags.epochs << " epochs of " << loader.num_batches() << " batch(es)\n";

  tg::training::MetricsLog log({"epoch", "cost", "classification_rate"});
  auto measure_and_log = [&](std::size_t epoch) {
    const auto result = tg::training::evaluate(*net, dataset, mean_cross_entropy, classes, n);
    const double cost = result.loss * static_cast<double>(n);  // evaluate() gives the mean per point
    log.append({static_cast<double>(epoch), cost, result.accuracy});
    char line[128];
    std::snprintf(line, sizeof line, "epoch %5zu  cost %10.4f  classification rate %.4f", epoch, cost, result.accuracy);
    return std::string(line);
  };
  const std::size_t report_every = std::max<std::size_t>(1, flags.epochs / 10);
  std::cout << measure_and_log(0) << "\n";
  for (std::size_t epoch = 1; epoch <= flags.epochs; ++epoch) {
    for (const tg::data::Batch& batch : loader.epoch(epoch - 1)) {
      optimizer.zero_grad();
      total_cross_entropy((*net)(batch.input), batch.target).backward();
      optimizer.step();
    }
    const std::string line = measure_and_log(epoch);
    if (epoch % report_every == 0 || epoch == flags.epochs) std::cout << line << "\n";
  }

  if (!flags.save.empty()) {
    tg::training::save_checkpoint(flags.save, *net, optimizer, {{"epoch", static_cast<double>(flags.epochs)}});
    std::cout << "saved the model to " << flags.save << "\n";
  }
  if (!examples::make_plot_dir("clusters", flags.plot_dir)) return 1;
  log.write(flags.plot_dir + "/metrics.csv");
  std::cout << "wrote " << flags.plot_dir << "/metrics.csv\n";
  plot::LineChart cost{"Cost", "epoch", "total cross-entropy", {{"cost", log.column("epoch"), log.column("cost")}}};
  plot::LineChart rate{"Classification rate", "epoch", "fraction of points classified correctly",
                       {{"classification rate", log.column("epoch"), log.column("classification_rate")}}};
  rate.key = "bottom right";
  std::cout << plot::describe(plot::line_charts({cost, rate}, "clusters: training", {flags.plot_dir + "/curves"}))
            << "\n";
  std::cout << plot::describe(plot::decision_regions(decision_regions(*net, points),
                                                     {flags.plot_dir + "/decision_boundary"}))
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  examples::Flags flags;
  flags.epochs = 1000;
  flags.lr = 1e-3;
  flags.batch_size = 300;
  flags.hidden = {3};
  flags.seed = 1234;
  flags.plot_dir = "out/clusters";
  CLI::App app{"Three 2-D Gaussian clusters classified by a small sigmoid network trained with gradient descent.",
               "clusters"};
  examples::add_common_flags(app, flags);
  app.get_option("--data")->description("a CSV file of points (x1,x2,label) to use instead of the generated clusters");
  app.get_option("--seed")->description("NumPy seed for the clusters and the initial weights (np.random.seed)");
  app.get_option("--batch-size")->description("points per gradient step (300: all of them)");
  if (const int status = examples::parse_flags(app, argc, argv); status >= 0) return status;
  if (const int status = examples::refuse_network_too_large("clusters", 2, flags.hidden, 3); status >= 0) return status;
  try {
    examples::apply_threads(flags.threads);
    return run(flags);
  } catch (const std::exception& e) {
    std::cerr << "clusters: " << e.what() << "\n";
    return 1;
  }
}
