// tapegrad's side of the benchmark (bench/run drives it; bench/torch_bench.py is the PyTorch side).
// Each subcommand runs one workload in this process and prints one JSON line per result:
//
//   info                         versions and the OpenBLAS build in use
//   mlp     --threads N          MNIST "mlp" preset: one timed epoch after a short warm-up
//   nielsen --threads N          MNIST "nielsen" preset (784-30-10 sigmoid, quadratic cost, SGD)
//   chain   --shape 4|256x256    per-op overhead: mul, add, tanh alternating, forward + backward
//   gemm    --threads N          the sgemm calls of one "mlp" epoch alone (the GEMM floor)
//   soak    --steps 1000         "mlp" steps: RSS, heap and tape size at step 100 and at the end
//   history --steps 40000        "nielsen" steps keeping every loss: first vs last 5,000 steps
//   prune   --shape 8x16|128x256 4-layer MLP: grad wrt its last hidden layer vs the full backward
//   jvp     --reps 200           "mlp" network's loss: forward pass vs forward-mode jvp vs vjp
//   steady  --shape S --op OP    chains of 300 ops, freed and repeated, and the bandwidth floor (steady.hpp)
//   gmm     --d D --k K --n N    ADBench's GMM objective and its gradient, float64 (gmm.hpp)
//   wide | higgs | mlp64         wider and other MLPs; gemm-floor --preset wide (mlp_more.hpp)
//
// tapegrad's thread count is tg::set_num_threads (its pool; OpenBLAS runs on one thread); the
// GEMM floor sets OpenBLAS's own thread count, as it measures OpenBLAS alone.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "copies_bench.hpp"
#include "gmm.hpp"
#include "mlp_more.hpp"
#include "steady.hpp"
#include "tape.hpp"
#include "tapegrad/blas.hpp"
#include "tapegrad/data/mnist.hpp"
#include "tapegrad/functional.hpp"
#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/optim/sgd.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using tg::Tensor;

const std::map<std::string, std::string> kCommonDefaults = {
    {"threads", "1"}, {"data", "datasets/mnist"}, {"warmup", "20"}, {"epochs", "1"}};

/// The preset's network as a user writes it (nn::MLP of Linear layers) with deterministic
/// weights: layer l's weight is stream 2l and its bias stream 2l+1 of bench::uniform_weights,
/// U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear draws them; torch_bench.py sets the same values.
std::shared_ptr<tg::nn::MLP> make_model(const std::vector<std::size_t>& sizes, bool sigmoid) {
  auto model = sigmoid ? std::make_shared<tg::nn::MLP>(sizes, tg::nn::Sigmoid())
                       : std::make_shared<tg::nn::MLP>(sizes, tg::nn::ReLU());
  std::vector<Tensor> params = model->parameters();  // handles: weight, bias of each layer in order
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(sizes[i / 2]));
    auto& values = params[i].mutable_value<float>();
    const std::vector<float> w = bench::uniform_weights(i, values.size(), bound);
    std::copy(w.begin(), w.end(), values.data());
  }
  return model;
}

/// A training preset: the MNIST rows it uses, the batch size and one step's work.
struct Preset {
  std::string name;
  std::size_t rows;  // the first `rows` training images
  std::size_t batch;
  std::vector<std::size_t> sizes;
};

const Preset kMlp{"mlp", 60000, 128, {784, 256, 128, 10}};
const Preset kNielsen{"nielsen", 50000, 10, {784, 30, 10}};

/// Everything one preset's training loop needs, set up before the clock starts.
class Trainer {
 public:
  Trainer(const Preset& preset, const std::string& data_dir)
      : preset_(preset), model_(make_model(preset.sizes, preset.name == "nielsen")) {
    tg::data::MnistSplit train = tg::data::load_mnist(data_dir, "train");
    const auto rows = static_cast<std::int64_t>(preset.rows);
    images_ = preset.rows == train.images.shape()[0] ? train.images : tg::slice(train.images, 0, 0, rows);
    if (preset.name == "mlp") {
      labels_ = train.labels;
      optimizer_ = std::make_unique<tg::optim::Adam>(model_->parameters(), tg::optim::AdamOptions(1e-3));
    } else {
      // Nielsen's network learns one-hot vectors (quadratic cost) with plain SGD, eta = 3.
      const auto& y = train.labels.value<std::int64_t>();
      auto onehot = xt::xarray<float>::from_shape({preset.rows, std::size_t{10}});
      onehot.fill(0.0f);
      for (std::size_t i = 0; i < preset.rows; ++i) onehot(i, static_cast<std::size_t>(y(i))) = 1.0f;
      labels_ = Tensor(std::move(onehot));
      optimizer_ = std::make_unique<tg::optim::SGD>(model_->parameters(), tg::optim::SGDOptions(3.0));
    }
  }

