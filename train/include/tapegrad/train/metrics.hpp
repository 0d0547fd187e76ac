/// \file
/// Classification metrics: predicted classes, accuracy, the confusion matrix and per-class
/// precision and recall.
///
/// Labels may be given as int64 class indices (N) or as one-hot / probability rows (N, C) of a
/// floating dtype (then the class is the row's argmax), so the same calls serve cross-entropy
/// models (index targets) and quadratic-cost models (one-hot targets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg::training {

/// The class of each row: int64 labels (N) are returned as they are; scores, probabilities or
/// one-hot rows (N, C) give the index of each row's largest entry (the first on ties).
/// Throws tg::Error for other shapes or dtypes.
std::vector<std::int64_t> class_indices(const Tensor& labels_or_scores);

/// Fraction of rows whose predicted class equals the true class, in [0, 1]. Both arguments are
/// accepted in either form of class_indices(). Throws when the row counts differ or are 0.
double accuracy(const Tensor& predictions, const Tensor& labels);

/// Counts of (true class, predicted class) pairs. Row = true class, column = predicted class,
/// so the diagonal holds the correct predictions.
class ConfusionMatrix {
 public:
  /// An empty matrix over classes 0 .. num_classes-1 (num_classes >= 1).
  explicit ConfusionMatrix(std::size_t num_classes);

  /// Adds one count per row; both arguments in either form of class_indices(). Throws for
  /// mismatched row counts or a class outside [0, num_classes).
  ///@{
  void add(const Tensor& predictions, const Tensor& labels);
  void add(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& truth);
  ///@}

  /// The number of classes given to the constructor.
  std::size_t num_classes() const { return num_classes_; }
  /// Number of samples of class `truth` predicted as `predicted`.
  std::int64_t count(std::size_t truth, std::size_t predicted) const {
    return counts_.at(truth * num_classes_ + predicted);
  }
  /// The (num_classes, num_classes) counts as an int64 tensor (a copy).
  Tensor counts() const;
  /// Total number of samples added.
  std::int64_t total() const;
  /// trace / total: the accuracy of everything added (0 when empty).
  double accuracy() const;
  /// Of the samples predicted as c, the fraction that are c: tp / (tp + fp); 0 when nothing was
  /// predicted as c.
  double precision(std::size_t c) const;
  /// Of the samples of class c, the fraction predicted as c: tp / (tp + fn); 0 when class c
  /// never occurred.
  double recall(std::size_t c) const;
  /// Harmonic mean of precision and recall; 0 when both are 0.
  double f1(std::size_t c) const;

  /// The counts as a table with a header of predicted classes, one row per true class, then
  /// per-class precision and recall. Class names default to "0", "1", ...
  std::string to_string(const std::vector<std::string>& class_names = {}) const;

 private:
  std::size_t num_classes_;
  std::vector<std::int64_t> counts_;  // row-major (true class, predicted class)
};

}  // namespace tg::training
