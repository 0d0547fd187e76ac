// TensorDataset, DataLoader and preprocessing.
#include "tapegrad/data/dataset.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::data {

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  if (!inputs_.defined() || !targets_.defined()) fail("TensorDataset: inputs and targets must be defined");
  if (inputs_.dim() == 0 || targets_.dim() == 0)
    fail("TensorDataset: inputs and targets need a first (sample) axis, got shapes ", to_string(inputs_.shape()),
         " and ", to_string(targets_.shape()));
  if (inputs_.shape()[0] != targets_.shape()[0])
    fail("TensorDataset: inputs have ", inputs_.shape()[0], " rows but targets have ", targets_.shape()[0],
         " (shapes ", to_string(inputs_.shape()), " and ", to_string(targets_.shape()), ")");
  size_ = inputs_.shape()[0];
}

Batch TensorDataset::get_batch(const std::vector<std::int64_t>& indices) const {
  NoGradGuard no_grad;
  xt::xarray<std::int64_t> idx = xt::xarray<std::int64_t>::from_shape({indices.size()});
  std::copy(indices.begin(), indices.end(), idx.begin());
  const Tensor index(std::move(idx));
  return {index_select(inputs_, 0, index), index_select(targets_, 0, index)};
}

TensorDataset TensorDataset::slice(std::size_t begin, std::size_t end) const {
  if (begin > end || end > size_)
    fail("TensorDataset::slice: range [", begin, ", ", end, ") is outside [0, ", size_, ")");
  NoGradGuard no_grad;
  const auto b = static_cast<std::int64_t>(begin), e = static_cast<std::int64_t>(end);
  return TensorDataset(tg::slice(inputs_, 0, b, e), tg::slice(targets_, 0, b, e));
}

std::vector<std::int64_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::int64_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::int64_t>(i);
  std::mt19937_64 gen(seed);
  for (std::size_t i = n; i-- > 1;) {
    // Unbiased draw in [0, i] by rejection (std::uniform_int_distribution differs by library).
    const std::uint64_t bound = i + 1;
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t r;
    do r = gen(); while (r >= limit);
    std::swap(p[i], p[r % bound]);
  }
  return p;
}

std::pair<TensorDataset, TensorDataset> train_validation_split(const TensorDataset& data, double fraction,
                                                                 std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) fail("train_validation_split: fraction must be in [0, 1], got ", fraction);
  const auto order = permutation(data.size(), seed);
  const std::size_t n_val = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(data.size())));
  const std::size_t n_train = data.size() - n_val;
  const Batch train =
      data.get_batch(std::vector<std::int64_t>(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_train)));
  const Batch val =
      data.get_batch(std::vector<std::int64_t>(order.begin() + static_cast<std::ptrdiff_t>(n_train), order.end()));
  return {TensorDataset(train.input, train.target), TensorDataset(val.input, val.target)};
}

// ---- DataLoader ----------------------------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  if (!dataset_) fail("DataLoader: dataset is null");
  if (options_.batch_size() == 0) fail("DataLoader: batch_size must be positive");
  if (const auto& sampler = options_.sampler()) {
    if (options_.shuffle())
      fail("DataLoader: shuffle must be false with a sampler (the sampler shuffles; set its options)");
    if (sampler->dataset_size() != dataset_->size())
      fail("DataLoader: the sampler was made for ", sampler->dataset_size(), " samples but the dataset has ",
           dataset_->size());
    if (options_.global_batch_size() != 0 && options_.global_batch_size() < sampler->num_replicas())
      fail("DataLoader: global_batch_size ", options_.global_batch_size(), " is smaller than the ",
           sampler->num_replicas(), " ranks (some would get empty batches)");
  } else if (options_.global_batch_size() != 0) {
    fail("DataLoader: global_batch_size needs a sampler (use batch_size without one)");
  }
}

DataLoader::DataLoader(const TensorDataset& dataset, DataLoaderOptions options)
    : DataLoader(std::make_shared<TensorDataset>(dataset), std::move(options)) {}

