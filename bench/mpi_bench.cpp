// Data-parallel benchmarks, one JSON line per measurement (bench/RESULTS.md has the commands):
//   mpirun -np N mpi_bench allreduce      all-reduce latency and bandwidth, float32, 1 KB to 64 MB
//   mpirun -np N mpi_bench epoch [--threads T] [--samples S] [--batch B] [--bucket-kb K] [--no-sync]
//                                         one epoch of the MNIST-sized MLP (784-256-128-10) on
//                                         synthetic data, global batch B (128), DDP buckets of K KiB
//                                         (25 MiB), with how much of the all-reduce time backward
//                                         hid; --no-sync: every rank computes without all-reduce
//   mpi_bench epoch (without mpirun)      the same on one process (the baseline)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tapegrad/distributed.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

void allreduce(distributed::ProcessGroup& pg) {
  const int n = pg.world_size();
  for (std::size_t bytes = 1024; bytes <= (std::size_t{64} << 20); bytes *= 4) {
    Tensor t = ones({bytes / 4}, kFloat32);
    const int reps = bytes <= (std::size_t{1} << 20) ? 200 : 10;
    for (int i = 0; i < 3; ++i) pg.all_reduce(t);
    pg.barrier();
    const auto start = clock_type::now();
    for (int i = 0; i < reps; ++i) pg.all_reduce(t);
    const double per = seconds_since(start) / reps;
    // Bus bandwidth as NCCL reports it: a ring all-reduce moves 2 (N-1)/N of the data per rank.
    const double algbw = static_cast<double>(bytes) / per / 1e9;
    if (pg.rank() == 0)
      std::printf(
          "{\"workload\": \"allreduce\", \"ranks\": %d, \"bytes\": %zu, \"us\": %.2f, \"algbw_GBps\": %.3f, "
          "\"busbw_GBps\": %.3f}\n",
          n, bytes, per * 1e6, algbw, algbw * 2.0 * (n - 1) / n);
  }
}

void epoch(const std::shared_ptr<distributed::ProcessGroup>& pg, std::size_t samples, std::size_t batch, bool sync,
           std::size_t bucket_kb) {
  const std::size_t world = pg ? static_cast<std::size_t>(pg->world_size()) : 1;
  const std::size_t rank = pg ? static_cast<std::size_t>(pg->rank()) : 0;
  Generator gen(1);
  auto ds =
      std::make_shared<data::TensorDataset>(rand({samples, 784}, kFloat32, &gen), randint(0, 10, {samples}, &gen));
  auto net = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU(), nn::MLPOptions{}, &gen);
  std::shared_ptr<nn::Module> model = net;
  std::shared_ptr<nn::DistributedDataParallel> ddp;
  if (pg && world > 1)
    model = ddp = std::make_shared<nn::DistributedDataParallel>(
        net, pg, nn::DistributedDataParallelOptions().bucket_cap_bytes(bucket_kb << 10));
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  auto sampler = std::make_shared<data::DistributedSampler>(samples, world, rank,
                                                            data::DistributedSamplerOptions().seed(1).drop_last(true));
  data::DataLoader loader(ds, data::DataLoaderOptions(batch).sampler(sampler).global_batch_size(batch).drop_last(true));
  double wait = 0, backward = 0;
  const auto run = [&](std::size_t e) {
    for (const data::Batch& b : loader.epoch(e)) {
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy(model->forward(b.input), b.target);
      const auto t = clock_type::now();
      if (ddp && !sync) {
        // Every rank computes without communicating: the cost of sharing the machine, apart from MPI.
        nn::DistributedDataParallel::NoSync unsynced(*ddp);
        loss.backward();
      } else {
        loss.backward();
      }
      backward += seconds_since(t);
      if (ddp && sync) wait += ddp->last_wait_seconds();
      opt.step();
    }
  };
  run(0);  // warm-up
  wait = backward = 0;
  if (pg) pg->barrier();
  const auto start = clock_type::now();
  run(1);
  const double total = seconds_since(start);
  // The same all-reduces with nothing to hide behind: the gradients' size in the same buckets.
  double exposed = 0;
  if (ddp) {
    std::vector<Tensor> buckets;
    for (const auto& bucket : ddp->bucket_assignment()) {
      std::size_t numel = 0;
      for (std::size_t i : bucket) numel += ddp->parameters()[i].numel();
      buckets.push_back(zeros({numel}, kFloat32));
    }
    pg->barrier();
    const auto t = clock_type::now();
    for (std::size_t s = 0; s < loader.num_batches(); ++s)
      for (const Tensor& b : buckets) pg->all_reduce(b, distributed::ReduceOp::mean);
    exposed = seconds_since(t);
  }
  if (rank == 0)
    std::printf(
        "{\"workload\": \"mlp_epoch\", \"ranks\": %zu, \"threads\": %d, \"samples\": %zu, \"steps\": %zu, \"batch\": "
        "%zu, \"buckets\": %zu, \"sync\": %s, "
        "\"seconds\": %.3f, \"backward_seconds\": %.3f, \"allreduce_alone_seconds\": %.3f, "
        "\"wait_after_backward_seconds\": %.3f, \"hidden_share\": %.3f}\n",
        world, get_num_threads(), samples, loader.num_batches(), batch, ddp ? ddp->bucket_assignment().size() : 0,
        sync ? "true" : "false", total, backward, exposed, wait, exposed > 0 ? 1.0 - wait / exposed : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  int threads = 1;
  std::size_t samples = 16384, batch = 128, bucket_kb = 25u << 10;
  bool sync = true;
  for (int i = 2; i < argc; i += 2) {
    if (std::strcmp(argv[i], "--no-sync") == 0) {
      sync = false;
      --i;
      continue;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "mpi_bench: %s needs a value\n", argv[i]);
      return 2;
    }
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--samples") == 0) samples = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--batch") == 0)
      batch = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--bucket-kb") == 0)
      bucket_kb = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "mpi_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  try {
    set_num_threads(threads);
    std::shared_ptr<distributed::ProcessGroup> pg;
    if (distributed::launched_by_mpirun() || mode == "allreduce") pg = distributed::init_mpi();
    if (mode == "allreduce") allreduce(*pg);
    else if (mode == "epoch")
      epoch(pg, samples, batch, sync, bucket_kb);
    else {
      std::fprintf(
          stderr,
          "usage: mpi_bench allreduce | epoch [--threads T] [--samples S] [--batch B] [--bucket-kb K] [--no-sync]\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_bench: %s\n", e.what());
    distributed::abort_job(1);
  }
  return 0;
}
