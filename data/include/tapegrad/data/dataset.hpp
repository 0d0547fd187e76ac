/// \file
/// Datasets and a DataLoader for mini-batch training, plus the usual preprocessing.
///
/// \code{.cpp}
///   tg::data::TensorDataset train(images, labels);
///   tg::data::DataLoader loader(train, tg::data::DataLoaderOptions(128).shuffle(true).seed(1));
///   for (std::size_t epoch = 0; epoch < 10; ++epoch)
///     for (const tg::data::Batch& batch : loader.epoch(epoch)) {
///       // batch.input: 128 rows of images, batch.target: their labels
///     }
/// \endcode
///
/// The order of epoch e depends only on (seed, e), so a run resumed at epoch e sees exactly the
/// batches an uninterrupted run would have seen.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tapegrad/data/distributed_sampler.hpp"
#include "tapegrad/options.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::data {

/// A mini-batch: rows of the inputs and the matching targets.
struct Batch {
  Tensor input;   ///< (B, ...): B rows of the dataset's inputs
  Tensor target;  ///< (B, ...): the matching B targets
};

/// Anything that can hand out rows by index.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of rows.
  virtual std::size_t size() const = 0;
  /// The rows at `indices` (each in [0, size())), stacked along a new first axis.
  virtual Batch get_batch(const std::vector<std::int64_t>& indices) const = 0;
};

/// Inputs and targets held in memory as two tensors whose first axes have the same length.
class TensorDataset : public Dataset {
 public:
  /// inputs (N, ...) and targets (N, ...); tg::Error unless both have at least one axis and the
  /// same first extent N.
  TensorDataset(Tensor inputs, Tensor targets);
  /// N.
  std::size_t size() const override { return size_; }
  Batch get_batch(const std::vector<std::int64_t>& indices) const override;
  /// The whole inputs tensor (N, ...).
  const Tensor& inputs() const { return inputs_; }
  /// The whole targets tensor (N, ...).
  const Tensor& targets() const { return targets_; }
  /// Rows [begin, end) as a new dataset (e.g. the first 50,000 images for training).
  TensorDataset slice(std::size_t begin, std::size_t end) const;

 private:
  Tensor inputs_, targets_;
  std::size_t size_;
};

/// Splits into (train, validation): a seeded shuffle, then the last `validation_fraction` of the
/// rows (rounded down) go to validation.
std::pair<TensorDataset, TensorDataset> train_validation_split(const TensorDataset& data, double validation_fraction,
                                                                 std::uint64_t seed);

/// A permutation of 0..n-1 determined by seed (Fisher-Yates on a 64-bit Mersenne Twister with
/// unbiased bounded draws; the same on every platform).
std::vector<std::int64_t> permutation(std::size_t n, std::uint64_t seed);

/// How a DataLoader batches, with libtorch's chained setters:
/// `DataLoaderOptions().batch_size(64).shuffle(true)` or `DataLoaderOptions(64).drop_last(true)`;
/// `options.batch_size()` reads a value back. The options and their defaults:
/// - batch_size (32): rows per batch, >= 1.
/// - shuffle (false): reshuffle every epoch (the order from seed and epoch number).
/// - seed (0): seed of the shuffles.
/// - drop_last (false): drop a final batch smaller than batch_size.
/// - sampler (none): data-parallel training, this rank's shard of each epoch instead of the whole
///   dataset (then shuffle must be false: the sampler shuffles). Batches are cut from the shard.
/// - global_batch_size (0): with a sampler, instead of batch_size: batch k of every rank holds
///   that rank's samples among positions [k G, (k + 1) G) of the sampler's global order, so the
///   ranks' batches k together are exactly batch k of one process with batch size G (local sizes
///   differ by at most one when N does not divide G). 0: use batch_size. drop_last drops a final
///   global batch shorter than G.
struct DataLoaderOptions {
  /// Defaults (batch size 32).
  DataLoaderOptions() = default;
  /// Batches of batch_size rows, as libtorch's `DataLoaderOptions(batch_size)`. Implicit, so
  /// `DataLoader(data, 64)` reads as libtorch's `make_data_loader(data, 64)`.
  DataLoaderOptions(std::size_t batch_size) : batch_size_(batch_size) {}  // NOLINT(google-explicit-constructor)

