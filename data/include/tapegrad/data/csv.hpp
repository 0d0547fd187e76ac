// Reader for numeric CSV tables with a header row and a label column (e.g. the Iris data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg::data {

/// A parsed table: numeric feature columns and integer class labels.
struct CsvTable {
  std::vector<std::string> feature_names;  ///< header names of the feature columns, in order
  std::string label_name;                  ///< header name of the label column
  xt::xarray<double> features;             ///< (rows, features)
  std::vector<std::int64_t> labels;        ///< class index per row
  std::vector<std::string> classes;        ///< class names, index = label (first-seen order, or
                                           ///< numeric order when the labels are integers)
  /// Features as a (rows, features) tensor and labels as an int64 (rows) tensor.
  Tensor feature_tensor(DType dtype = kFloat32) const;
  Tensor label_tensor() const;
};

/// Reads a comma-separated file whose first row names the columns. `label_column` names the
/// label column ("" = the last column). Labels may be strings (mapped to class indices in order
/// of first appearance) or integers (used as given; classes are "0".."max"). Blank lines are
/// skipped. Raises tg::Error naming the file, line and column for a missing file, an empty file,
/// a row with the wrong number of fields, or a feature that is not a number.
CsvTable read_csv(const std::string& path, const std::string& label_column = "");

}  // namespace tg::data
