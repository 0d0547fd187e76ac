// Wider and other MLPs (issue 19), included by tapegrad_bench.cpp; bench/torch_more.py is the
// PyTorch side. Each runs Adam (lr 1e-3) training steps on rows sliced directly from one tensor
// holding the data (no DataLoader), after untimed warm-up steps:
//   wide   784-2048-2048-10 ReLU, batch 256, MNIST, cross-entropy (float32)
//   higgs  28-300-300-300-300-300-1 tanh, batch 100, 10,000 synthetic rows (x U(-1,1) from
//          splitmix64 stream 500, label x0 * x1 > 0), binary cross-entropy with logits (float32)
//   mlp64  the "mlp" preset (784-256-128-10 ReLU, batch 128, MNIST) in float64
// and gemm-floor --preset wide: the sgemm calls of one wide step on preallocated buffers.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "tapegrad/data/mnist.hpp"
#include "tapegrad/nn/activation.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/nn/mlp.hpp"
#include "tapegrad/optim/adam.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace bench {

struct MlpWorkload {
  std::string name;
  std::vector<std::size_t> sizes;
  std::size_t batch;
  bool tanh;   // else ReLU
  bool mnist;  // else the synthetic HIGGS-like rows
  tg::DType dtype;
};

inline MlpWorkload mlp_workload(const std::string& name) {
  if (name == "wide") return {name, {784, 2048, 2048, 10}, 256, false, true, tg::kFloat32};
  if (name == "higgs") return {name, {28, 300, 300, 300, 300, 300, 1}, 100, true, false, tg::kFloat32};
  if (name == "mlp64") return {name, {784, 256, 128, 10}, 128, false, true, tg::kFloat64};
  throw std::runtime_error("unknown MLP workload " + name);
}

constexpr std::size_t kHiggsRows = 10000;

/// The synthetic HIGGS-like data: x (rows, 28) U(-1, 1), y (rows, 1) = 1 where x0 * x1 > 0 (the
/// sign of a product is exact, so both frameworks get the same labels).
inline std::pair<tg::Tensor, tg::Tensor> higgs_data(std::size_t rows) {
  const std::vector<float> x = uniform_weights(500, rows * 28, 1.0);
  std::vector<double> xs(x.begin(), x.end()), ys(rows);
  for (std::size_t i = 0; i < rows; ++i) ys[i] = x[i * 28] * x[i * 28 + 1] > 0.0f ? 1.0 : 0.0;
  return {tg::from_vector(xs, {rows, 28}, tg::kFloat32), tg::from_vector(ys, {rows, 1}, tg::kFloat32)};
}

/// The model with deterministic weights as tapegrad_bench.cpp's make_model sets them (parameter i
/// is stream i of uniform_weights, U(-1/sqrt(in), 1/sqrt(in))), in the workload's dtype.
inline std::shared_ptr<tg::nn::MLP> make_mlp(const MlpWorkload& w) {
  const tg::DType before = tg::default_dtype();
  tg::set_default_dtype(w.dtype);
  auto model = w.tanh ? std::make_shared<tg::nn::MLP>(w.sizes, tg::nn::Tanh())
                      : std::make_shared<tg::nn::MLP>(w.sizes, tg::nn::ReLU());
  tg::set_default_dtype(before);
  std::vector<tg::Tensor> params = model->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(w.sizes[i / 2]));
    const std::vector<float> v = uniform_weights(i, params[i].numel(), bound);
    if (w.dtype == tg::kFloat64)
      std::copy(v.begin(), v.end(), params[i].mutable_value<double>().data());
    else
      std::copy(v.begin(), v.end(), params[i].mutable_value<float>().data());
  }
  return model;
}

/// Trains `steps` steps (0: one epoch) after `warmup` untimed ones; one JSON line.
inline int run_mlp_workload(const std::string& name, const Options& opt) {
  const MlpWorkload w = mlp_workload(name);
  const long threads = opt.integer("threads");
  tg::set_num_threads(static_cast<int>(threads));
  tg::Tensor x, y;
  if (w.mnist) {
    tg::data::MnistSplit train = tg::data::load_mnist(opt.str("data"), "train");
    x = w.dtype == tg::kFloat32 ? train.images : train.images.to(w.dtype);
    y = train.labels;
  } else {
    std::tie(x, y) = higgs_data(kHiggsRows);
  }
  const std::size_t rows = x.shape()[0];
  const std::shared_ptr<tg::nn::MLP> model = make_mlp(w);
  tg::optim::Adam optimizer(model->parameters(), tg::optim::AdamOptions(1e-3));
  const std::size_t per_epoch = (rows + w.batch - 1) / w.batch;
  auto step = [&](std::size_t s) {
    const auto begin = static_cast<std::int64_t>((s % per_epoch) * w.batch);
    const auto end = static_cast<std::int64_t>(std::min((s % per_epoch + 1) * w.batch, rows));
    const tg::Tensor xb = tg::slice(x, 0, begin, end), yb = tg::slice(y, 0, begin, end);
    const tg::Tensor out = (*model)(xb);
    const tg::Tensor loss = w.mnist ? tg::nn::functional::cross_entropy(out, yb)
                                    : tg::nn::functional::binary_cross_entropy_with_logits(out, yb);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss.item();
  };
  const auto warmup = static_cast<std::size_t>(opt.integer("warmup"));
  for (std::size_t s = 0; s < warmup; ++s) step(s);
  const auto max_steps = static_cast<std::size_t>(opt.integer("steps"));
  const std::size_t steps = max_steps ? max_steps : per_epoch;
  double loss_sum = 0;
  const double faults = minor_faults();
  const double start = now_seconds();
  for (std::size_t s = 0; s < steps; ++s) loss_sum += step(s);
  const double seconds = now_seconds() - start;
  JsonLine line;
  line.add("workload", name)
      .add("framework", "tapegrad")
      .add("threads", static_cast<double>(threads))
      .add("tapegrad_threads", tg::get_num_threads())
      .add("dtype", tg::to_string(w.dtype))
      .add("steps", static_cast<double>(steps))
      .add("steps_per_epoch", static_cast<double>(per_epoch))
      .add("seconds", seconds)
      .add("us_per_step", seconds / static_cast<double>(steps) * 1e6)
      .add("epoch_s", seconds / static_cast<double>(steps) * static_cast<double>(per_epoch))
      .add("mean_loss", loss_sum / static_cast<double>(steps))
      .add("page_faults_per_step", (minor_faults() - faults) / static_cast<double>(steps))
      .add("peak_rss_mib", peak_rss_mib())
      .print();
  return 0;
}

