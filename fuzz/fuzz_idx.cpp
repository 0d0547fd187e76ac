// libFuzzer target: read_idx and read_idx_tensor on arbitrary bytes (plain or gzip), then
// conversion to tensors.
// tg::Error is the expected answer to bad input; any other exception, a crash or a sanitizer
// report is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tapegrad/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  try {
    const tg::data::IdxArray a = tg::data::read_idx_bytes(bytes, "fuzz.idx");
    (void)a.to_tensor(tg::kFloat32, 1.0 / 255.0);
    (void)a.to_tensor(tg::kInt64);  // labels files are read this way
  } catch (const tg::Error&) {
  }
  // The direct decoder that load_mnist uses.
  for (const tg::DType dtype : {tg::kFloat32, tg::kFloat64, tg::kInt64}) {
    try {
      (void)tg::data::read_idx_tensor_bytes(bytes, "fuzz.idx", dtype, dtype == tg::kInt64 ? 1.0 : 1.0 / 255.0);
    } catch (const tg::Error&) {
    }
  }
  return 0;
}
