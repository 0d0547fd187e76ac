// DistributedSampler and the DataLoader's sharded, global-batch mode: no MPI needed, every rank
// is simulated here by constructing its sampler.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::data;

namespace {
std::vector<std::int64_t> targets_of(const DataLoader& loader, std::size_t epoch,
                                     std::vector<std::size_t>* sizes = nullptr) {
  std::vector<std::int64_t> seen;
  for (const Batch& b : loader.epoch(epoch)) {
    if (sizes) sizes->push_back(b.target.numel());
    for (std::size_t i = 0; i < b.target.numel(); ++i) seen.push_back(b.target.value<std::int64_t>()(i));
  }
  return seen;
}
}  // namespace

TEST_CASE("distributed sampler: shards are disjoint, equal and cover the epoch") {
  for (const std::size_t n : {12u, 13u, 14u, 2u}) {
    for (const std::size_t world : {1u, 2u, 3u, 4u}) {
      for (const bool drop_last : {false, true}) {
        INFO("n=" << n << " world=" << world << " drop_last=" << drop_last);
        const auto opt = DistributedSamplerOptions().seed(7).drop_last(drop_last);
        const DistributedSampler first(n, world, 0, opt);
        const std::size_t per_rank = drop_last ? n / world : (n + world - 1) / world;
        CHECK(first.num_samples() == per_rank);
        for (const std::size_t epoch : {0u, 3u}) {
          std::multiset<std::int64_t> all;
          for (std::size_t r = 0; r < world; ++r) {
            const auto shard = DistributedSampler(n, world, r, opt).indices(epoch);
            CHECK(shard.size() == per_rank);
            all.insert(shard.begin(), shard.end());
          }
          CHECK(all.size() == per_rank * world);
          const std::set<std::int64_t> distinct(all.begin(), all.end());
          for (std::int64_t i : distinct) CHECK((i >= 0 && i < static_cast<std::int64_t>(n)));
          if (drop_last) {
            // Cut, never padded: no sample twice, n % world samples left out.
            CHECK(distinct.size() == all.size());
          } else {
            // Padded: every sample at least once; the repeats are the padding (< world of them
            // unless the dataset is smaller than the number of ranks).
            CHECK(distinct.size() == n);
            if (n >= world) CHECK(all.size() - n < world);
          }
        }
      }
    }
  }
}

TEST_CASE("distributed sampler: the order is the DataLoader's, seeded by seed and epoch, striding by rank") {
  const std::size_t n = 10;
  Tensor x = arange(0, 10, 1, kFloat64).reshape({10, 1});
  TensorDataset ds(x, arange(0, 10, 1, kInt64));
  DataLoader plain(ds, DataLoaderOptions(4).shuffle(true).seed(5));
  const DistributedSampler one(n, 1, 0, DistributedSamplerOptions().seed(5));
  CHECK(one.indices(2) == plain.order(2));
  CHECK(one.indices(2) != one.indices(3));

  // By hand: world 3, 10 samples -> 4 each, total 12, padded with the order's first two.
  const DistributedSampler r1(n, 3, 1, DistributedSamplerOptions().seed(5));
  const auto global = r1.global_order(2);
  REQUIRE(global.size() == 12);
  CHECK(global[10] == global[0]);
  CHECK(global[11] == global[1]);
  CHECK(r1.indices(2) == std::vector<std::int64_t>{global[1], global[4], global[7], global[10]});
  const DistributedSampler unshuffled(n, 3, 2, DistributedSamplerOptions().shuffle(false).drop_last(true));
  CHECK(unshuffled.indices(0) == std::vector<std::int64_t>{2, 5, 8});
}

TEST_CASE(
    "distributed sampler: a DataLoader with global_batch_size gives each rank its part of the single-process batches") {
  const std::size_t n = 23;
  Tensor x = arange(0, static_cast<double>(n), 1, kFloat64).reshape({static_cast<std::int64_t>(n), 1});
  auto ds = std::make_shared<TensorDataset>(x, arange(0, static_cast<double>(n), 1, kInt64));
  const std::size_t global_batch = 8;
  for (const std::size_t world : {1u, 2u, 3u}) {
    INFO("world=" << world);
    // The single-process reference over the same global order (padding included).
    const auto global = DistributedSampler(n, world, 0, DistributedSamplerOptions().seed(11)).global_order(4);
    std::vector<std::vector<std::int64_t>> ranks_batches;
    std::map<std::size_t, std::multiset<std::int64_t>> union_by_step;
    for (std::size_t r = 0; r < world; ++r) {
      DataLoader loader(
          ds, DataLoaderOptions()
                  .sampler(std::make_shared<DistributedSampler>(n, world, r, DistributedSamplerOptions().seed(11)))
                  .global_batch_size(global_batch));
      CHECK(loader.num_batches() == (global.size() + global_batch - 1) / global_batch);
      std::size_t step = 0;
      for (const Batch& b : loader.epoch(4)) {
        for (std::size_t i = 0; i < b.target.numel(); ++i)
          union_by_step[step].insert(b.target.value<std::int64_t>()(i));
        ++step;
      }
    }
    for (const auto& [step, got] : union_by_step) {
      const auto begin = global.begin() + static_cast<std::ptrdiff_t>(step * global_batch);
      const auto end = global.begin() + static_cast<std::ptrdiff_t>(std::min(global.size(), (step + 1) * global_batch));
      CHECK(got == std::multiset<std::int64_t>(begin, end));
    }
  }

  // Without global_batch_size, batches are cut from the shard with batch_size.
  const auto opt =
      DataLoaderOptions(5).sampler(std::make_shared<DistributedSampler>(n, 2, 1, DistributedSamplerOptions().seed(3)));
  DataLoader loader(ds, opt);
  std::vector<std::size_t> sizes;
  CHECK(targets_of(loader, 1, &sizes) == opt.sampler()->indices(1));
  CHECK(sizes == std::vector<std::size_t>{5, 5, 2});
}

TEST_CASE("distributed sampler: bad arguments") {
  CHECK_THROWS_WITH(DistributedSampler(10, 0, 0), Catch::Contains("num_replicas"));
  CHECK_THROWS_WITH(DistributedSampler(10, 2, 2), Catch::Contains("rank 2") && Catch::Contains("[0, 2)"));
  // An empty dataset has empty shards (nothing to pad with, nothing to pad).
  CHECK(DistributedSampler(0, 2, 1).indices(0).empty());
  TensorDataset ds(zeros({6, 1}), zeros({6}));
  auto opt = DataLoaderOptions().sampler(std::make_shared<DistributedSampler>(6, 2, 0)).shuffle(true);
  CHECK_THROWS_WITH(DataLoader(ds, opt), Catch::Contains("shuffle must be false"));
  opt.shuffle(false).sampler(std::make_shared<DistributedSampler>(7, 2, 0));
  CHECK_THROWS_WITH(DataLoader(ds, opt), Catch::Contains("7 samples") && Catch::Contains("6"));
  opt.sampler(std::make_shared<DistributedSampler>(6, 3, 0)).global_batch_size(2);
  CHECK_THROWS_WITH(DataLoader(ds, opt), Catch::Contains("global_batch_size 2"));
  CHECK_THROWS_WITH(DataLoader(ds, DataLoaderOptions().global_batch_size(4)), Catch::Contains("needs a sampler"));
}
