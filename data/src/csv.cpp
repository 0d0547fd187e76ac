// CSV tables: header, numeric features, one label column.
#include "tapegrad/data/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include "tapegrad/file_io.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::data {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\"");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\"");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(trim(field));
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

bool parse_int(const std::string& s, std::int64_t& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

CsvTable read_csv(const std::string& path, const std::string& label_column) {
  const auto bytes = read_file(path, "read_csv");
  return read_csv_text(std::string(bytes.begin(), bytes.end()), path, label_column);
}

CsvTable read_csv_text(const std::string& text, const std::string& path, const std::string& label_column) {
  // Control bytes never occur in a text table: a binary or corrupted file is refused up front
  // instead of being read as one odd label per line.
  std::size_t line_of_byte = 1;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '\n') ++line_of_byte;
    if ((b < 0x20 && b != '\n' && b != '\r' && b != '\t') || b == 0x7f)
      fail("read_csv: ", path, ":", line_of_byte, ": control byte 0x", tg::detail::hex(static_cast<unsigned char>(b)),
           " (not a text file?)");
  }
  std::istringstream in(text);
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> header;
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (!trim(line).empty()) header = split(line);
  }
  if (header.empty()) fail("read_csv: ", path, ": the file is empty (expected a header row)");
  std::size_t label_at = header.size() - 1;
  if (!label_column.empty()) {
    const auto it = std::find(header.begin(), header.end(), label_column);
    if (it == header.end()) fail("read_csv: ", path, ": no column named '", label_column, "' in the header");
    label_at = static_cast<std::size_t>(it - header.begin());
  }
  if (header.size() < 2)
    fail("read_csv: ", path, ":", line_no, ": the header names only one column ('", header[0],
         "'); expected feature columns and a label column");
  CsvTable table;
  table.label_name = header[label_at];
  for (std::size_t c = 0; c < header.size(); ++c)
    if (c != label_at) table.feature_names.push_back(header[c]);

  std::vector<double> values;
  std::vector<std::string> raw_labels;
  std::vector<std::size_t> label_lines;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    const auto fields = split(line);
    if (fields.size() != header.size())
      fail("read_csv: ", path, ":", line_no, ": expected ", header.size(), " fields, found ", fields.size());
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (c == label_at) continue;
      double v;
      if (!parse_double(fields[c], v))
        fail("read_csv: ", path, ":", line_no, ": column '", header[c], "': '", fields[c], "' is not a number");
      values.push_back(v);
    }
    raw_labels.push_back(fields[label_at]);
    label_lines.push_back(line_no);
  }
  if (raw_labels.empty()) fail("read_csv: ", path, ": no data rows after the header");
  const std::size_t rows = raw_labels.size(), cols = table.feature_names.size();
  table.features = from_vector(values, Shape{rows, cols}, TensorOptions(kFloat64));

  bool all_int = true;
  std::int64_t max_label = 0;
  std::size_t max_row = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    std::int64_t v;
    if (!parse_int(raw_labels[r], v) || v < 0) { all_int = false; break; }
    if (v > max_label) max_label = v, max_row = r;
  }
  if (all_int && max_label >= kMaxCsvClasses)
    fail("read_csv: ", path, ":", label_lines[max_row], ": integer label ", max_label, " in column '",
         table.label_name, "' is too large for a class index (at most ", kMaxCsvClasses - 1, ")");
  if (all_int) {
    for (const auto& l : raw_labels) {
      std::int64_t v = 0;
      parse_int(l, v);
      table.labels.push_back(v);
    }
    for (std::int64_t k = 0; k <= max_label; ++k) table.classes.push_back(std::to_string(k));
  } else {
    std::map<std::string, std::int64_t> index;
    for (std::size_t r = 0; r < rows; ++r) {
      const auto& l = raw_labels[r];
      if (l.empty()) fail("read_csv: ", path, ":", label_lines[r], ": empty label in column '", table.label_name, "'");
      auto it = index.find(l);
      if (it == index.end()) {
        it = index.emplace(l, static_cast<std::int64_t>(table.classes.size())).first;
        table.classes.push_back(l);
      }
      table.labels.push_back(it->second);
    }
  }
  return table;
}

Tensor CsvTable::feature_tensor(DType dtype) const { return features.to(dtype); }

Tensor CsvTable::label_tensor() const {
  xt::xarray<std::int64_t> v = xt::xarray<std::int64_t>::from_shape({labels.size()});
  std::copy(labels.begin(), labels.end(), v.begin());
  return Tensor(std::move(v));
}

}  // namespace tg::data
