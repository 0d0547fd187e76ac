// libFuzzer target: read_csv on arbitrary text, with the last column and with a named column as
// the label, then conversion to tensors. tg::Error is the expected answer to bad input; anything
// else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* label_column : {"", "label"}) {
    try {
      const tg::data::CsvTable t = tg::data::read_csv_text(text, "fuzz.csv", label_column);
      (void)t.feature_tensor(tg::kFloat32);
      (void)t.label_tensor();
    } catch (const tg::Error&) {
    }
  }
  return 0;
}
