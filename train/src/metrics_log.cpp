// MetricsLog: per-epoch numbers as CSV.
#include "tapegrad/train/metrics_log.hpp"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "tapegrad/error.hpp"
#include "tapegrad/file_io.hpp"

namespace tg::training {

namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

}  // namespace

MetricsLog::MetricsLog(std::vector<std::string> columns) : columns_(std::move(columns)) {
  if (columns_.empty()) fail("MetricsLog: need at least one column");
  std::set<std::string> seen;
  for (const auto& name : columns_) {
    if (name.empty() || name.find_first_of(",\"\r\n") != std::string::npos)
      fail("MetricsLog: column name '", name, "' must be non-empty and free of commas, quotes and line breaks");
    if (!seen.insert(name).second) fail("MetricsLog: column '", name, "' appears twice");
  }
}

void MetricsLog::append(const std::vector<double>& row) {
  if (row.size() != columns_.size())
    fail("MetricsLog::append: row has ", row.size(), " values for ", columns_.size(), " columns");
  rows_.push_back(row);
}

void MetricsLog::truncate(std::size_t rows) {
  if (rows < rows_.size()) rows_.resize(rows);
}

std::size_t MetricsLog::column_index(const std::string& name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == name) return i;
  std::string known;
  for (const auto& c : columns_) known += (known.empty() ? "" : ", ") + c;
  fail("MetricsLog: no column '", name, "' (columns: ", known, ")");
}

std::vector<double> MetricsLog::column(const std::string& name) const {
  const std::size_t i = column_index(name);
  std::vector<double> values;
  values.reserve(rows_.size());
  for (const auto& row : rows_) values.push_back(row[i]);
  return values;
}

std::string MetricsLog::to_csv() const {
  std::string text;
  for (std::size_t i = 0; i < columns_.size(); ++i) text += (i ? "," : "") + columns_[i];
  text += "\n";
  char buf[64];
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.10g", row[i]);
      text += (i ? "," : "") + std::string(buf);
    }
    text += "\n";
  }
  return text;
}

void MetricsLog::write(const std::string& path) const { write_file_atomically(path, to_csv(), "MetricsLog::write"); }

MetricsLog MetricsLog::read(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path, "MetricsLog::read");
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::string line;
  if (!std::getline(in, line) || line.empty()) fail("MetricsLog::read: ", path, " is empty (expected a header line)");
  MetricsLog log(split_fields(line));
  std::size_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const std::vector<std::string> fields = split_fields(line);
    if (fields.size() != log.columns_.size())
      fail("MetricsLog::read: ", path, " line ", line_number, " has ", fields.size(), " fields, expected ",
           log.columns_.size());
    std::vector<double> row;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      char* end = nullptr;
      const double value = std::strtod(fields[i].c_str(), &end);
      if (fields[i].empty() || *end != '\0')
        fail("MetricsLog::read: ", path, " line ", line_number, " column '", log.columns_[i], "': '", fields[i],
             "' is not a number");
      row.push_back(value);
    }
    log.rows_.push_back(std::move(row));
  }
  return log;
}

}  // namespace tg::training
