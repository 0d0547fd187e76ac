// Steady-state per-op cost (issue 19), included by tapegrad_bench.cpp: short chains of one
// elementwise op recorded, differentiated and freed again and again, beside the bandwidth floor
// of the same op measured in this process. bench/torch_more.py is the PyTorch side.
#pragma once

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace bench {

/// Bytes one op of the chain reads and writes, in units of one tensor: forward and backward.
/// mul (x * c) reads x and c and writes the product; its backward reads the gradient and c and
/// writes the input's gradient. add passes the gradient through untouched. tanh reads x and
/// writes y; its backward reads the gradient and y and writes grad * (1 - y^2).
struct OpTraffic {
  double forward, backward;
};

inline OpTraffic op_traffic(const std::string& op) {
  if (op == "mul") return {3, 3};
  if (op == "add") return {3, 0};
  if (op == "tanh") return {2, 3};
  if (op == "mixed") return {(3.0 + 3.0 + 2.0) / 3.0, (3.0 + 0.0 + 3.0) / 3.0};
  throw std::runtime_error("--op must be mul, add, tanh or mixed, got " + op);
}

/// Median copy bandwidth (bytes read + written per second) of memcpy between two buffers of
/// `bytes` bytes, after a warm-up copy; enough copies per round to take ~1 ms.
inline double copy_bandwidth(std::size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 2);
  std::memcpy(b.data(), a.data(), bytes);
  const std::size_t per_round = std::max<std::size_t>(1, (std::size_t{1} << 22) / std::max<std::size_t>(bytes, 1));
  std::vector<double> rounds;
  for (int r = 0; r < 15; ++r) {
    const double start = now_seconds();
    for (std::size_t i = 0; i < per_round; ++i) {
      std::memcpy((i % 2 ? a : b).data(), (i % 2 ? b : a).data(), bytes);
      asm volatile("" : : "r"(a.data()), "r"(b.data()) : "memory");  // keep every copy
    }
    rounds.push_back((now_seconds() - start) / static_cast<double>(per_round));
  }
  std::sort(rounds.begin(), rounds.end());
  return 2.0 * static_cast<double>(bytes) / rounds[rounds.size() / 2];
}

/// One chain's figures (run_chain_once).
struct ChainTimes {
  double forward_s, backward_s, minor_faults, heap_bytes;
};

/// Records `ops` ops from x0 (kind 0: x * c, 1: x + d, 2: tanh(x), -1: the three alternating,
/// as workload 3), then sum(x).backward(); the graph is freed with the sum. heap_bytes is what the
/// recorded chain held (glibc's count), read between the two timed parts.
inline ChainTimes run_chain_once(tg::Tensor& x0, const tg::Tensor& c, const tg::Tensor& d, int kind, std::size_t ops) {
  x0.zero_grad();
  const double heap0 = heap_bytes_in_use();
  const double faults0 = minor_faults();
  const double start = now_seconds();
  tg::Tensor x = x0;
  for (std::size_t i = 0; i < ops; ++i) {
    switch (kind < 0 ? static_cast<int>(i % 3) : kind) {
      case 0:
        x = x * c;
        break;
      case 1:
        x = x + d;
        break;
      default:
        x = tg::tanh(x);
        break;
    }
  }
  const tg::Tensor total = tg::sum(x);
  const double middle = now_seconds();
  const double heap = heap_bytes_in_use() - heap0;
  const double backward_start = now_seconds();
  x = tg::Tensor();
  total.backward();
  const double end = now_seconds();
  return {middle - start, end - backward_start, minor_faults() - faults0, heap};
}

/// A chain of `ops` ops of one kind on a float32 tensor of `shape` (mul: x * c, add: x + d,
/// tanh: tanh(x), mixed: the three alternating as in workload 3; c = 1, d = 0 as there), then
/// sum(x).backward(); the graph is freed before the next chain. `warmup` untimed chains first,
/// then `reps` timed ones; reports the median forward and backward time per op.
inline int run_steady(const Options& opt, const tg::Shape& shape) {
  const std::string op = opt.str("op");
  const OpTraffic traffic = op_traffic(op);
  const auto ops = static_cast<std::size_t>(std::max(1L, opt.integer("ops")));
  const auto reps = static_cast<std::size_t>(std::max(1L, opt.integer("reps")));
  const auto warmup = static_cast<std::size_t>(opt.integer("warmup"));
  tg::set_num_threads(1);
  const tg::Tensor c = tg::full(shape, 1.0), d = tg::full(shape, 0.0);
  tg::Tensor x0 = tg::full(shape, 0.5, tg::TensorOptions().requires_grad());
  const int kind = op == "mul" ? 0 : op == "add" ? 1 : op == "tanh" ? 2 : -1;
  std::vector<double> forward_s, backward_s, total_s;
  double faults_per_op = 0;
  for (std::size_t r = 0; r < warmup + reps; ++r) {
    const ChainTimes t = run_chain_once(x0, c, d, kind, ops);
    faults_per_op = t.minor_faults / static_cast<double>(ops);
    if (r < warmup) continue;
    forward_s.push_back(t.forward_s);
    backward_s.push_back(t.backward_s);
    total_s.push_back(t.forward_s + t.backward_s);
  }
  const double grad0 = static_cast<double>(x0.grad().value<float>().data()[0]);
  const double per_op = 1e6 / static_cast<double>(ops);
  const double bytes = static_cast<double>(x0.numel() * sizeof(float));
  const double bandwidth = copy_bandwidth(x0.numel() * sizeof(float));
  JsonLine line;
  line.add("workload", "steady")
      .add("framework", "tapegrad")
      .add("shape", opt.str("shape"))
      .add("op", op)
      .add("threads", 1)
      .add("ops", static_cast<double>(ops))
      .add("reps", static_cast<double>(reps))
      .add("us_per_op", median_of(total_s) * per_op)
      .add("forward_us_per_op", median_of(forward_s) * per_op)
      .add("backward_us_per_op", median_of(backward_s) * per_op)
      .add("copy_gb_per_s", bandwidth / 1e9)
      .add("floor_forward_us_per_op", traffic.forward * bytes / bandwidth * 1e6)
      .add("floor_backward_us_per_op", traffic.backward * bytes / bandwidth * 1e6)
      .add("floor_us_per_op", (traffic.forward + traffic.backward) * bytes / bandwidth * 1e6)
      .add("page_faults_per_op", faults_per_op)
      .add("grad0", grad0)
      .add("peak_rss_mib", peak_rss_mib())
      .print();
  return 0;
}

}  // namespace bench