  std::size_t steps_per_epoch() const { return (preset_.rows + preset_.batch - 1) / preset_.batch; }

  /// Forward of batch `step` (mod the epoch); returns the loss with its graph.
  Tensor forward(std::size_t step) {
    const std::size_t begin = (step % steps_per_epoch()) * preset_.batch;
    const std::size_t end = std::min(begin + preset_.batch, preset_.rows);
    const Tensor x = tg::slice(images_, 0, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
    const Tensor y = tg::slice(labels_, 0, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
    if (preset_.name == "mlp") return tg::nn::functional::cross_entropy((*model_)(x), y);
    // Nielsen's network has a sigmoid on its output layer too.
    return tg::nn::functional::quadratic_cost(tg::sigmoid((*model_)(x)), y);
  }

  /// zero_grad, backward, step; returns the loss tensor (backward has released its graph, so it
  /// holds only what the engine keeps for a kept loss).
  Tensor step_loss(std::size_t step) {
    Tensor loss = forward(step);
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    return loss;
  }

  /// step_loss's value. Kept out of line so that bench/profile can count exactly its calls.
  __attribute__((noinline)) double train_step(std::size_t step) { return step_loss(step).item(); }

 private:
  Preset preset_;
  std::shared_ptr<tg::nn::MLP> model_;
  Tensor images_, labels_;
  std::unique_ptr<tg::optim::Optimizer> optimizer_;
};

void print_threads(bench::JsonLine& line, long threads) {
  line.add("threads", static_cast<double>(threads))
      .add("tapegrad_threads", tg::get_num_threads())
      .add("openblas_threads", openblas_get_num_threads());
}

/// One warm-up of `warmup` steps, then `epochs` timed epochs (each reported); `steps` > 0 cuts
/// each epoch short (for profiling).
int run_epochs(const Preset& preset, const bench::Options& opt) {
  const long threads = opt.integer("threads");
  tg::set_num_threads(static_cast<int>(threads));
  Trainer trainer(preset, opt.str("data"));
  const double rss_before = bench::current_rss_mib();
  const double peak_before = bench::peak_rss_mib();
  const bool peak_reset = bench::reset_peak_rss();

  // Size of one step's graph, measured on a step that is not timed.
  const std::size_t nodes_before = tg::detail::live_nodes();
  double nodes_per_step = 0, tape_bytes = 0;
  {
    const Tensor loss = trainer.forward(0);
    nodes_per_step = static_cast<double>(tg::detail::live_nodes() - nodes_before);
    tape_bytes = nodes_per_step * static_cast<double>(sizeof(tg::Node));
  }
  for (long s = 0; s < opt.integer("warmup"); ++s) trainer.train_step(static_cast<std::size_t>(s));

  const auto max_steps = static_cast<std::size_t>(opt.integer("steps"));  // 0: the whole epoch
  const std::size_t steps = max_steps ? std::min(max_steps, trainer.steps_per_epoch()) : trainer.steps_per_epoch();
  for (long e = 0; e < opt.integer("epochs"); ++e) {
    double loss_sum = 0;
    const double faults = bench::minor_faults();
    const double start = bench::now_seconds();
    for (std::size_t s = 0; s < steps; ++s) loss_sum += trainer.train_step(s);
    const double seconds = bench::now_seconds() - start;
    const double faults_per_step = (bench::minor_faults() - faults) / static_cast<double>(steps);
    bench::JsonLine line;
    line.add("workload", preset.name).add("framework", "tapegrad");
    print_threads(line, threads);
    line.add("epoch_s", seconds)
        .add("steps", static_cast<double>(steps))
        .add("us_per_step", seconds / static_cast<double>(steps) * 1e6)
        .add("mean_loss", loss_sum / static_cast<double>(steps))
        .add("page_faults_per_step", faults_per_step)
        .add("rss_before_mib", rss_before)
        .add("peak_rss_setup_mib", peak_before)
        .add("peak_rss_train_mib", peak_reset ? bench::peak_rss_mib() : NAN)
        .add("tape_nodes_per_step", nodes_per_step)
        .add("tape_reserved_bytes", tape_bytes)
        .print();
  }
  return 0;
}

/// RSS, heap and tape size over a long run of "mlp" steps (a leak shows as growth after step 100).
int run_soak(const bench::Options& opt) {
  const long threads = opt.integer("threads");
  tg::set_num_threads(static_cast<int>(threads));
  Trainer trainer(kMlp, opt.str("data"));
  const auto total = static_cast<std::size_t>(opt.integer("steps"));
  const std::size_t mark = std::min<std::size_t>(100, total);
  double rss_mark = 0, heap_mark = 0;
  std::size_t nodes_min = SIZE_MAX, nodes_max = 0;
  for (std::size_t s = 1; s <= total; ++s) {
    trainer.train_step(s - 1);
    nodes_min = std::min(nodes_min, tg::detail::live_nodes());
    nodes_max = std::max(nodes_max, tg::detail::live_nodes());
    if (s == mark) {
      rss_mark = bench::current_rss_mib();
      heap_mark = bench::heap_bytes_in_use();
    }
  }
  bench::JsonLine line;
  line.add("workload", "soak").add("framework", "tapegrad");
  print_threads(line, threads);
  line.add("steps", static_cast<double>(total))
      .add("mark_step", static_cast<double>(mark))
      .add("rss_mark_mib", rss_mark)
      .add("rss_end_mib", bench::current_rss_mib())
      .add("heap_mark_mib", heap_mark / (1024.0 * 1024.0))
      .add("heap_end_mib", bench::heap_bytes_in_use() / (1024.0 * 1024.0))
      .add("tape_nodes_min", static_cast<double>(nodes_min))
      .add("tape_nodes_max", static_cast<double>(nodes_max))
      .add("peak_rss_mib", bench::peak_rss_mib())
      .print();
  return 0;
}

/// "nielsen" training that keeps every step's loss tensor (history.push_back(loss)), as a loop
/// that plots the losses afterwards does. `steps` steps after an untimed warm-up (whose losses are
/// not kept), timed in windows of `window` steps: if a kept loss made later backwards walk more
/// of the graph, the last window would take longer than the first. With 5,000 steps per epoch
/// and the default window, every window trains on the same batches.
int run_history(const bench::Options& opt) {
  const long threads = opt.integer("threads");
  tg::set_num_threads(static_cast<int>(threads));
  const auto steps = static_cast<std::size_t>(opt.integer("steps"));
  const auto window = static_cast<std::size_t>(opt.integer("window"));
  if (window == 0 || steps < window || steps % window != 0)
    throw std::runtime_error("--steps must be a positive multiple of --window");
  Trainer trainer(kNielsen, opt.str("data"));
  for (long s = 0; s < opt.integer("warmup"); ++s) trainer.train_step(static_cast<std::size_t>(s));
  const double rss_before = bench::current_rss_mib();
  const double heap_before = bench::heap_bytes_in_use();
  const std::size_t nodes_before = tg::detail::live_nodes();
  const bool peak_reset = bench::reset_peak_rss();

  std::vector<Tensor> history;  // not reserved: a user's loop would not know its length either
  std::vector<double> window_s;
  tg::detail::SweepStats first_sweep, last_sweep;
  const double start = bench::now_seconds();
  double window_start = start;
  for (std::size_t s = 0; s < steps; ++s) {
    history.push_back(trainer.step_loss(s));
    if (s == 0) first_sweep = tg::detail::last_sweep_stats();
    if ((s + 1) % window == 0) {
      const double now = bench::now_seconds();
      window_s.push_back(now - window_start);
      window_start = now;
    }
  }
  const double seconds = bench::now_seconds() - start;
  last_sweep = tg::detail::last_sweep_stats();
  const double rss_end = bench::current_rss_mib(), heap_end = bench::heap_bytes_in_use();
  const std::size_t nodes_end = tg::detail::live_nodes();
  double loss_sum = 0;  // the plot, after the loop
  for (const Tensor& loss : history) loss_sum += loss.item();

  std::string windows;
  for (double w : window_s) windows += (windows.empty() ? "" : " ") + std::to_string(w);
  const auto n = static_cast<double>(steps);
  bench::JsonLine line;
  line.add("workload", "history").add("framework", "tapegrad");
  print_threads(line, threads);
  line.add("steps", n)
      .add("window", static_cast<double>(window))
      .add("total_s", seconds)
      .add("us_per_step", seconds / n * 1e6)
      .add("first_window_s", window_s.front())
      .add("last_window_s", window_s.back())
      .add("last_over_first", window_s.back() / window_s.front())
      .add("windows_s", windows)
      .add("mean_loss", loss_sum / n)
      .add("rss_before_mib", rss_before)
      .add("rss_end_mib", rss_end)
      .add("peak_rss_train_mib", peak_reset ? bench::peak_rss_mib() : NAN)
      .add("heap_bytes_per_kept_step", (heap_end - heap_before) / n)
      .add("nodes_per_kept_step", (static_cast<double>(nodes_end) - static_cast<double>(nodes_before)) / n)
      .add("sweep_reached_first", static_cast<double>(first_sweep.reached))
      .add("sweep_reached_last", static_cast<double>(last_sweep.reached))
      .print();
  return 0;
}

tg::Shape parse_shape(const std::string& text) {
  tg::Shape shape;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t x = std::min(text.find('x', pos), text.size());
    shape.push_back(static_cast<std::size_t>(std::stoul(text.substr(pos, x - pos))));
    pos = x + 1;
  }
  return shape;
}

/// x <- x * c, x <- x + d, x <- tanh(x), repeated to `ops` ops, then sum(x).backward().
/// Reports the median over reps of forward and backward time per op, and memory per op.
/// c = 1 and d = 0 keep the chain's gradient (a product of thousands of factors c (1 - y^2))
/// above the float denormals: any other constants make x settle at a fixed point where each
/// factor is < 1, the gradient underflows, and denormal arithmetic would swamp the overhead.
__attribute__((noinline)) int run_chain(const bench::Options& opt) {
  const tg::Shape shape = parse_shape(opt.str("shape"));
  const auto chain_ops = static_cast<std::size_t>(opt.integer("ops"));
  const auto warmup_ops = static_cast<std::size_t>(opt.integer("warmup-ops"));
  const auto reps = static_cast<std::size_t>(std::max(1L, opt.integer("reps")));
  tg::set_num_threads(1);
  const Tensor c = tg::full(shape, 1.0), d = tg::full(shape, 0.0);
  Tensor x0 = tg::full(shape, 0.5, tg::TensorOptions().requires_grad());
  std::vector<double> forward_s, backward_s, total_s;
  double heap_per_op = 0, faults_per_op = 0;
  // Rep 0 warms up; by default it is as long as the timed chains, so they measure the steady
  // state of a loop that records the same graph again (memory freed by the previous chain can be
  // reused, if the allocator keeps it).
  for (std::size_t r = 0; r <= reps; ++r) {
    const std::size_t ops = r == 0 ? std::min(chain_ops, warmup_ops) : chain_ops;
    const bench::ChainTimes t = bench::run_chain_once(x0, c, d, -1, ops);
    heap_per_op = t.heap_bytes / static_cast<double>(ops);
    faults_per_op = t.minor_faults / static_cast<double>(ops);
    if (r == 0) continue;
    forward_s.push_back(t.forward_s);
    backward_s.push_back(t.backward_s);
    total_s.push_back(t.forward_s + t.backward_s);
  }
  const double grad0 = static_cast<double>(x0.grad().value<float>().data()[0]);
  const double tape_per_op = static_cast<double>(sizeof(tg::Node));
  const double per_op = 1e6 / static_cast<double>(chain_ops);
  bench::JsonLine line;
  line.add("workload", "chain")
      .add("framework", "tapegrad")
      .add("shape", opt.str("shape"))
      .add("threads", 1)
      .add("ops", static_cast<double>(chain_ops))
      .add("us_per_op", bench::median_of(total_s) * per_op)
      .add("forward_us_per_op", bench::median_of(forward_s) * per_op)
      .add("backward_us_per_op", bench::median_of(backward_s) * per_op)
      .add("heap_bytes_per_op", heap_per_op)
      .add("tape_bytes_per_op", tape_per_op)
      .add("page_faults_per_op", faults_per_op)
      .add("sizeof_node", static_cast<double>(sizeof(tg::Node)))
      .add("sizeof_tensor_impl", static_cast<double>(sizeof(tg::detail::TensorImpl)))
      .add("grad0", grad0)
      .add("peak_rss_mib", bench::peak_rss_mib())
      .print();
  return 0;
}

/// Pruning in grad(): a 4-layer MLP (Linear layers of width W with ReLU between, batch B, loss
/// mean(out^2)) is recorded once; then, call after call on the retained graph, the gradient with
/// respect to the last hidden activation h3 (which needs only the loss, the last Linear's input
/// gradient and nothing of the first three layers), with respect to every parameter, and
/// backward() into every parameter's grad(). Reports the median time of each kind of call.
/// `shape` is BxW; the input is linspace(-1, 1) in rows, which torch_bench.py makes the same way.
int run_prune(const bench::Options& opt) {
  const tg::Shape shape = parse_shape(opt.str("shape"));
  if (shape.size() != 2) throw std::runtime_error("--shape must be BATCHxWIDTH");
  const std::size_t batch = shape[0], width = shape[1];
  const auto warmup = static_cast<std::size_t>(opt.integer("warmup"));
  const auto reps = static_cast<std::size_t>(std::max(1L, opt.integer("reps")));
  tg::set_num_threads(1);
  const std::shared_ptr<tg::nn::MLP> model = make_model({width, width, width, width, width}, false);
  const std::vector<Tensor> params = model->parameters();
  const tg::nn::Sequential& layers = *model->layers;  // Linear, ReLU, Linear, ReLU, Linear, ReLU, Linear
  const Tensor x = tg::linspace(-1.0, 1.0, batch * width)
                       .reshape({static_cast<std::int64_t>(batch), static_cast<std::int64_t>(width)});
  Tensor h3 = x;
  for (long i = 0; i < 6; ++i) h3 = (*layers[i])(h3);
  const Tensor out = (*layers[6])(h3);
  const Tensor loss = tg::mean(out * out);

  std::vector<double> input_s, params_s, backward_s;
  tg::detail::SweepStats pruned, full;
  double grad_h3_sum = 0, grad_w1_sum = 0;
  for (std::size_t r = 0; r < warmup + reps; ++r) {
    const double t0 = bench::now_seconds();
    const std::vector<Tensor> g_input = tg::grad({loss}, {h3}, {}, true);
    const double t1 = bench::now_seconds();
    pruned = tg::detail::last_sweep_stats();
    const std::vector<Tensor> g_params = tg::grad({loss}, params, {}, true);
    const double t2 = bench::now_seconds();
    full = tg::detail::last_sweep_stats();
    for (Tensor p : params) p.zero_grad();  // to none, so backward assigns rather than adds
    const double t3 = bench::now_seconds();
    loss.backward({}, true);
    const double t4 = bench::now_seconds();
    grad_h3_sum = tg::sum(g_input[0]).item();
    grad_w1_sum = tg::sum(g_params[0]).item();
    if (r < warmup) continue;
    input_s.push_back(t1 - t0);
    params_s.push_back(t2 - t1);
    backward_s.push_back(t4 - t3);
  }
  const auto median = bench::median_of;
  const double input_us = median(input_s) * 1e6, params_us = median(params_s) * 1e6,
               backward_us = median(backward_s) * 1e6;
  bench::JsonLine line;
  line.add("workload", "prune")
      .add("framework", "tapegrad")
      .add("shape", opt.str("shape"))
      .add("threads", 1)
      .add("reps", static_cast<double>(reps))
      .add("grad_input_us", input_us)
      .add("grad_params_us", params_us)
      .add("backward_us", backward_us)
      .add("input_over_backward", input_us / backward_us)
      .add("input_over_params", input_us / params_us)
      .add("pruned_reached", static_cast<double>(pruned.reached))
      .add("pruned_run", static_cast<double>(pruned.run))
      .add("full_reached", static_cast<double>(full.reached))
      .add("full_run", static_cast<double>(full.run))
      .add("grad_h3_sum", grad_h3_sum)
      .add("grad_w1_sum", grad_w1_sum)
      .print();
  return 0;
}

/// Forward mode beside reverse mode on the "mlp" network (784-256-128-10, ReLU, batch 128, its
/// weights as in workload 1): the cross-entropy loss of a fixed synthetic batch (input
/// linspace(-1, 1) in rows, labels i % 10) as a function of the six parameters, f(params). Times,
/// call by call (the kinds alternate, so load affects them alike; medians over `reps` calls after
/// `warmup`):
///   forward         f(params), the parameters requiring grad (what a training step records)
///   forward_nograd  f(params) under NoGradGuard
///   jvp             functional::jvp(f, params, u): the loss and its derivative along u
///   jvp_input       functional::jvp of the loss as a function of the input batch (parameters fixed)
///   vjp             functional::vjp(f, params): the loss and its gradient
/// torch_bench.py does the same with torch.autograd.forward_ad and torch.autograd.grad.
int run_jvp(const bench::Options& opt) {
  namespace AF = tg::autograd::functional;
  const auto warmup = static_cast<std::size_t>(opt.integer("warmup"));
  const auto reps = static_cast<std::size_t>(std::max(1L, opt.integer("reps")));
  tg::set_num_threads(1);
  const std::vector<std::size_t>& sizes = kMlp.sizes;
  const std::shared_ptr<tg::nn::MLP> model = make_model(sizes, false);
  const std::vector<Tensor> params = model->parameters();
  const auto batch = static_cast<std::int64_t>(kMlp.batch);
  const Tensor x = tg::linspace(-1.0, 1.0, kMlp.batch * sizes[0]).reshape({batch, static_cast<std::int64_t>(sizes[0])});
  auto labels = xt::xarray<std::int64_t>::from_shape({kMlp.batch});
  for (std::size_t i = 0; i < kMlp.batch; ++i) labels(i) = static_cast<std::int64_t>(i % 10);
  const Tensor y(std::move(labels));
  auto loss = [](const Tensor& input, const std::vector<Tensor>& p, const Tensor& target) {
    const Tensor h1 = tg::relu(tg::linear(input, p[0], p[1]));
    const Tensor h2 = tg::relu(tg::linear(h1, p[2], p[3]));
    return tg::nn::functional::cross_entropy(tg::linear(h2, p[4], p[5]), target);
  };
  auto f = [&](const std::vector<Tensor>& p) { return loss(x, p, y); };
  std::vector<Tensor> fixed;  // the parameters as constants, for the jvp along the input
  fixed.reserve(params.size());
  for (const Tensor& p : params) fixed.push_back(p.detach());
  auto f_input = [&](const Tensor& input) { return loss(input, fixed, y); };
  std::vector<Tensor> u;  // a direction in parameter space, and one in input space
  u.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::vector<float> w = bench::uniform_weights(100 + i, params[i].numel(), 1.0);
    u.push_back(tg::from_vector(std::vector<double>(w.begin(), w.end()), params[i].shape()));
  }
  const std::vector<float> ux = bench::uniform_weights(200, x.numel(), 1.0);
  const Tensor u_input = tg::from_vector(std::vector<double>(ux.begin(), ux.end()), x.shape());

