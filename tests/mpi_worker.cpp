// The program the MPI tests start under mpirun (tests/mpi_test.sh). Each mode checks something
// across real processes and exits 0 only if every rank agrees it held:
//   collectives               all_reduce sum/mean in float32 and float64, async, broadcast, barrier, errors
//   equivalence DTYPE OPT [ACCUMULATE]
//                             trains a small MLP data-parallel (global batch 128) and compares every
//                             rank's weights with a single-process run with batch 128 on the same data
//   sampler                   the ranks' DistributedSampler shards are disjoint and cover the epoch
//   mismatch                  a rank with another model: DistributedDataParallel raises on every rank
//   batchnorm                 BatchNorm buffers are rank 0's at construction and at each training forward
//   failed_backward           a backward that fails on every rank: before reducing the ranks go on,
//                             after it the next forward raises
//   die RANK STEP             RANK kills itself (SIGKILL) at STEP of a training loop; the job must end
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "readme/distributed.includes.inc"  // the README's data-parallel snippet (below)
#include "tapegrad/distributed.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
using tg::distributed::ProcessGroup;
using tg::distributed::ReduceOp;

namespace {

int g_failures = 0;
int g_rank = 0;

// The README's data-parallel snippet (extracted by tests/readme_snippets.cmake), compiled so that
// it cannot drift from the API; not run (it trains for 10 epochs on the data it is given).
[[maybe_unused]] void readme_distributed_snippet(const tg::data::TensorDataset& train) {
#include "readme/distributed.inc"
}

void expect(bool ok, const std::string& what) {
  if (ok) return;
  ++g_failures;
  std::fprintf(stderr, "rank %d: FAILED: %s\n", g_rank, what.c_str());
}

template <class F>
void expect_error(F&& f, const std::string& needle, const std::string& what) {
  try {
    f();
    expect(false, what + ": no tg::Error");
  } catch (const Error& e) {
    expect(std::string(e.what()).find(needle) != std::string::npos, what + ": message '" + e.what() + "'");
  }
}

void collectives(ProcessGroup& pg) {
  const int n = pg.world_size(), r = pg.rank();
  for (DType dtype : {kFloat32, kFloat64}) {
    const std::string d = to_string(dtype);
    // Rank r holds r + 1 + i / 4 at position i; sums are exact in both dtypes.
    std::vector<double> mine, sum;
    for (int i = 0; i < 1000; ++i) {
      mine.push_back(r + 1 + i / 4.0);
      sum.push_back(n * (n + 1) / 2.0 + n * (i / 4.0));
    }
    Tensor t = from_vector(mine, {10, 100}, dtype);
    const auto before = t.version();
    pg.all_reduce(t, ReduceOp::sum);
    expect(t.to_vector() == sum, d + " all_reduce sum");
    expect(t.version() != before, d + " all_reduce bumps the version");
    Tensor m = from_vector(mine, {1000}, dtype);
    auto work = pg.all_reduce_async(m, ReduceOp::mean);
    work->wait();
    expect(work->is_completed(), d + " work completed after wait");
    const auto got = m.to_vector();
    bool ok = true;
    for (std::size_t i = 0; i < got.size(); ++i)
      ok =
          ok && got[i] == (dtype == kFloat64 ? sum[i] / n
                                             : static_cast<double>(static_cast<float>(sum[i]) / static_cast<float>(n)));
    expect(ok, d + " all_reduce mean");
    Tensor b = from_vector({r * 10.0, r * 10.0 + 1}, {2}, dtype);
    pg.broadcast(b, n - 1);
    expect(b.to_vector() == std::vector<double>{(n - 1) * 10.0, (n - 1) * 10.0 + 1},
           d + " broadcast from the last rank");
  }
  Tensor ints = from_vector({static_cast<double>(r), 7}, {2}, kInt64);
  pg.broadcast(ints, 0);
  expect(ints.to_vector() == std::vector<double>{0, 7}, "int64 broadcast");
  pg.barrier();
  expect_error([&] { pg.all_reduce(ints); }, "float32 or float64", "all_reduce of int64");
  expect_error([&] { pg.all_reduce(Tensor()); }, "undefined", "all_reduce of an undefined tensor");
  expect_error([&] { pg.broadcast(ints, n); }, "root", "broadcast from a rank that does not exist");
}

void sampler(ProcessGroup& pg) {
  const std::size_t n = 101, world = static_cast<std::size_t>(pg.world_size());
  for (bool drop_last : {false, true}) {
    data::DistributedSampler s(n, world, static_cast<std::size_t>(pg.rank()),
                               data::DistributedSamplerOptions().seed(3).drop_last(drop_last));
    // Every rank counts how often it holds each sample; the sum over ranks is the epoch's coverage.
    std::vector<double> counts(n, 0.0);
    for (std::int64_t i : s.indices(5)) counts[static_cast<std::size_t>(i)] += 1;
    Tensor c = from_vector(counts, {n}, kFloat64);
    pg.all_reduce(c);
    const auto total = c.to_vector();
    std::size_t covered = 0, twice = 0, seen = 0;
    for (double v : total) {
      covered += v >= 1;
      twice += v >= 2;
      seen += static_cast<std::size_t>(v);
    }
    if (drop_last) {
      expect(twice == 0 && covered == n - n % world, "drop_last shards are disjoint and miss only n % N samples");
    } else {
      expect(covered == n && seen == s.total_size() && twice == s.total_size() - n, "padded shards cover the epoch");
    }
  }
}

/// Synthetic classification: 768 samples, 6 features, 3 classes (divisible by 2, 3 and 128 / 2).
data::TensorDataset synthetic(DType dtype) {
  Generator gen(12345);
  Tensor x = randn({768, 6}, kFloat64, &gen);
  Tensor w = randn({6, 3}, kFloat64, &gen);
  Tensor y = argmax(matmul(x, w) + 0.3 * randn({768, 3}, kFloat64, &gen), 1);
  return data::TensorDataset(x.to(dtype), y);
}

std::shared_ptr<nn::Module> make_model(DType dtype, std::uint64_t seed) {
  Generator gen(seed);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{6, 16, 16, 3}, nn::Tanh(), nn::MLPOptions{}, &gen);
  model->to(dtype);
  return model;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params) {
  if (name == "sgd") return std::make_unique<optim::SGD>(std::move(params), optim::SGDOptions(0.1).momentum(0.9));
  if (name == "adam") return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions(0.01));
  fail("mpi_worker: unknown optimizer ", name);
}

