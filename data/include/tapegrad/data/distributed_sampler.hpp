/// \file
/// tg::data::DistributedSampler: each of N processes gets its own shard of every epoch, as
/// torch.utils.data.distributed.DistributedSampler.
///
/// Epoch e's global order is the permutation the DataLoader would use with the same seed (or
/// 0..n-1 without shuffle), made a multiple of N long: padded by repeating its first entries, or
/// (drop_last) cut. Rank r takes positions r, r + N, r + 2N, ... of it. So the shards of one
/// epoch are disjoint (without padding) and together cover the epoch; every rank computes the same
/// global order from (seed, e) alone, with no communication. It knows nothing of MPI: give it the
/// rank and the number of processes.
#pragma once

#include <cstdint>
#include <vector>

#include "tapegrad/options.hpp"

namespace tg::data {

/// Options of DistributedSampler (defaults as PyTorch's), with chained setters:
/// `DistributedSamplerOptions().seed(7).drop_last(true)`.
/// - shuffle (true): a new permutation every epoch, from seed and epoch.
/// - seed (0): must be the same on every rank.
/// - drop_last (false): cut the tail to a multiple of num_replicas instead of padding.
struct DistributedSamplerOptions {
  TG_ARG(bool, shuffle, true);
  TG_ARG(std::uint64_t, seed, 0);
  TG_ARG(bool, drop_last, false);
};

/// One rank's shards of every epoch of a dataset (see the file's description); DataLoaderOptions::sampler
/// takes it.
class DistributedSampler {
 public:
  /// Shards of a dataset of dataset_size samples for `rank` out of num_replicas processes.
  /// Raises tg::Error for num_replicas == 0 or rank >= num_replicas.
  DistributedSampler(std::size_t dataset_size, std::size_t num_replicas, std::size_t rank,
                     DistributedSamplerOptions options = {});

  /// Samples per rank per epoch: ceil(n / N), or floor(n / N) with drop_last.
  std::size_t num_samples() const { return num_samples_; }
  /// num_samples() * num_replicas(): the length of an epoch's global order.
  std::size_t total_size() const { return num_samples_ * num_replicas_; }
  /// N, the number of processes sharing the dataset.
  std::size_t num_replicas() const { return num_replicas_; }
  /// This process's rank, 0 <= rank < N.
  std::size_t rank() const { return rank_; }
  /// n, the number of samples in the dataset.
  std::size_t dataset_size() const { return dataset_size_; }
  /// The options given at construction.
  const DistributedSamplerOptions& options() const { return options_; }

  /// Epoch e's order for all ranks (total_size() entries, padded or cut).
  std::vector<std::int64_t> global_order(std::size_t epoch) const;
  /// This rank's shard of epoch e: global_order(e)[rank], [rank + N], ...
  std::vector<std::int64_t> indices(std::size_t epoch) const;
  /// How many of the global positions [0, position) are this rank's (its shard index of the first
  /// global position at or after `position` that it owns).
  std::size_t local_count_before(std::size_t position) const;

 private:
  std::size_t dataset_size_, num_replicas_, rank_;
  DistributedSamplerOptions options_;
  std::size_t num_samples_;
};

}  // namespace tg::data