  // Wall time, and this thread's CPU time (everything runs on it: one tapegrad thread, OpenBLAS on
  // one), which a loaded machine inflates far less: a call longer than the scheduler's time slice
  // waits for the other processes' turns, so on a busy machine wall time grows faster than the work.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  std::vector<double> forward_s, nograd_s, jvp_s, jvp_input_s, vjp_s;
  std::vector<double> forward_cpu, nograd_cpu, jvp_cpu, jvp_input_cpu, vjp_cpu;
  double loss_value = 0, jvp_value = 0, jvp_input_value = 0, grad_dot_u = 0;
  for (std::size_t r = 0; r < warmup + reps; ++r) {
    const double t0 = bench::now_seconds(), c0 = cpu_now();
    const Tensor l = f(params);
    const double t1 = bench::now_seconds(), c1 = cpu_now();
    {
      tg::NoGradGuard no_grad;
      (void)f(params);
    }
    const double t2 = bench::now_seconds(), c2 = cpu_now();
    const AF::TensorProduct jv = AF::jvp(f, params, u);
    const double t3 = bench::now_seconds(), c3 = cpu_now();
    const AF::TensorProduct jv_input = AF::jvp(f_input, x, u_input);
    const double t4 = bench::now_seconds(), c4 = cpu_now();
    const AF::ScalarProducts g = AF::vjp(f, params);
    const double t5 = bench::now_seconds(), c5 = cpu_now();
    loss_value = l.item();
    jvp_value = jv.product.item();
    jvp_input_value = jv_input.product.item();
    grad_dot_u = 0;
    for (std::size_t i = 0; i < params.size(); ++i) grad_dot_u += tg::sum(g.product[i] * u[i]).item();
    if (r < warmup) continue;
    forward_s.push_back(t1 - t0);
    nograd_s.push_back(t2 - t1);
    jvp_s.push_back(t3 - t2);
    jvp_input_s.push_back(t4 - t3);
    vjp_s.push_back(t5 - t4);
    forward_cpu.push_back(c1 - c0);
    nograd_cpu.push_back(c2 - c1);
    jvp_cpu.push_back(c3 - c2);
    jvp_input_cpu.push_back(c4 - c3);
    vjp_cpu.push_back(c5 - c4);
  }
  auto median = [](std::vector<double> v) { return bench::median_of(std::move(v)) * 1e6; };
  const double forward_us = median(forward_s), nograd_us = median(nograd_s), jvp_us = median(jvp_s),
               jvp_input_us = median(jvp_input_s), vjp_us = median(vjp_s);
  const double forward_cpu_us = median(forward_cpu), nograd_cpu_us = median(nograd_cpu), jvp_cpu_us = median(jvp_cpu),
               jvp_input_cpu_us = median(jvp_input_cpu), vjp_cpu_us = median(vjp_cpu);
  bench::JsonLine line;
  line.add("workload", "jvp")
      .add("framework", "tapegrad")
      .add("threads", 1)
      .add("reps", static_cast<double>(reps))
      .add("forward_us", forward_us)
      .add("forward_nograd_us", nograd_us)
      .add("jvp_us", jvp_us)
      .add("jvp_input_us", jvp_input_us)
      .add("vjp_us", vjp_us)
      .add("jvp_over_forward", jvp_us / forward_us)
      .add("jvp_over_forward_nograd", jvp_us / nograd_us)
      .add("jvp_input_over_forward_nograd", jvp_input_us / nograd_us)
      .add("vjp_over_forward", vjp_us / forward_us)
      .add("forward_cpu_us", forward_cpu_us)
      .add("forward_nograd_cpu_us", nograd_cpu_us)
      .add("jvp_cpu_us", jvp_cpu_us)
      .add("jvp_input_cpu_us", jvp_input_cpu_us)
      .add("vjp_cpu_us", vjp_cpu_us)
      .add("cpu_jvp_over_forward", jvp_cpu_us / forward_cpu_us)
      .add("cpu_jvp_over_forward_nograd", jvp_cpu_us / nograd_cpu_us)
      .add("cpu_jvp_input_over_forward_nograd", jvp_input_cpu_us / nograd_cpu_us)
      .add("cpu_vjp_over_forward", vjp_cpu_us / forward_cpu_us)
      .add("loss", loss_value)
      .add("jvp", jvp_value)
      .add("grad_dot_u", grad_dot_u)
      .add("jvp_input", jvp_input_value)
      .print();
  return 0;
}

