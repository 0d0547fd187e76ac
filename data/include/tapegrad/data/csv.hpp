/// \file
/// Reader for numeric CSV tables with a header row and a label column (e.g. the Iris data).
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
  Tensor features;                         ///< (rows, features), float64
  std::vector<std::int64_t> labels;        ///< class index per row
  std::vector<std::string> classes;        ///< class names, index = label (first-seen order, or
                                           ///< numeric order when the labels are integers)
  /// Features as a (rows, features) tensor of dtype (default float32).
  Tensor feature_tensor(DType dtype = kFloat32) const;
  /// Labels as an int64 (rows) tensor.
  Tensor label_tensor() const;
};

/// Integer labels are class indices, so the largest one is bounded (classes "0".."max" are made).
inline constexpr std::int64_t kMaxCsvClasses = 1 << 16;

/// Reads a comma-separated file whose first row names the columns: at least one feature column
/// and the label column. `label_column` names the label column ("" = the last column). Labels
/// may be strings (mapped to class indices in order of first appearance) or integers in
/// [0, kMaxCsvClasses) (used as given; classes are "0".."max"). Blank lines are skipped. Raises
/// tg::Error naming the file, line and column for a missing file, an empty file, a control byte
/// (a binary file), a header with one column, a row with the wrong number of fields, a feature
/// that is not a finite number, or an integer label too large for a class index.
CsvTable read_csv(const std::string& path, const std::string& label_column = "");

/// read_csv() of a table held in memory; `source` stands for the file name in messages.
CsvTable read_csv_text(const std::string& text, const std::string& source = "<memory>",
                       const std::string& label_column = "");

}  // namespace tg::data
