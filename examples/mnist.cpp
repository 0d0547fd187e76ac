// mnist: handwritten digits (or Fashion-MNIST clothes) classified by a multilayer perceptron.
//
//   mnist                       784-256-128-10 ReLU, Adam: about 97.9% test accuracy in 10 epochs
//   mnist --preset nielsen      784-30-10 sigmoid, quadratic cost, SGD eta 3.0: about 95%
//   mnist --dataset fashion     the same on Fashion-MNIST
// (the recipes are in mnist_train.hpp). The mlp preset trains on all 60,000 training images,
// the nielsen preset on the first 50,000, validating on the last 10,000 (--validation sets how
// many are held out); both test on the 10,000 test images, which never choose anything. After
// each epoch it prints loss, accuracies, time and throughput, appends to metrics.csv, redraws the
// curves and saves a checkpoint (model and optimizer state, and the metrics log, so the two
// move together) atomically; --resume continues an interrupted run from that checkpoint, rewrites
// metrics.csv from it and ends with the weights and rows an uninterrupted run would have. At the
// end it prints and draws the test set's confusion matrix.
//
// Under `mpirun -np N` (when tapegrad was built with MPI) it trains data-parallel: every process
// takes its share of each batch of --batch-size (the global batch, so the run follows the
// single-process one), gradients are averaged by nn::DistributedDataParallel, and only rank 0
// evaluates, prints, writes the checkpoint, metrics and plots. --resume needs the checkpoint
// where every process can read it (one machine, or a shared file system).
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnist_train.hpp"
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
#include "tapegrad/distributed.hpp"
#endif

namespace nn = tg::nn;
namespace plot = tg::training::plot;
namespace training = tg::training;

namespace {

struct Settings {
  examples::Flags flags;
  std::string preset = "mlp";
  std::string dataset = "mnist";
  std::size_t validation = 0;    // --validation, when given (else the preset's)
  std::size_t train_images = 0;  // 0: all that are not validation
  std::size_t test_images = 0;   // 0: all
  std::string init;              // --init, when given (else the preset's)
  double dropout = 0;            // --dropout, when given (else the preset's)
  bool resume = false;
};

const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

/// Stops with a message that says how to get the data when the folder lacks it.
void check_data(const std::string& dir, const std::string& dataset) {
  for (const char* stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    const std::string path = dir + "/" + stem;
    if (exists(path) || exists(path + ".gz")) continue;
    if (dataset == "fashion")
      tg::fail("Fashion-MNIST not found: ", path, "(.gz) is missing. Install it with\n"
               "  apt-get install dataset-fashion-mnist\nor pass --data DIR.");
    tg::fail("MNIST not found: ", path, " is missing. Fetch it, from the repository root, with\n"
             "  bash scripts/fetch-mnist\nor pass --data DIR.");
  }
}

/// The processes training together: one without mpirun (or without MPI support).
class Job {
 public:
  Job() {
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
    if (!tg::distributed::launched_by_mpirun()) return;
    group_ = tg::distributed::init_mpi();
    rank_ = group_->rank();
    world_ = group_->world_size();
#endif
  }
  int rank() const { return rank_; }
  int world() const { return world_; }
  bool root() const { return rank_ == 0; }

  /// The model backward runs through: model itself, or wrapped to average gradients over the job
  /// (which first copies rank 0's parameters to every process).
  std::shared_ptr<nn::Module> parallel(const std::shared_ptr<nn::Module>& model) const {
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
    if (world_ > 1) return std::make_shared<nn::DistributedDataParallel>(model, group_);
#endif
    return model;
  }

  /// The mean of x over the processes.
  double mean(double x) const {
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
    if (world_ > 1) {
      tg::Tensor t = tg::full({1}, x, tg::TensorOptions(tg::kFloat64));
      group_->all_reduce(t, tg::distributed::ReduceOp::mean);
      return t.item();
    }
#endif
    return x;
  }

  /// Ends every process of the job (a failed process would otherwise leave the others waiting
  /// for it until their collectives time out).
  [[noreturn]] void abort(int code) const {
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
    if (world_ > 1) tg::distributed::abort_job(code);
#endif
    std::exit(code);
  }