/// The eight sgemm calls of one "mlp" training step, as tapegrad and torch both issue them:
/// forward x W^T per layer, then dW = G^T H per layer and dH = G W for layers 3 and 2 (the input
/// needs no gradient). Buffers are allocated once, so this is pure OpenBLAS time.
int run_gemm(const bench::Options& opt) {
  const long threads = opt.integer("threads");
  tg::blas_info();  // the kernels tapegrad's products run on (its first-use check may switch them)
  openblas_set_num_threads(static_cast<int>(threads));
  const std::vector<std::size_t> sizes = kMlp.sizes;
  const std::size_t steps = (kMlp.rows + kMlp.batch - 1) / kMlp.batch;
  const int B = static_cast<int>(kMlp.batch);
  bench::MlpGemm gemm(sizes, kMlp.batch);
  const std::size_t layers = sizes.size() - 1;
  double flops_per_full_step = 0;  // forward and dW for every layer, dH for all but the first
  for (std::size_t l = 0; l < layers; ++l)
    flops_per_full_step += (l == 0 ? 2.0 : 3.0) * 2.0 * B * static_cast<double>(sizes[l] * sizes[l + 1]);
  double flops = 0;
  auto epoch = [&] {
    flops = 0;
    for (std::size_t s = 0; s < steps; ++s)
      flops += gemm.step(s + 1 < steps ? B : static_cast<int>(kMlp.rows - (steps - 1) * kMlp.batch));
  };
  epoch();  // warm-up
  const long reps = std::max(1L, opt.integer("reps"));
  std::vector<double> times;
  for (long r = 0; r < reps; ++r) {
    const double start = bench::now_seconds();
    epoch();
    times.push_back(bench::now_seconds() - start);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  bench::JsonLine line;
  line.add("workload", "gemm").add("framework", "openblas");
  print_threads(line, threads);
  line.add("epoch_s", median)
      .add("epoch_min_s", times.front())
      .add("sgemm_calls_per_step", 3.0 * static_cast<double>(layers) - 1.0)
      .add("mflop_per_full_step", flops_per_full_step / 1e6)
      .add("gflops", flops / median / 1e9)
      .print();
  return 0;
}

int run_info() {
  const tg::BlasInfo blas = tg::blas_info();  // first: its kernel check may switch OpenBLAS's kernels
  bench::JsonLine line;
  line.add("workload", "info")
      .add("framework", "tapegrad")
      .add("blas", tg::to_string(blas))
      .add("compiler", std::string("g++ ") + __VERSION__)
      .add("openblas_config", openblas_get_config())
      .add("openblas_core", openblas_get_corename())
      .add("openblas_default_threads", openblas_get_num_threads())
      .add("ncpu", static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)))
      .add("first_touch_us_per_page", bench::first_touch_us_per_page());
