// Hostile files (issue 15): readers handed a directory raise tg::Error instead of
// std::ios_base::failure or bad_alloc, and gzip input is inflated in bounded chunks, never beyond
// what the IDX header declares. Reproducers are made here, not committed as binaries.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "temp_files.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("readers handed a directory raise tg::Error", "[hostile][files]") {
  tg::testing::TempDir dir;
  const std::string path = dir.path.string();
  // An ifstream opens a directory and reports a size of 2^63 - 1: std::length_error or
  // std::bad_alloc escaped before.
  CHECK_THROWS_AS(data::read_idx(path), tg::Error);
  CHECK_THROWS_WITH(data::read_idx(path), StartsWith("read_idx: cannot read " + path) && Contains("directory"));
  CHECK_THROWS_WITH(data::read_idx_tensor(path), StartsWith("read_idx: cannot read") && Contains("directory"));
  CHECK_THROWS_AS(nn::load_tensors(path), tg::Error);
  CHECK_THROWS_WITH(nn::load_tensors(path), StartsWith("load_tensors: cannot read " + path) && Contains("directory"));
  CHECK_THROWS_WITH(data::read_csv(path), StartsWith("read_csv: cannot read") && Contains("directory"));
  CHECK_THROWS_WITH(training::MetricsLog::read(path),
                    StartsWith("MetricsLog::read: cannot read") && Contains("directory"));
}

namespace {
/// An IDX file of unsigned bytes: 1-D header declaring `declared` values, then `payload`.
std::vector<unsigned char> idx_u8(std::uint32_t declared, const std::vector<unsigned char>& payload) {
  std::vector<unsigned char> b(8 + payload.size(), 0);
  b[2] = 0x08;  // unsigned bytes
  b[3] = 1;     // one dimension
  for (int i = 0; i < 4; ++i) b[4 + static_cast<std::size_t>(i)] = static_cast<unsigned char>(declared >> (24 - 8 * i));
  std::copy(payload.begin(), payload.end(), b.begin() + 8);
  return b;
}
}  // namespace

TEST_CASE("gzipped IDX files are inflated no further than their header declares", "[hostile][files]") {
  // A gzip bomb made here (no binary fixture): 10 declared values followed by 32 MiB of zeros,
  // about 32 KiB compressed. It used to be inflated whole before the header was checked.
  const std::vector<unsigned char> bomb = gzip_bytes(idx_u8(10, std::vector<unsigned char>(32u << 20, 0)));
  CHECK(bomb.size() < (64u << 10));
  CHECK_THROWS_AS(data::read_idx_bytes(bomb, "bomb.gz"), tg::Error);
  CHECK_THROWS_WITH(data::read_idx_bytes(bomb, "bomb.gz"),
                    StartsWith("read_idx: bomb.gz: decompresses to more than 18 bytes"));
  CHECK_THROWS_WITH(data::read_idx_tensor_bytes(bomb, "bomb.gz"),
                    StartsWith("read_idx: bomb.gz: decompresses to more than 18 bytes"));
  // The exact size still reads, and a stream one byte short is truncated.
  const std::vector<unsigned char> values{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(data::read_idx_bytes(gzip_bytes(idx_u8(10, values)), "ok.gz").values ==
        std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK_THROWS_WITH(data::read_idx_bytes(gzip_bytes(idx_u8(11, values)), "short.gz"), Contains("truncated"));
}

TEST_CASE("multi-member gzip files are read whole", "[hostile][files]") {
  // `cat a.gz b.gz > c.gz` is one valid gzip file; only the first member used to be read.
  const std::vector<unsigned char> whole = idx_u8(6, {10, 20, 30, 40, 50, 60});
  const std::vector<unsigned char> head(whole.begin(), whole.begin() + 9), rest(whole.begin() + 9, whole.end());
  std::vector<unsigned char> two = gzip_bytes(head);
  const std::vector<unsigned char> second = gzip_bytes(rest);
  two.insert(two.end(), second.begin(), second.end());
  CHECK(data::read_idx_bytes(two, "two.gz").values == std::vector<double>{10, 20, 30, 40, 50, 60});
  CHECK(gunzip_if_gzip(two, "two.gz", "test") == whole);
  // The limit of gunzip_if_gzip is settable, and exceeding it names the reader and the file.
  CHECK_THROWS_WITH(gunzip_if_gzip(two, "two.gz", "test", 13),
                    StartsWith("test: two.gz: decompresses to more than 13 bytes"));
  CHECK(gunzip_if_gzip(two, "two.gz", "test", 14) == whole);
}

namespace {
/// A 1-D IDX file of big-endian float32 (type 0x0D) or float64 (0x0E) values.
std::vector<unsigned char> idx_float(std::uint8_t type, const std::vector<double>& values) {
  std::vector<unsigned char> b{0, 0, type, 1};
  const auto n = static_cast<std::uint32_t>(values.size());
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(n >> s));
  for (double v : values) {
    std::uint64_t bits = 0;
    int width = 8;
    if (type == 0x0D) {
      const float f = static_cast<float>(v);
      std::uint32_t b32 = 0;
      std::memcpy(&b32, &f, 4);
      bits = b32;
      width = 4;
    } else {
      std::memcpy(&bits, &v, 8);
    }
    for (int i = width - 1; i >= 0; --i) b.push_back(static_cast<unsigned char>(bits >> (8 * i)));
  }
  return b;
}
}  // namespace

TEST_CASE("IDX float files with NaN or infinite values are refused, as CSV files are", "[hostile][files]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (std::uint8_t type : {std::uint8_t(0x0D), std::uint8_t(0x0E)}) {
    INFO("type " << int(type));
    CHECK(data::read_idx_bytes(idx_float(type, {1.5, -2, 0})).values == std::vector<double>{1.5, -2, 0});
    CHECK_THROWS_WITH(data::read_idx_bytes(idx_float(type, {1.5, nan, 0}), "nan.idx"),
                      StartsWith("read_idx: nan.idx: value nan at index 1 is not a finite number"));
    CHECK_THROWS_WITH(data::read_idx_tensor_bytes(idx_float(type, {1.5, 0, -inf}), "inf.idx"),
                      StartsWith("read_idx: inf.idx: value -inf at index 2 is not a finite number"));
    CHECK_THROWS_WITH(data::read_idx_tensor_bytes(idx_float(type, {inf}), "inf.idx", kFloat64),
                      Contains("value inf at index 0 is not a finite number"));
  }
  // Finite in the file but not in the dtype asked for: float64 1e300 as float32, or times a scale.
  CHECK_THROWS_WITH(data::read_idx_tensor_bytes(idx_float(0x0E, {1, 1e300}), "big.idx", kFloat32),
                    StartsWith("read_idx_tensor: big.idx: value 1e+300 at index 1 times scale 1 overflows float32"));
  CHECK(data::read_idx_tensor_bytes(idx_float(0x0E, {1, 1e300}), "big.idx", kFloat64).to_vector()[1] == 1e300);
  CHECK_THROWS_WITH(data::read_idx_tensor_bytes(idx_u8(2, {1, 2}), "u8.idx", kFloat32, 1e38),
                    StartsWith("read_idx_tensor: u8.idx: scale 1e+38 makes byte values overflow float32"));
  CHECK_THROWS_WITH(data::read_idx_tensor_bytes(idx_u8(2, {1, 2}), "u8.idx", kFloat32, nan),
                    StartsWith("read_idx_tensor: u8.idx: scale nan is not a finite number"));
}