 private:
  int rank_ = 0, world_ = 1;
#ifdef TAPEGRAD_EXAMPLES_HAVE_DISTRIBUTED
  std::shared_ptr<tg::distributed::ProcessGroup> group_;
#endif
};

std::string percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
  return buf;
}

/// The settings a checkpoint must share with the run that resumes it.
training::CheckpointInfo run_identity(const Settings& s, const examples::mnist::Preset& p) {
  return {
      {"preset_nielsen", p.name == "nielsen"},
      {"dataset_fashion", s.dataset == "fashion"},
      {"seed", static_cast<double>(s.flags.seed)},
      {"batch_size", static_cast<double>(p.batch_size)},
      {"lr", p.lr},
      {"validation", static_cast<double>(p.validation)},
      {"dropout", p.dropout},
      {"train_images", static_cast<double>(s.train_images)},
      {"init", static_cast<double>(std::find(examples::mnist::kInits.begin(), examples::mnist::kInits.end(), p.init) -
                                   examples::mnist::kInits.begin())}};
}

plot::PlotResult write_plots(const training::MetricsLog& log, const Settings& s, bool validating,
                             const std::string& title) {
  const auto epochs = log.column("epoch");
  plot::LineChart loss{"Loss", "epoch", s.preset == "nielsen" ? "quadratic cost" : "cross-entropy",
                       {{"training (mean over the epoch)", epochs, log.column("train_loss")}}};
  auto as_percent = [](std::vector<double> v) {
    for (double& x : v) x *= 100;
    return v;
  };
  plot::LineChart accuracy{"Accuracy", "epoch", "classified correctly",
                           {{"training", epochs, as_percent(log.column("train_accuracy"))}}};
  if (validating) {
    loss.series.push_back({"validation", epochs, log.column("val_loss")});
    accuracy.series.push_back({"validation", epochs, as_percent(log.column("val_accuracy"))});
  }
  accuracy.series.push_back({"test", epochs, as_percent(log.column("test_accuracy"))});
  accuracy.y_format = "%.1f%%";
  accuracy.key = "bottom right";
  return plot::line_charts({loss, accuracy}, title, {s.flags.plot_dir + "/curves"});
}