#ifdef NDEBUG
  line.add("build", "Release (NDEBUG)");
#else
  line.add("build", "assertions on (not Release)");
#endif
  line.print();
  return 0;
}

void usage() {
  std::cerr
      << "usage: tapegrad_bench info\n"
         "       tapegrad_bench mlp|nielsen [--threads N] [--data DIR] [--warmup STEPS] [--epochs E] [--steps S]\n"
         "       tapegrad_bench chain [--shape 4|256x256] [--ops N] [--warmup-ops N] [--reps R]\n"
         "       tapegrad_bench gemm [--threads N] [--reps R]\n"
         "       tapegrad_bench soak [--threads N] [--data DIR] [--steps N]\n"
         "       tapegrad_bench history [--threads N] [--data DIR] [--warmup STEPS] [--steps N] [--window N]\n"
         "       tapegrad_bench prune [--shape BATCHxWIDTH] [--warmup CALLS] [--reps CALLS]\n"
         "       tapegrad_bench jvp [--warmup CALLS] [--reps CALLS]\n"
         "       tapegrad_bench copies|transcendental [--reps CALLS] [--threads N] [--rows all|NAME,...]\n"
         "       tapegrad_bench steady [--shape 4|256x256|1024x1024] [--op mul|add|tanh|mixed] [--ops N] [--warmup R]"
         " [--reps R]\n"
         "       tapegrad_bench gmm [--d D] [--k K] [--n N] [--reps R]\n"
         "       tapegrad_bench wide|higgs|mlp64 [--threads N] [--data DIR] [--warmup STEPS] [--steps S]\n"
         "       tapegrad_bench gemm-floor [--preset wide] [--threads N] [--steps S] [--reps R]\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string command = argv[1];
  try {
    auto with = [&](const std::map<std::string, std::string>& extra) {
      std::map<std::string, std::string> defaults = kCommonDefaults;
      for (auto& [key, value] : extra) defaults[key] = value;
      return bench::Options(argc, argv, 2, defaults);
    };
    if (command == "info") return run_info();
    if (command == "mlp") return run_epochs(kMlp, with({{"steps", "0"}}));
    if (command == "nielsen") return run_epochs(kNielsen, with({{"warmup", "200"}, {"steps", "0"}}));
    if (command == "chain")
      return run_chain(with({{"shape", "4"}, {"ops", "10000"}, {"warmup-ops", "10000"}, {"reps", "5"}}));
    if (command == "gemm") return run_gemm(with({{"reps", "3"}}));
    if (command == "soak") return run_soak(with({{"steps", "1000"}}));
    if (command == "history") return run_history(with({{"warmup", "200"}, {"steps", "40000"}, {"window", "5000"}}));
    if (command == "prune") return run_prune(with({{"shape", "8x16"}, {"reps", "1000"}}));
    if (command == "jvp") return run_jvp(with({{"warmup", "10"}, {"reps", "200"}}));
    if (command == "copies" || command == "transcendental") {  // copies_bench.cpp (issue 19)
      const bench::Options opt(argc, argv, 2, bench::kCopiesDefaults);
      return command == "copies" ? bench::run_copies(opt) : bench::run_transcendental(opt);
    }
    if (command == "steady") {
      const bench::Options o =
          with({{"shape", "256x256"}, {"op", "mixed"}, {"ops", "300"}, {"warmup", "3"}, {"reps", "20"}});
      return bench::run_steady(o, parse_shape(o.str("shape")));
    }
    if (command == "gmm")
      return bench::run_gmm(with({{"d", "2"}, {"k", "5"}, {"n", "1000"}, {"reps", "5"}, {"fd-h", "5e-4"}}));
    if (command == "wide" || command == "higgs" || command == "mlp64")
      return bench::run_mlp_workload(command, with({{"warmup", "3"}, {"steps", "0"}}));
    if (command == "gemm-floor")
      return bench::run_gemm_floor(with({{"preset", "wide"}, {"steps", "10"}, {"reps", "5"}}));
  } catch (const std::exception& e) {
    std::cerr << "tapegrad_bench " << command << ": " << e.what() << "\n";
    return 1;
  }
  usage();
  return 2;
}
