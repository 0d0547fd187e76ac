// Classification metrics.
#include "tapegrad/train/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "tapegrad/error.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::training {

std::vector<std::int64_t> class_indices(const Tensor& labels_or_scores) {
  const Tensor& t = labels_or_scores;
  if (!t.defined()) fail("class_indices: undefined tensor");
  if (t.dtype() == kInt64 && t.dim() == 1) {
    const auto& v = t.value<std::int64_t>();
    return std::vector<std::int64_t>(v.begin(), v.end());
  }
  if (t.is_floating_point() && t.dim() == 2 && t.size(1) > 0) {
    const xt::xarray<double> scores = t.to_double();
    const std::size_t rows = scores.shape(0), cols = scores.shape(1);
    std::vector<std::int64_t> out(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      const double* row = scores.data() + i * cols;
      out[i] = static_cast<std::int64_t>(std::max_element(row, row + cols) - row);
    }
    return out;
  }
  fail("class_indices: expected int64 labels (N) or floating scores (N, C), got ", to_string(t.dtype()), " ",
       to_string(t.shape()));
}

double accuracy(const Tensor& predictions, const Tensor& labels) {
  const std::vector<std::int64_t> predicted = class_indices(predictions), truth = class_indices(labels);
  if (predicted.size() != truth.size())
    fail("accuracy: ", predicted.size(), " predictions for ", truth.size(), " labels");
  if (truth.empty()) fail("accuracy: no samples");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return static_cast<double>(correct) / static_cast<double>(truth.size());
}

ConfusionMatrix::ConfusionMatrix(std::size_t num_classes)
    : num_classes_(num_classes), counts_() {
  if (num_classes == 0) fail("ConfusionMatrix: need at least one class");
  counts_.assign(num_classes * num_classes, 0);
}

Tensor ConfusionMatrix::counts() const {
  auto a = xt::xarray<std::int64_t>::from_shape({num_classes_, num_classes_});
  std::copy(counts_.begin(), counts_.end(), a.begin());
  return Tensor(std::move(a));
}

void ConfusionMatrix::add(const Tensor& predictions, const Tensor& labels) {
  add(class_indices(predictions), class_indices(labels));
}

void ConfusionMatrix::add(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& truth) {
  if (predicted.size() != truth.size())
    fail("ConfusionMatrix::add: ", predicted.size(), " predictions for ", truth.size(), " labels");
  const auto n = static_cast<std::int64_t>(num_classes_);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || truth[i] >= n || predicted[i] < 0 || predicted[i] >= n)
      fail("ConfusionMatrix::add: sample ", i, " has true class ", truth[i], " and predicted class ", predicted[i],
           "; classes must lie in [0, ", n, ")");
  }
  for (std::size_t i = 0; i < truth.size(); ++i)
    ++counts_[static_cast<std::size_t>(truth[i]) * num_classes_ + static_cast<std::size_t>(predicted[i])];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t sum = 0;
  for (std::int64_t c : counts_) sum += c;
  return sum;
}

double ConfusionMatrix::accuracy() const {
  const std::int64_t n = total();
  if (n == 0) return 0.0;
  std::int64_t correct = 0;
  for (std::size_t c = 0; c < num_classes_; ++c) correct += count(c, c);
  return static_cast<double>(correct) / static_cast<double>(n);
}

double ConfusionMatrix::precision(std::size_t c) const {
  std::int64_t predicted_as_c = 0;
  for (std::size_t t = 0; t < num_classes_; ++t) predicted_as_c += count(t, c);
  return predicted_as_c == 0 ? 0.0 : static_cast<double>(count(c, c)) / static_cast<double>(predicted_as_c);
}

double ConfusionMatrix::recall(std::size_t c) const {
  std::int64_t of_class_c = 0;
  for (std::size_t p = 0; p < num_classes_; ++p) of_class_c += count(c, p);
  return of_class_c == 0 ? 0.0 : static_cast<double>(count(c, c)) / static_cast<double>(of_class_c);
}

double ConfusionMatrix::f1(std::size_t c) const {
  const double p = precision(c), r = recall(c);
  return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

std::string ConfusionMatrix::to_string(const std::vector<std::string>& class_names) const {
  std::vector<std::string> names = class_names;
  for (std::size_t c = names.size(); c < num_classes_; ++c) names.push_back(std::to_string(c));
  std::size_t name_width = 9;  // "precision"
  for (const auto& n : names) name_width = std::max(name_width, n.size());
  std::size_t cell = 7;  // " 100.0%"
  for (std::int64_t v : counts_) cell = std::max(cell, std::to_string(v).size() + 1);
  for (std::size_t c = 0; c < num_classes_; ++c) cell = std::max(cell, names[c].size() + 1);

  std::ostringstream out;
  auto pad_left = [](const std::string& s, std::size_t w) {
    return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
  };
  auto pad_right = [](const std::string& s, std::size_t w) {
    return s + std::string(w > s.size() ? w - s.size() : 0, ' ');
  };
  out << pad_right("true \\ predicted", name_width + 2);
  out << "\n" << pad_right("", name_width);
  for (std::size_t c = 0; c < num_classes_; ++c) out << pad_left(names[c], cell);
  out << pad_left("recall", 9) << "\n";
  char buf[32];
  for (std::size_t t = 0; t < num_classes_; ++t) {
    out << pad_right(names[t], name_width);
    for (std::size_t p = 0; p < num_classes_; ++p) out << pad_left(std::to_string(count(t, p)), cell);
    std::snprintf(buf, sizeof buf, "%8.1f%%", 100.0 * recall(t));
    out << buf << "\n";
  }
  out << pad_right("precision", name_width);
  for (std::size_t p = 0; p < num_classes_; ++p) {
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * precision(p));
    out << pad_left(buf, cell);
  }
  out << "\n";
  return out.str();
}

}  // namespace tg::training
