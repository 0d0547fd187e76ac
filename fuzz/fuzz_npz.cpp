// libFuzzer target: the .npz layers alone. The zip container (detail::read_zip) with a size
// limit the target sets (kLimit), each entry's .npy (detail::decode_npy), and load_tensors_bytes
// over both. Run with a large -max_len (fuzz/run.sh uses 1 MiB) so that deflated entries can
// declare and inflate to a lot.
// tg::Error is the expected answer to bad input. Also findings: entries adding up to more than
// kLimit, an archive or array that read_zip/decode_npy accepted but that does not come back the
// same after being written again by our own writers (ZipWriter, encode_npy), and
// load_tensors_bytes disagreeing with the two layers.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "npz.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/nn/serialize.hpp"

namespace {
constexpr std::size_t kLimit = std::size_t(16) << 20;  // 16 MiB

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_npz: %s\n", what);
  std::abort();
}

/// Same dtype, shape and bytes (so NaNs with the same bits compare equal).
bool same(const tg::Tensor& a, const tg::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const std::string ea = tg::nn::detail::encode_npy(a), eb = tg::nn::detail::encode_npy(b);
  return ea == eb;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string archive(reinterpret_cast<const char*>(data), size);
  std::vector<tg::nn::detail::ZipEntry> entries;
  try {
    entries = tg::nn::detail::read_zip(archive, "fuzz.npz", kLimit);
  } catch (const tg::Error&) {
    entries.clear();
    try {
      (void)tg::nn::load_tensors_bytes(archive, "fuzz.npz", kLimit);
    } catch (const tg::Error&) {
      return 0;
    }
    finding("load_tensors_bytes accepted an archive read_zip refused");
  }
  std::size_t total = 0;
  for (const auto& e : entries) total += e.data.size();
  if (total > kLimit) finding("read_zip returned more bytes than its limit");

  // The zip layer: written again (stored, and deflated unless large: deflating megabytes takes
  // most of a run's time and exercises zlib more than read_zip), the same entries come back.
  for (bool compress : {false, true}) {
    if (compress && total > (std::size_t(1) << 20)) continue;
    std::string again;
    tg::nn::detail::ZipWriter zip([&](const char* d, std::size_t n) { again.append(d, n); }, "fuzz");
    try {
      for (const auto& e : entries) zip.add(e.name, e.data, compress);
      zip.finish();
    } catch (const tg::Error&) {
      continue;  // e.g. a zip64-sized entry, which the writer does not produce
    }
    std::vector<tg::nn::detail::ZipEntry> back;
    try {
      back = tg::nn::detail::read_zip(again, "again.npz", kLimit);
    } catch (const tg::Error& err) {
      std::fprintf(stderr, "%s\n", err.what());
      finding("read_zip refused an archive written by ZipWriter");
    }
    if (back.size() != entries.size()) finding("ZipWriter + read_zip changed the number of entries");
    for (std::size_t i = 0; i < back.size(); ++i)
      if (back[i].name != entries[i].name || back[i].data != entries[i].data)
        finding("ZipWriter + read_zip changed an entry");
  }

  // The .npy layer: each array accepted is written again by encode_npy and read back the same.
  std::map<std::string, tg::Tensor> decoded;
  bool all_arrays = true;
  for (const auto& e : entries) {
    try {
      const tg::Tensor t = tg::nn::detail::decode_npy(e.data, "fuzz.npz: " + e.name);
      const tg::Tensor back = tg::nn::detail::decode_npy(tg::nn::detail::encode_npy(t), "again");
      if (!same(t, back)) finding("encode_npy + decode_npy changed an array");
      if (e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".npy") == 0)
        decoded.emplace(e.name.substr(0, e.name.size() - 4), t);
      else
        all_arrays = false;
    } catch (const tg::Error&) {
      all_arrays = false;
    }
  }

  // load_tensors_bytes is the two layers together: it accepts exactly when every entry is a
  // "<name>.npy" array with a distinct name, and then gives the same tensors.
  std::map<std::string, tg::Tensor> loaded;
  bool loaded_ok = false;
  try {
    loaded = tg::nn::load_tensors_bytes(archive, "fuzz.npz", kLimit);
    loaded_ok = true;
  } catch (const tg::Error&) {
  }
  const bool expect_ok = all_arrays && decoded.size() == entries.size();
  if (loaded_ok != expect_ok) finding("load_tensors_bytes disagrees with read_zip + decode_npy");
  if (loaded_ok) {
    for (const auto& [name, t] : decoded) {
      const auto it = loaded.find(name);
      if (it == loaded.end() || !same(it->second, t)) finding("load_tensors_bytes gave another tensor");
    }
  }
  return 0;
}