/// The buffers of one MLP training step's products (activations, their gradients, weights and
/// weight gradients, filled with fixed values), allocated once, and the step's sgemm calls on them.
struct MlpGemm {
  std::vector<std::size_t> sizes;
  std::vector<std::vector<float>> act, grad, weight, dweight;

  MlpGemm(std::vector<std::size_t> layer_sizes, std::size_t batch) : sizes(std::move(layer_sizes)) {
    auto buffer = [](std::size_t n) { return uniform_weights(99 + n, n, 1.0); };
    for (std::size_t l = 0; l < sizes.size(); ++l) {
      act.push_back(buffer(batch * sizes[l]));
      grad.push_back(buffer(batch * sizes[l]));
      if (l + 1 < sizes.size()) {
        weight.push_back(buffer(sizes[l + 1] * sizes[l]));
        dweight.push_back(buffer(sizes[l + 1] * sizes[l]));
      }
    }
  }

  /// One step at batch b: forward x W^T per layer, dW = G^T H per layer, dH = G W for all but the
  /// first layer (the input needs no gradient). Returns its floating-point operations.
  double step(int b) {
    double flops = 0;
    const std::size_t layers = sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) {  // act[l+1] (b, out) = act[l] (b, in) W^T
      const int in = static_cast<int>(sizes[l]), out = static_cast<int>(sizes[l + 1]);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, out, in, 1.0f, act[l].data(), in, weight[l].data(), in,
                  0.0f, act[l + 1].data(), out);
      flops += 2.0 * b * out * in;
    }
    for (std::size_t l = layers; l-- > 0;) {
      const int in = static_cast<int>(sizes[l]), out = static_cast<int>(sizes[l + 1]);
      // dW (out, in) = G^T (out, b) act (b, in)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, b, 1.0f, grad[l + 1].data(), out, act[l].data(), in,
                  0.0f, dweight[l].data(), in);
      flops += 2.0 * b * out * in;
      if (l == 0) continue;
      // dH (b, in) = G (b, out) W (out, in)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, in, out, 1.0f, grad[l + 1].data(), out,
                  weight[l].data(), in, 0.0f, grad[l].data(), in);
      flops += 2.0 * b * out * in;
    }
    return flops;
  }
};

/// The sgemm calls of one training step of `sizes` at batch B (forward x W^T per layer, dW = G^T H
/// per layer, dH = G W for all but the first layer), on buffers allocated once; OpenBLAS on
/// `threads` threads. Reports the median time of one step over `reps` rounds of `steps` steps.
inline int run_gemm_floor(const Options& opt) {
  const MlpWorkload w = mlp_workload(opt.str("preset"));
  if (w.dtype != tg::kFloat32) throw std::runtime_error("gemm-floor: float32 presets only");
  const long threads = opt.integer("threads");
  openblas_set_num_threads(static_cast<int>(threads));
  const int B = static_cast<int>(w.batch);
  MlpGemm gemm(w.sizes, w.batch);
  const std::size_t layers = w.sizes.size() - 1;
  double flops = 0;
  auto one_step = [&] { flops = gemm.step(B); };
  const auto steps = static_cast<std::size_t>(std::max(1L, opt.integer("steps")));
  one_step();  // warm-up
  std::vector<double> per_step;
  for (long r = 0; r < std::max(1L, opt.integer("reps")); ++r) {
    const double start = now_seconds();
    for (std::size_t s = 0; s < steps; ++s) one_step();
    per_step.push_back((now_seconds() - start) / static_cast<double>(steps));
  }
  const double median = median_of(per_step);
  JsonLine line;
  line.add("workload", "gemm-floor")
      .add("framework", "openblas")
      .add("preset", w.name)
      .add("threads", static_cast<double>(threads))
      .add("openblas_threads", openblas_get_num_threads())
      .add("us_per_step", median * 1e6)
      .add("sgemm_calls_per_step", 3.0 * static_cast<double>(layers) - 1.0)
      .add("mflop_per_step", flops / 1e6)
      .add("gflops", flops / median / 1e9)
      .print();
  return 0;
}

}  // namespace bench