constexpr std::size_t kEpochs = 40;  // 6 steps each: 240 steps
constexpr std::size_t kGlobalBatch = 128;

/// Weights after single-process training with batch 128, as a flat vector.
std::vector<double> single_process(DType dtype, const std::string& opt_name) {
  auto ds = synthetic(dtype);
  auto model = make_model(dtype, 1);
  auto opt = make_optimizer(opt_name, model->parameters());
  data::DataLoader loader(ds, data::DataLoaderOptions(kGlobalBatch).shuffle(true).seed(9));
  for (std::size_t epoch = 0; epoch < kEpochs; ++epoch)
    for (const data::Batch& b : loader.epoch(epoch)) {
      opt->zero_grad();
      nn::functional::cross_entropy(model->forward(b.input), b.target).backward();
      opt->step();
    }
  std::vector<double> w;
  for (const Tensor& p : model->parameters())
    for (double v : p.to_vector()) w.push_back(v);
  return w;
}

void equivalence(const std::shared_ptr<ProcessGroup>& pg, DType dtype, const std::string& opt_name,
                 std::size_t accumulate, double tolerance) {
  const std::size_t world = static_cast<std::size_t>(pg->world_size()), rank = static_cast<std::size_t>(pg->rank());
  auto ds = std::make_shared<data::TensorDataset>(synthetic(dtype));
  // Ranks other than 0 start from other weights: construction must copy rank 0's.
  auto ddp = std::make_shared<nn::DistributedDataParallel>(make_model(dtype, rank == 0 ? 1 : 100 + rank), pg,
                                                           nn::DistributedDataParallelOptions().bucket_cap_bytes(600));
  const auto buckets = ddp->bucket_assignment();
  expect(buckets.size() > 1, "several buckets");
  // Reverse parameter order: the first bucket starts with the last parameter (the output bias).
  expect(!buckets.empty() && buckets.front().front() == ddp->parameters().size() - 1, "buckets in reverse order");
  auto opt = make_optimizer(opt_name, ddp->parameters());
  // With accumulation, a step of 128 is `accumulate` micro-batches of 128 / accumulate.
  const std::size_t micro = kGlobalBatch / accumulate;
  auto sampler = std::make_shared<data::DistributedSampler>(ds->size(), world, rank,
                                                            data::DistributedSamplerOptions().shuffle(true).seed(9));
  data::DataLoader loader(ds, data::DataLoaderOptions().sampler(sampler).global_batch_size(micro));
  for (std::size_t epoch = 0; epoch < kEpochs; ++epoch) {
    std::size_t k = 0;
    for (const data::Batch& b : loader.epoch(epoch)) {
      // DDP averages over ranks; rank r's mean over its n_r samples, weighted by n_r N / micro,
      // averages to the mean over the micro-batch (n_r differs between ranks when N does not divide it).
      const double weight = static_cast<double>(b.target.numel() * world) / static_cast<double>(micro * accumulate);
      Tensor loss = nn::functional::cross_entropy(ddp->forward(b.input), b.target) * weight;
      if (++k % accumulate != 0) {
        auto no_sync = ddp->no_sync();
        loss.backward();
      } else {
        loss.backward();
        opt->step();
        opt->zero_grad();
      }
    }
  }
  const std::vector<double> reference = single_process(dtype, opt_name);
  std::vector<double> mine;
  for (const Tensor& p : ddp->parameters())
    for (double v : p.to_vector()) mine.push_back(v);
  expect(mine.size() == reference.size(), "same number of weights");
  double max_diff = 0, max_abs = 0;
  for (std::size_t i = 0; i < std::min(mine.size(), reference.size()); ++i) {
    max_diff = std::max(max_diff, std::abs(mine[i] - reference[i]));
    max_abs = std::max(max_abs, std::abs(reference[i]));
  }
  // And the ranks agree with each other exactly (they apply the same reduced gradients).
  Tensor first = from_vector(mine, {mine.size()}, kFloat64);
  pg->broadcast(first, 0);
  expect(first.to_vector() == mine, "every rank ends with rank 0's weights, bit for bit");
  std::printf("rank %zu: %s %s accumulate %zu: max |w_ddp - w_single| = %.3g (max |w| = %.3g, tolerance %.3g)\n",
              rank, to_string(dtype), opt_name.c_str(), accumulate, max_diff, max_abs, tolerance);
  expect(max_diff <= tolerance, "weights match the single-process run");
}

