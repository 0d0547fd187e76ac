// DistributedSampler: PyTorch's padding and striding over the DataLoader's permutation.
#include "tapegrad/data/distributed_sampler.hpp"

#include "tapegrad/data/dataset.hpp"
#include "tapegrad/error.hpp"

namespace tg::data {

DistributedSampler::DistributedSampler(std::size_t dataset_size, std::size_t num_replicas, std::size_t rank,
                                       DistributedSamplerOptions options)
    : dataset_size_(dataset_size), num_replicas_(num_replicas), rank_(rank), options_(options) {
  if (num_replicas == 0) fail("DistributedSampler: num_replicas must be positive");
  if (rank >= num_replicas)
    fail("DistributedSampler: rank ", rank, " is outside [0, ", num_replicas, ")");
  num_samples_ = options_.drop_last() ? dataset_size / num_replicas
                                      : dataset_size / num_replicas + (dataset_size % num_replicas != 0);
}

std::vector<std::int64_t> DistributedSampler::global_order(std::size_t epoch) const {
  std::vector<std::int64_t> order;
  if (options_.shuffle()) {
    order = permutation(dataset_size_, DataLoader::shuffle_seed(options_.seed(), epoch));
  } else {
    order.resize(dataset_size_);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  }
  const std::size_t total = total_size();
  if (order.size() > total) {
    order.resize(total);
  } else if (order.size() < total) {
    // Pad with the order's own first entries, again from the start if it is shorter than the gap
    // (a dataset smaller than the number of ranks), as PyTorch does.
    const std::size_t n = order.size();  // > 0: total_size() is 0 for an empty dataset
    for (std::size_t i = 0; order.size() < total; ++i) order.push_back(order[i % n]);
  }
  return order;
}

std::vector<std::int64_t> DistributedSampler::indices(std::size_t epoch) const {
  const std::vector<std::int64_t> order = global_order(epoch);
  std::vector<std::int64_t> shard;
  shard.reserve(num_samples_);
  for (std::size_t p = rank_; p < order.size(); p += num_replicas_) shard.push_back(order[p]);
  return shard;
}

std::size_t DistributedSampler::local_count_before(std::size_t position) const {
  return position > rank_ ? (position - rank_ + num_replicas_ - 1) / num_replicas_ : 0;
}

}  // namespace tg::data