int run(Settings s, const CLI::App& app, const Job& job) {
  examples::mnist::Preset p = examples::mnist::preset(s.preset);
  examples::Flags& f = s.flags;
  if (app.count("--epochs")) p.epochs = f.epochs;
  if (app.count("--lr")) p.lr = f.lr;
  if (app.count("--batch-size")) p.batch_size = f.batch_size;
  if (app.count("--hidden")) p.hidden = f.hidden;
  if (app.count("--validation")) p.validation = s.validation;
  if (app.count("--init")) p.init = s.init;
  if (app.count("--dropout")) p.dropout = s.dropout;
  const std::string data_dir = !f.data.empty()          ? f.data
                               : s.dataset == "fashion" ? tg::data::kDefaultFashionMnistDir
                                                        : tg::data::kDefaultMnistDir;
  const std::string checkpoint = !f.save.empty() ? f.save : f.plot_dir + "/checkpoint.npz";
  const std::vector<std::string> class_names =
      s.dataset == "fashion" ? kFashionClasses
                             : std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

  check_data(data_dir, s.dataset);
  const tg::data::MnistSplit train_split = tg::data::load_mnist(data_dir, "train");
  const tg::data::MnistSplit test_split = tg::data::load_mnist(data_dir, "test");
  const tg::data::TensorDataset all_train = train_split.dataset();
  if (p.validation >= all_train.size())
    tg::fail("--validation ", p.validation, " leaves no training images (there are ", all_train.size(), ")");
  const bool validating = p.validation > 0;
  const std::size_t train_end = all_train.size() - p.validation;
  const tg::data::TensorDataset train =
      all_train.slice(0, s.train_images ? std::min(s.train_images, train_end) : train_end);
  const tg::data::TensorDataset validation = all_train.slice(train_end, all_train.size());
  const tg::data::TensorDataset all_test = test_split.dataset();
  const tg::data::TensorDataset test =
      all_test.slice(0, s.test_images ? std::min(s.test_images, all_test.size()) : all_test.size());

  tg::Generator gen(f.seed);
  auto model = examples::mnist::make_model(p, 784, 10, gen);
  auto optimizer = examples::mnist::make_optimizer(p, *model);
  if (!f.load.empty()) {
    training::load_weights(f.load, *model);
    std::cout << "loaded weights from " << f.load << "\n";
  }
  if (job.root() && !examples::make_plot_dir("mnist", f.plot_dir)) job.abort(1);
  const std::string metrics_path = f.plot_dir + "/metrics.csv";
  training::MetricsLog log({"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                            "test_accuracy", "train_seconds", "samples_per_second"});
  std::size_t start_epoch = 0;
  if (s.resume) {
    if (!exists(checkpoint)) tg::fail("--resume: there is no checkpoint at ", checkpoint, " to resume from");
    const training::CheckpointInfo info = training::read_checkpoint_info(checkpoint);
    for (const auto& [key, value] : run_identity(s, p)) {
      const auto found = info.find(key);
      if (found == info.end() || found->second != value)
        tg::fail("--resume: ", checkpoint, " was written by a run with ", key, " = ",
                 found == info.end() ? std::string("(none)") : std::to_string(found->second), ", this run has ",
                 std::to_string(value), "; resume with the same settings");
    }
    training::load_checkpoint(checkpoint, *model, optimizer.get());
    start_epoch = training::resumed_epoch(checkpoint, info, p.epochs);
    if (std::optional<training::MetricsLog> saved = training::read_checkpoint_metrics(checkpoint)) {
      // The checkpoint's own rows are authoritative: the CSV may have missed the last epoch's
      // row (killed between the two renames), and is rewritten from them below.
      training::check_resumed_metrics(checkpoint, *saved, log.columns(), start_epoch);
      log = *saved;
    } else if (exists(metrics_path)) {  // a checkpoint from before the log moved inside it
      const training::MetricsLog earlier = training::MetricsLog::read(metrics_path);
      if (earlier.columns() == log.columns())
        for (std::size_t i = 0; i < earlier.num_rows() && earlier.row(i)[0] <= static_cast<double>(start_epoch); ++i)
          log.append(earlier.row(i));
    }
    if (job.root()) log.write(metrics_path);
    std::cout << "resuming from " << checkpoint << " after epoch " << start_epoch << "\n";
  }

  const std::string title = std::string(s.dataset == "fashion" ? "Fashion-MNIST" : "MNIST") + ", preset " + p.name;
  std::string layers = "784";
  for (std::size_t h : p.hidden) layers += "-" + std::to_string(h);
  std::cout << title << ": " << layers << "-10 "
            << (p.sigmoid ? "sigmoid, quadratic cost, SGD" : "ReLU, cross-entropy, Adam") << " (lr " << p.lr << ")";
  if (p.dropout > 0) std::cout << ", dropout " << p.dropout;
  std::cout << ", batches of " << p.batch_size << ", " << p.epochs << " epochs, init " << p.init << "\n"
            << "images: " << train.size() << " training, "
            << (validating ? std::to_string(validation.size()) + " validation, " : std::string()) << test.size()
            << " test; " << tg::get_num_threads() << " thread(s)";
  if (job.world() > 1)
    std::cout << " in each of " << job.world() << " processes (data-parallel: each takes 1/" << job.world()
              << " of every batch)";
  std::cout << "\nBLAS: " << tg::to_string(tg::blas_info()) << "\n";

  auto loader_options = tg::data::DataLoaderOptions(p.batch_size).shuffle(true).seed(f.seed);
  if (job.world() > 1) {
    // The sampler's global order is the single-process loader's shuffle, and batch k of every
    // process holds its samples among positions [k B, (k + 1) B): together, batch k of one process.
    loader_options.sampler(std::make_shared<const tg::data::DistributedSampler>(
        train.size(), static_cast<std::size_t>(job.world()), static_cast<std::size_t>(job.rank()),
        tg::data::DistributedSamplerOptions().seed(f.seed)));
    loader_options.shuffle(false).global_batch_size(p.batch_size);
  }
  const tg::data::DataLoader loader(train, loader_options);
  const std::shared_ptr<nn::Module> trained = job.parallel(model);
  const training::LossFunction loss = [&p](const tg::Tensor& output, const tg::Tensor& labels) {
    return examples::mnist::loss(p, output, labels);
  };

  bool plot_failure_reported = false;
  for (std::size_t epoch = start_epoch + 1; epoch <= p.epochs; ++epoch) {
    training::ProgressOptions progress_options;
    progress_options.label = "epoch " + std::to_string(epoch) + "/" + std::to_string(p.epochs);
    training::Progress progress(loader.num_batches(), progress_options);
    const double train_loss =
        job.mean(examples::mnist::train_epoch(*trained, *optimizer, p, loader, epoch - 1, &progress));
    progress.finish();
    const double train_seconds = progress.elapsed();
    // The others go on to the next epoch and wait in its first all-reduce for rank 0, which
    // evaluates and writes alone.
    if (!job.root()) continue;

    const auto eval_start = std::chrono::steady_clock::now();
    const auto on_train = training::evaluate(*model, train, loss, 10);
    training::Evaluation on_validation;  // NaN loss and accuracy without a validation set
    on_validation.loss = on_validation.accuracy = std::nan("");
    if (validating) on_validation = training::evaluate(*model, validation, loss, 10);
    const auto on_test = training::evaluate(*model, test, loss, 10);
    const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();

    const double samples_per_second = progress.samples_per_second() * job.world();
    log.append({static_cast<double>(epoch), train_loss, on_train.accuracy, on_validation.loss, on_validation.accuracy,
                on_test.loss, on_test.accuracy, train_seconds, samples_per_second});
    const std::string validation_column = validating ? "  validation " + percent(on_validation.accuracy) : "";
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %2zu/%zu  loss %.4f  accuracy: train %s%s  test %s  |  %s, %.0f samples/s (+%s evaluation)\n",
                  epoch, p.epochs, train_loss, percent(on_train.accuracy).c_str(), validation_column.c_str(),
                  percent(on_test.accuracy).c_str(), training::format_duration(train_seconds).c_str(),
                  samples_per_second, training::format_duration(eval_seconds).c_str());
    std::cout << line << std::flush;

    training::CheckpointInfo info = run_identity(s, p);
    info["epoch"] = static_cast<double>(epoch);
    // The log goes inside the checkpoint, so both move in its one rename; the CSV is a copy.
    training::save_checkpoint(checkpoint, *model, *optimizer, info, &log);
    log.write(metrics_path);
    // Redrawn every epoch, so a long run can be watched; a failure is reported once.
    const plot::PlotResult curves = write_plots(log, s, validating, title);
    if (!curves.ok && !plot_failure_reported) std::cout << plot::describe(curves) << "\n";
    plot_failure_reported = plot_failure_reported || !curves.ok;
  }

  if (!job.root()) return 0;
  const auto final_test = training::evaluate(*model, test, loss, 10);
  std::cout << "\ntest accuracy " << percent(final_test.accuracy) << " (" << test.size() << " images)\n";
  if (validating && log.num_rows() > 0) {
    // The epoch a validation-based selection would keep, with its test accuracy for comparison.
    const auto val = log.column("val_accuracy");
    const std::size_t best = static_cast<std::size_t>(std::max_element(val.begin(), val.end()) - val.begin());
    std::cout << "best validation accuracy " << percent(val[best]) << " after epoch " << log.column("epoch")[best]
              << " (test accuracy then " << percent(log.column("test_accuracy")[best]) << ")\n";
  }
  std::cout << "confusion matrix on the test set (rows: true class, columns: predicted):\n"
            << final_test.confusion.to_string(class_names);
  if (start_epoch < p.epochs) std::cout << "checkpoint: " << checkpoint << "\n";
  if (log.num_rows() > 0) {
    std::cout << "metrics: " << metrics_path << "\n" << plot::describe(write_plots(log, s, validating, title)) << "\n";
  }
  std::cout << plot::describe(plot::heatmap(plot::confusion_heatmap(final_test.confusion, class_names,
                                                                    title + ": confusion matrix on the test set"),
                                            {f.plot_dir + "/confusion"}))
            << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  s.flags.seed = 1;
  s.flags.plot_dir = "out/mnist";
  CLI::App app{"MNIST (or Fashion-MNIST) classified by a multilayer perceptron.", "mnist"};
  app.add_option("--preset", s.preset,
                 "mlp: 784-256-128-10 ReLU, dropout 0.2, cross-entropy, Adam lr 1e-3, batch 128, 10 epochs;\n"
                 "nielsen: 784-30-10 sigmoid, quadratic cost, SGD eta 3.0, batch 10, 30 epochs")
      ->capture_default_str()
      ->check(CLI::IsMember({"mlp", "nielsen"}));
  app.add_option("--dataset", s.dataset, "mnist or fashion (Fashion-MNIST)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mnist", "fashion"}));
  examples::add_common_flags(app, s.flags);
  // These four default to the preset's values.
  app.get_option("--epochs")->default_str("preset's");
  app.get_option("--lr")->default_str("preset's");
  app.get_option("--batch-size")->default_str("preset's");
  app.get_option("--hidden")->default_str("preset's");
  app.get_option("--data")
      ->description("folder with the four IDX files (default: datasets/mnist, or "
                    "/usr/share/datasets/fashion-mnist for --dataset fashion)");
  app.get_option("--save")
      ->description("checkpoint written after every epoch")
      ->default_str("<plot-dir>/checkpoint.npz");
  app.add_flag("--resume", s.resume, "continue from the checkpoint (--save) with the same settings");
  app.add_option("--validation", s.validation, "last training images held out for validation (0: none)")
      ->default_str("preset's: 0 for mlp, 10000 for nielsen")
      ->check(CLI::Range(std::size_t{0}, std::size_t{59999}));
  app.add_option("--init", s.init,
                 "default: nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)); kaiming: N(0, 2/fan_in) weights,\n"
                 "zero biases; normal: N(0, 1) weights and biases")
      ->default_str("preset's: default for mlp, normal for nielsen")
      ->check(CLI::IsMember(examples::mnist::kInits));
  app.add_option("--dropout", s.dropout, "probability of zeroing a hidden unit while training (0: no dropout)")
      ->default_str("preset's: 0.2 for mlp, 0 for nielsen")
      ->check(examples::finite_range(0.0, 0.99));
  app.add_option("--train-images", s.train_images, "use only the first N training images (0: all)")
      ->capture_default_str();
  app.add_option("--test-images", s.test_images, "use only the first N test images (0: all)")->capture_default_str();
  // Which kernels the products run on (tapegrad replaces a generic fallback, or says how to).
  app.footer("BLAS: " + tg::to_string(tg::blas_info()));
  if (const int status = examples::parse_flags(app, argc, argv); status >= 0) return status;
  if (app.count("--hidden"))
    if (const int status = examples::refuse_network_too_large("mnist", 784, s.flags.hidden, 10); status >= 0)
      return status;
  std::optional<Job> job;
  try {
    job.emplace();
    examples::apply_threads(s.flags.threads);
    // Only rank 0 prints (errors go to stderr from every process).
    std::ostream null_stream(nullptr);
    std::streambuf* const cout_buffer = std::cout.rdbuf();
    if (!job->root()) std::cout.rdbuf(null_stream.rdbuf());
    const int status = run(s, app, *job);
    std::cout.rdbuf(cout_buffer);
    return status;
  } catch (const std::exception& e) {
    std::cerr << "mnist";
    if (job && job->world() > 1) std::cerr << " (rank " << job->rank() << ")";
    std::cerr << ": " << e.what() << "\n";
    if (job && job->world() > 1) job->abort(1);
    return 1;
  }
}