/// BatchNorm's running statistics are rank 0's after construction and at every training forward.
void batchnorm(const std::shared_ptr<ProcessGroup>& pg) {
  const int rank = pg->rank();
  Generator gen(1);
  auto net =
      std::make_shared<nn::MLP>(std::vector<std::size_t>{6, 8, 3}, nn::Tanh(), nn::MLPOptions{0.0, true, false}, &gen);
  net->to(kFloat64);
  const auto stats_of = [&] {
    std::vector<double> v;
    for (const Tensor& b : net->buffers())
      for (double x : b.to_vector()) v.push_back(x);
    return v;
  };
  const auto same_as_rank0 = [&] {
    const std::vector<double> mine = stats_of();
    Tensor first = from_vector(mine, {mine.size()}, kFloat64);
    pg->broadcast(first, 0);
    return first.to_vector() == mine;
  };
  // Each rank's own statistics before wrapping.
  for (Tensor b : net->buffers())
    if (b.dtype() == kFloat64) b.data_ptr<double>()[0] = 10.0 + rank;
  auto ddp = std::make_shared<nn::DistributedDataParallel>(net, pg);
  expect(same_as_rank0(), "construction copies rank 0's buffers");
  optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.1));
  Generator data_gen(50 + static_cast<std::uint64_t>(rank));  // each rank its own batches
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    nn::functional::cross_entropy(ddp->forward(randn({16, 6}, kFloat64, &data_gen)), randint(0, 3, {16}, &data_gen))
        .backward();
    opt.step();
  }
  // (Rank 0 trivially matches itself; the others saw other batches.)
  const bool same_after_training = same_as_rank0();
  if (rank != 0) expect(!same_after_training, "after a training forward each rank's statistics include its own batch");
  // The next forward starts from rank 0's statistics: with the same batch everywhere they stay equal.
  Tensor x = randn({16, 6}, kFloat64, &gen);
  ddp->forward(x);
  expect(same_as_rank0(), "a training forward starts from rank 0's buffers");
}

/// A rank whose model differs: every rank raises (none is left waiting in a collective).
void mismatch(const std::shared_ptr<ProcessGroup>& pg) {
  Generator gen(1);
  const std::size_t hidden = pg->rank() == 1 ? 9 : 8;
  auto net = std::make_shared<nn::MLP>(std::vector<std::size_t>{6, hidden, 3}, nn::MLPOptions{}, &gen);
  expect_error([&] { nn::DistributedDataParallel ddp(net, pg); }, "models differ", "mismatched models");
}

