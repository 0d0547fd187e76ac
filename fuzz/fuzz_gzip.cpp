// libFuzzer target: the gzip layer alone (gunzip_if_gzip, gunzip_prefix), with a decompression
// limit the target sets (kLimit) so that bombs are cut off at the limit rather than by the RSS
// limit. Run with a large -max_len (fuzz/run.sh uses 1 MiB): deflate expands up to 1032:1, so
// 1 MiB of input can declare about 1 GiB.
// tg::Error is the expected answer to bad input. Also findings: an output longer than kLimit, a
// prefix that differs from the start of the whole output, or a whole output that does not
// survive gzip_bytes and back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tapegrad/error.hpp"
#include "tapegrad/file_io.hpp"

namespace {
constexpr std::size_t kLimit = std::size_t(4) << 20;  // 4 MiB

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_gzip: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  std::vector<unsigned char> whole;
  bool ok = false;
  try {
    whole = tg::gunzip_if_gzip(bytes, "fuzz.gz", "fuzz", kLimit);
    ok = true;
  } catch (const tg::Error&) {
  }
  if (ok && whole.size() > kLimit) finding("gunzip_if_gzip returned more than its limit");
  // A prefix length taken from the input, so short and long prefixes are both tried.
  const std::size_t n = size >= 4 ? (std::size_t(data[size - 1]) << 8 | data[size - 2]) * 17 : 0;
  try {
    const std::vector<unsigned char> prefix = tg::gunzip_prefix(bytes, n, "fuzz.gz", "fuzz");
    if (prefix.size() > n) finding("gunzip_prefix returned more than asked");
    if (ok) {
      const std::size_t want = std::min(n, whole.size());
      if (prefix.size() != want || !std::equal(prefix.begin(), prefix.end(), whole.begin()))
        finding("gunzip_prefix differs from the start of gunzip_if_gzip's output");
    }
  } catch (const tg::Error&) {
    // The whole stream was read fine, so its first n bytes must be readable too.
    if (ok) finding("gunzip_prefix failed on a stream gunzip_if_gzip read");
  }
  if (ok) {
    try {
      if (tg::gunzip_if_gzip(tg::gzip_bytes(whole), "again.gz", "fuzz", kLimit) != whole)
        finding("gzip_bytes then gunzip_if_gzip changed the bytes");
    } catch (const tg::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      finding("our own gzip output was refused");
    }
  }
  return 0;
}
