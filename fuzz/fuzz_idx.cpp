// libFuzzer target: read_idx on arbitrary bytes (plain or gzip), then conversion to tensors.
// tg::Error is the expected answer to bad input; any other exception, a crash or a sanitizer
// report is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tapegrad/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tg::data::IdxArray a = tg::data::read_idx_bytes(std::vector<unsigned char>(data, data + size), "fuzz.idx");
    (void)a.to_tensor(tg::kFloat32, 1.0 / 255.0);
    (void)a.to_tensor(tg::kInt64);  // labels files are read this way
  } catch (const tg::Error&) {
  }
  return 0;
}
