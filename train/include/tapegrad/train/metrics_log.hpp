/// \file
/// MetricsLog: a table of numbers with one row per epoch, kept as a CSV file.
///
/// \code{.cpp}
///   training::MetricsLog log({"epoch", "train_loss", "val_accuracy"});
///   log.append({1, 0.31, 0.952});
///   log.write("out/mnist/metrics.csv");        // atomically: readers never see half a file
///   auto again = training::MetricsLog::read("out/mnist/metrics.csv");
/// \endcode
///
/// Numbers are written with up to 10 significant digits ("1", "0.3141592654", "2.5e-07").
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tg::training {

/// Named columns of doubles, one row per epoch, written to and read from CSV (see the file comment).
class MetricsLog {
 public:
  /// Column names: non-empty, unique, without commas, quotes or line breaks.
  explicit MetricsLog(std::vector<std::string> columns);

  /// Adds a row with one value per column, in column order.
  void append(const std::vector<double>& row);
  /// Keeps the first `rows` rows (e.g. the epochs before a resumed run's checkpoint).
  void truncate(std::size_t rows);

  /// The column names, in order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// Number of rows appended (and kept).
  std::size_t num_rows() const { return rows_.size(); }
  /// Row i (bounds-checked), one value per column.
  const std::vector<double>& row(std::size_t i) const { return rows_.at(i); }
  /// Index of a column by name; tg::Error naming the known columns when absent.
  std::size_t column_index(const std::string& name) const;
  /// Every value of one column, top to bottom.
  std::vector<double> column(const std::string& name) const;

  /// The table as CSV text: a header line, then one line per row.
  std::string to_csv() const;
  /// Writes to_csv() to path atomically (temporary file, fsync, rename).
  void write(const std::string& path) const;
  /// Reads a file written by write(); tg::Error naming the file and line for a missing file,
  /// an empty file, a row of the wrong length or a field that is not a number.
  static MetricsLog read(const std::string& path);

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
};

}  // namespace tg::training