/// A backward that fails on every rank. Before any gradient reached DistributedDataParallel the
/// ranks carry on (and stay equal); once gradients had started to be all-reduced, the next
/// forward and backward raise (the ranks' collectives could be out of step) rather than hang.
void failed_backward(const std::shared_ptr<ProcessGroup>& pg) {
  // Buckets of 64 bytes: several all-reduces start during each backward.
  auto ddp = std::make_shared<nn::DistributedDataParallel>(make_model(kFloat64, 1), pg,
                                                           nn::DistributedDataParallelOptions().bucket_cap_bytes(64));
  expect(ddp->bucket_assignment().size() > 2, "several buckets");
  optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.1));
  Generator gen(20 + static_cast<std::uint64_t>(pg->rank()));
  const auto loss_of = [&] {
    opt.zero_grad();
    return nn::functional::cross_entropy(ddp->forward(randn({16, 6}, kFloat64, &gen)), randint(0, 3, {16}, &gen));
  };
  const auto weights_agree = [&] {
    std::vector<double> mine;
    for (const Tensor& p : ddp->parameters())
      for (double v : p.to_vector()) mine.push_back(v);
    Tensor first = from_vector(mine, {mine.size()}, kFloat64);
    pg->broadcast(first, 0);
    return first.to_vector() == mine;
  };
  // 1. A hook on the loss throws: backward ends before any parameter's gradient.
  {
    Tensor loss = loss_of();
    loss.register_hook([](const Tensor&) -> Tensor { fail("boom before any gradient"); });
    expect_error([&] { loss.backward(); }, "boom before any gradient", "the hook's error reaches the caller");
  }
  for (int step = 0; step < 3; ++step) {
    loss_of().backward();
    opt.step();
  }
  expect(weights_agree(), "training goes on after a backward that failed before reducing");
  // 2. A hook on the first layer's weight (the last gradient) throws after DDP took the others.
  const Tensor first_weight = ddp->parameters().front();
  HookHandle h = first_weight.register_post_accumulate_grad_hook([](const Tensor&) { fail("boom midway"); });
  expect_error([&] { loss_of().backward(); }, "boom midway", "the hook's error reaches the caller");
  h.remove();
  expect_error([&] { loss_of(); }, "failed midway", "the next forward raises");
  {
    ddp->eval();
    NoGradGuard no_grad;
    ddp->forward(randn({4, 6}, kFloat64, &gen));  // evaluation (no collectives) still works
  }
}

void die(const std::shared_ptr<ProcessGroup>& pg, int victim, int at_step) {
  auto ddp = std::make_shared<nn::DistributedDataParallel>(make_model(kFloat64, 1), pg);
  optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.1));
  Tensor x = randn({32, 6}, kFloat64);
  Tensor y = zeros({32}, kInt64);
  for (int step = 0;; ++step) {
    if (pg->rank() == victim && step == at_step) raise(SIGKILL);
    opt.zero_grad();
    nn::functional::cross_entropy(ddp->forward(x), y).backward();
    opt.step();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: mpi_worker collectives|sampler|equivalence DTYPE OPT [ACC]|die RANK STEP\n");
    return 2;
  }
  try {
    set_num_threads(1);
    auto pg = distributed::init_mpi(distributed::MpiOptions().timeout_seconds(60));
    g_rank = pg->rank();
    const std::string mode = argv[1];
    if (mode == "collectives") {
      collectives(*pg);
    } else if (mode == "sampler") {
      sampler(*pg);
    } else if (mode == "equivalence" && argc >= 4) {
      const DType dtype = std::strcmp(argv[2], "float32") == 0 ? kFloat32 : kFloat64;
      // float64: the runs differ only in summation order (see README "Determinism"); float32: the
      // same rounding, 2^29 times larger.
      const double tolerance = dtype == kFloat64 ? 1e-12 : 1e-4;
      equivalence(pg, dtype, argv[3], argc >= 5 ? std::stoul(argv[4]) : 1, tolerance);
    } else if (mode == "mismatch") {
      mismatch(pg);
    } else if (mode == "batchnorm") {
      batchnorm(pg);
    } else if (mode == "failed_backward") {
      failed_backward(pg);
    } else if (mode == "die" && argc >= 4) {
      die(pg, std::atoi(argv[2]), std::atoi(argv[3]));
    } else {
      std::fprintf(stderr, "mpi_worker: unknown mode %s\n", mode.c_str());
      return 2;
    }
    // Every rank learns whether any failed, so all exit alike.
    Tensor failures = from_vector({static_cast<double>(g_failures)}, {1}, kFloat64);
    pg->all_reduce(failures);
    if (failures.item() > 0) {
      if (g_rank == 0)
        std::fprintf(stderr, "mpi_worker %s: %g failed checks over all ranks\n", mode.c_str(), failures.item());
      return 1;
    }
    if (g_rank == 0) std::printf("mpi_worker %s: passed on %d ranks\n", mode.c_str(), pg->world_size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: error: %s\n", g_rank, e.what());
    distributed::abort_job(1);
  }
}