  TG_ARG(std::size_t, batch_size, 32);
  TG_ARG(bool, shuffle, false);
  TG_ARG(std::uint64_t, seed, 0);
  TG_ARG(bool, drop_last, false);
  TG_ARG(std::shared_ptr<const DistributedSampler>, sampler, nullptr);
  TG_ARG(std::size_t, global_batch_size, 0);
};

/// Cuts a dataset into mini-batches. Every sample appears exactly once per epoch (all but the
/// last partial batch when drop_last).
class DataLoader {
 public:
  /// Batches of `dataset` (shared, or a TensorDataset copied: its tensors are handles, so the
  /// copy is cheap). tg::Error for batch_size 0.
  ///@{
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  DataLoader(const TensorDataset& dataset, DataLoaderOptions options);
  ///@}

  /// Number of batches per epoch.
  std::size_t num_batches() const;
  /// Number of samples in the dataset.
  std::size_t num_samples() const { return dataset_->size(); }
  /// The options given to the constructor.
  const DataLoaderOptions& options() const { return options_; }
  /// The sample order of an epoch (with a sampler: this rank's shard).
  std::vector<std::int64_t> order(std::size_t epoch) const;
  /// Positions [begin, end) of batch `index` in order(epoch).
  std::pair<std::size_t, std::size_t> batch_range(std::size_t index) const;
  /// The seed of epoch e's shuffle (shared with DistributedSampler, so one rank of one sees
  /// exactly the DataLoader's order).
  static std::uint64_t shuffle_seed(std::uint64_t seed, std::size_t epoch) {
    // Mix the epoch into the seed so epochs differ but each is reproducible on its own.
    return seed * 0x9E3779B97F4A7C15ULL + epoch + 1;
  }

  class Iterator;
  /// The batches of one epoch, as a range.
  class Epoch {
   public:
    /// The first batch, and one past the last.
    ///@{
    Iterator begin() const;
    Iterator end() const;
    ///@}
    /// Number of batches (num_batches()).
    std::size_t size() const { return loader_->num_batches(); }

   private:
    friend class DataLoader;
    Epoch(const DataLoader* loader, std::vector<std::int64_t> order);
    const DataLoader* loader_;
    std::shared_ptr<std::vector<std::int64_t>> order_;
  };
  /// The batches of epoch `epoch` (0, 1, ...), in order(epoch): `for (const Batch& b : loader.epoch(e))`.
  Epoch epoch(std::size_t epoch) const;

  /// An input iterator over the batches of an epoch; each batch is loaded when the iterator
  /// reaches it.
  class Iterator {
   public:
    /// The current batch.
    ///@{
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    ///@}
    /// Moves to (and loads) the next batch.
    Iterator& operator++();
    /// Compares positions within the same epoch.
    ///@{
    bool operator!=(const Iterator& other) const { return index_ != other.index_; }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }
    ///@}
    /// Position of the current batch within the epoch.
    std::size_t index() const { return index_; }

   private:
    friend class Epoch;
    Iterator(const DataLoader* loader, std::shared_ptr<std::vector<std::int64_t>> order, std::size_t index);
    void load();
    const DataLoader* loader_;
    std::shared_ptr<std::vector<std::int64_t>> order_;
    std::size_t index_;
    Batch batch_;
  };

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
};

/// One-hot rows (N, classes) of dtype from int64 labels (N); labels must lie in [0, classes).
Tensor one_hot(const Tensor& labels, std::size_t classes, DType dtype = kFloat32);

/// Standardisation per feature column: (x - mean) / std, fitted on training data only.
/// Columns with zero spread are left centred but unscaled.
class Standardizer {
 public:
  /// Learns mean and (population) standard deviation of each column of x (N, F).
  void fit(const Tensor& x);
  /// (x - mean) / scale for x (N, F), in x's dtype; tg::Error before fit() or for another F.
  Tensor transform(const Tensor& x) const;
  /// Per-column mean and scale (float64, (F)); undefined before fit().
  ///@{
  const Tensor& mean() const { return mean_; }
  const Tensor& scale() const { return scale_; }
  ///@}

 private:
  Tensor mean_, scale_;
};

/// Min-max scaling per feature column to [0, 1], fitted on training data only.
class MinMaxScaler {
 public:
  /// Learns the minimum and range (max - min) of each column of x (N, F).
  void fit(const Tensor& x);
  /// (x - min) / range for x (N, F), in x's dtype; a zero range counts as 1. tg::Error before fit().
  Tensor transform(const Tensor& x) const;

 private:
  Tensor min_, range_;
};

}  // namespace tg::data
