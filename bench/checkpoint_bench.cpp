// Activation checkpointing and fast gradcheck, measured (bench/RESULTS.md, "Checkpointing").
//
//   checkpoint_bench memory [--layers 20] [--width 2048] [--batch 256] [--segments 0] [--reps 2]
//       A deep MLP (layers x (Linear(width, width), ReLU), float32), loss = mean(y^2): one
//       warm-up step, then `reps` timed steps, plain (segments 0) or with
//       nn::checkpoint_sequential(segments). Prints the resident set before the steps (weights and
//       gradients), its peak during them (the kernel's mark reset after the warm-up, tapegrad's
//       buffer cache and glibc's free memory released first) and the seconds per step.
//   checkpoint_bench gradcheck [--batch 32]
//       gradcheck(model, x) in fast mode on the README's 784-256-128-10 MLP in float64.
// One JSON line per run; tapegrad runs on one thread (tg::set_num_threads(1)).
#include <malloc.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "bench_util.hpp"
#include "tapegrad/tapegrad.hpp"

namespace {

std::map<std::string, double> parse(int argc, char** argv, std::map<std::string, double> options) {
  for (int i = 2; i < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc || !options.count(key.substr(2))) {
      std::cerr << "checkpoint_bench: unknown or incomplete option " << key << "\n";
      std::exit(2);
    }
    options[key.substr(2)] = std::stod(argv[i + 1]);
  }
  return options;
}

int memory(const std::map<std::string, double>& o) {
  const auto layers = static_cast<std::size_t>(o.at("layers"));
  const auto width = static_cast<std::size_t>(o.at("width"));
  const auto batch = static_cast<std::size_t>(o.at("batch"));
  const auto segments = static_cast<std::size_t>(o.at("segments"));
  const int reps = static_cast<int>(o.at("reps"));
  tg::manual_seed(1);
  tg::nn::Sequential seq;
  for (std::size_t l = 0; l < layers; ++l) {
    seq.push_back(std::make_shared<tg::nn::Linear>(width, width));
    seq.push_back(std::make_shared<tg::nn::ReLU>());
  }
  const tg::Tensor x = tg::randn({batch, width});
  auto step = [&] {
    tg::Tensor y = segments == 0 ? seq.forward(x) : tg::nn::checkpoint_sequential(seq, segments, x);
    (y * y).mean().backward();
    seq.zero_grad(false);  // gradients stay allocated: they belong to the baseline
  };
  step();
  tg::empty_cache();
  malloc_trim(0);
  const double baseline = bench::current_rss_mib();
  const bool reset = bench::reset_peak_rss();
  const double start = bench::now_seconds();
  for (int r = 0; r < reps; ++r) step();
  const double seconds = (bench::now_seconds() - start) / reps;
  const double peak = bench::peak_rss_mib();
  std::cout << "{\"workload\": \"checkpoint_memory\", \"layers\": " << layers << ", \"width\": " << width
            << ", \"batch\": " << batch << ", \"segments\": " << segments << ", \"baseline_rss_mib\": " << baseline
            << ", \"peak_rss_mib\": " << peak << ", \"peak_over_baseline_mib\": " << peak - baseline
            << ", \"peak_reset\": " << (reset ? "true" : "false") << ", \"seconds_per_step\": " << seconds << "}\n";
  return 0;
}

int gradcheck_mlp(const std::map<std::string, double>& o) {
  tg::manual_seed(2);
  auto model = std::make_shared<tg::nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, tg::nn::ReLU());
  model->to(tg::kFloat64);
  const tg::Tensor x = tg::randn({static_cast<std::size_t>(o.at("batch")), 784}, tg::kFloat64);
  const double start = bench::now_seconds();
  const tg::GradcheckReport report = tg::gradcheck(model, x, tg::GradcheckOptions().fast_mode(true));
  const double seconds = bench::now_seconds() - start;
  std::cout << "{\"workload\": \"gradcheck_fast_mlp\", \"parameters\": " << model->num_parameters()
            << ", \"batch\": " << o.at("batch") << ", \"passed\": " << (report.passed ? "true" : "false")
            << ", \"seconds\": " << seconds << "}\n";
  return report.passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tg::set_num_threads(1);
  const std::string what = argc > 1 ? argv[1] : "";
  try {
    if (what == "memory")
      return memory(parse(argc, argv, {{"layers", 20}, {"width", 2048}, {"batch", 256}, {"segments", 0}, {"reps", 2}}));
    if (what == "gradcheck") return gradcheck_mlp(parse(argc, argv, {{"batch", 32}}));
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_bench: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: checkpoint_bench memory|gradcheck [--option value ...]\n";
  return 2;
}