std::size_t DataLoader::num_batches() const {
  const DistributedSampler* sampler = options_.sampler().get();
  std::size_t n = sampler ? sampler->num_samples() : dataset_->size(), b = options_.batch_size();
  if (sampler && options_.global_batch_size() != 0) {
    n = sampler->total_size();
    b = options_.global_batch_size();
  }
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

std::pair<std::size_t, std::size_t> DataLoader::batch_range(std::size_t index) const {
  const DistributedSampler* sampler = options_.sampler().get();
  if (sampler && options_.global_batch_size() != 0) {
    const std::size_t g = options_.global_batch_size();
    const std::size_t begin = index * g, end = std::min(begin + g, sampler->total_size());
    return {sampler->local_count_before(begin), sampler->local_count_before(end)};
  }
  const std::size_t n = sampler ? sampler->num_samples() : dataset_->size(), b = options_.batch_size();
  const std::size_t begin = index * b;
  return {begin, std::min(begin + b, n)};
}

DataLoader::Epoch::Epoch(const DataLoader* loader, std::vector<std::int64_t> order)
    : loader_(loader), order_(std::make_shared<std::vector<std::int64_t>>(std::move(order))) {}

DataLoader::Epoch DataLoader::epoch(std::size_t epoch) const { return Epoch(this, order(epoch)); }

std::vector<std::int64_t> DataLoader::order(std::size_t epoch) const {
  if (options_.sampler()) return options_.sampler()->indices(epoch);
  if (options_.shuffle()) return permutation(dataset_->size(), shuffle_seed(options_.seed(), epoch));
  std::vector<std::int64_t> o(dataset_->size());
  for (std::size_t i = 0; i < o.size(); ++i) o[i] = static_cast<std::int64_t>(i);
  return o;
}

DataLoader::Iterator DataLoader::Epoch::begin() const { return Iterator(loader_, order_, 0); }
DataLoader::Iterator DataLoader::Epoch::end() const { return Iterator(loader_, order_, loader_->num_batches()); }

DataLoader::Iterator::Iterator(const DataLoader* loader, std::shared_ptr<std::vector<std::int64_t>> order,
                               std::size_t index)
    : loader_(loader), order_(std::move(order)), index_(index) {
  load();
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  ++index_;
  load();
  return *this;
}

void DataLoader::Iterator::load() {
  if (index_ >= loader_->num_batches()) {
    batch_ = Batch{};
    return;
  }
  const auto [begin, end] = loader_->batch_range(index_);
  batch_ = loader_->dataset_->get_batch(
      std::vector<std::int64_t>(order_->begin() + static_cast<std::ptrdiff_t>(begin),
                                order_->begin() + static_cast<std::ptrdiff_t>(end)));
}

// ---- Preprocessing -------------------------------------------------------------------------------

Tensor one_hot(const Tensor& labels, std::size_t classes, DType dtype) {
  if (!labels.defined() || labels.dtype() != kInt64 || labels.dim() != 1)
    fail("one_hot: labels must be a 1-D int64 tensor",
         labels.defined() ? ", got " + std::string(to_string(labels.dtype())) + to_string(labels.shape()) : "");
  const auto& l = labels.value<std::int64_t>();
  xt::xarray<double> out = xt::zeros<double>({l.size(), classes});
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (l(i) < 0 || static_cast<std::size_t>(l(i)) >= classes)
      fail("one_hot: label ", l(i), " at index ", i, " is out of range for ", classes, " classes");
    out(i, static_cast<std::size_t>(l(i))) = 1.0;
  }
  return from_double(out, TensorOptions(dtype));
}

namespace {
xt::xarray<double> as_matrix(const char* op, const Tensor& x) {
  if (!x.defined() || !x.is_floating_point() || x.dim() != 2)
    fail(op, ": expects a 2-D float tensor (samples, features)",
         x.defined() ? ", got shape " + to_string(x.shape()) : "");
  return x.to_double();
}
Tensor columnwise(const Tensor& x, const Tensor& shift_t, const Tensor& scale_t, const char* op) {
  const auto v = as_matrix(op, x);
  if (!shift_t.defined()) fail(op, ": transform called before fit");
  const auto& shift = shift_t.value<double>();
  const auto& scale = scale_t.value<double>();
  if (v.shape()[1] != shift.size())
    fail(op, ": fitted on ", shift.size(), " features, got shape ", to_string(x.shape()));
  xt::xarray<double> out = v;
  for (std::size_t i = 0; i < out.shape()[0]; ++i)
    for (std::size_t j = 0; j < out.shape()[1]; ++j) out(i, j) = (v(i, j) - shift(j)) / scale(j);
  return from_double(out, TensorOptions(x.dtype()));
}
}  // namespace

void Standardizer::fit(const Tensor& x) {
  const auto v = as_matrix("Standardizer::fit", x);
  const std::size_t n = v.shape()[0], f = v.shape()[1];
  if (n == 0) fail("Standardizer::fit: no samples");
  xt::xarray<double> mean = xt::zeros<double>({f});
  xt::xarray<double> scale = xt::zeros<double>({f});
  for (std::size_t j = 0; j < f; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += v(i, j);
    mean(j) = s / static_cast<double>(n);
    double q = 0;
    for (std::size_t i = 0; i < n; ++i) q += (v(i, j) - mean(j)) * (v(i, j) - mean(j));
    const double sd = std::sqrt(q / static_cast<double>(n));
    scale(j) = sd > 0 ? sd : 1.0;
  }
  mean_ = Tensor(std::move(mean));
  scale_ = Tensor(std::move(scale));
}

Tensor Standardizer::transform(const Tensor& x) const {
  return columnwise(x, mean_, scale_, "Standardizer::transform");
}

void MinMaxScaler::fit(const Tensor& x) {
  const auto v = as_matrix("MinMaxScaler::fit", x);
  const std::size_t n = v.shape()[0], f = v.shape()[1];
  if (n == 0) fail("MinMaxScaler::fit: no samples");
  xt::xarray<double> min = xt::zeros<double>({f});
  xt::xarray<double> range = xt::zeros<double>({f});
  for (std::size_t j = 0; j < f; ++j) {
    double lo = v(0, j), hi = v(0, j);
    for (std::size_t i = 1; i < n; ++i) lo = std::min(lo, v(i, j)), hi = std::max(hi, v(i, j));
    min(j) = lo;
    range(j) = hi > lo ? hi - lo : 1.0;
  }
  min_ = Tensor(std::move(min));
  range_ = Tensor(std::move(range));
}

Tensor MinMaxScaler::transform(const Tensor& x) const { return columnwise(x, min_, range_, "MinMaxScaler::transform"); }

}  // namespace tg::data
