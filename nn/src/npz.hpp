// The .npz codec behind save_tensors / load_tensors: NumPy .npy arrays inside a zip archive.
//
// .npy (NumPy format 1.0 for writing; 1.0, 2.0 and 3.0 for reading): the magic "\x93NUMPY",
// version, header length, a Python dict literal {'descr': '<f8', 'fortran_order': False,
// 'shape': (3, 4), } padded with spaces to a multiple of 64 bytes and ended by '\n', then the
// raw little-endian data.
// .zip (PKWARE APPNOTE): per entry a local header and the data; then the central directory
// (one record per entry, authoritative for sizes, CRC and offsets) and the end record. We write
// stored or deflated entries without zip64; we read stored and deflated entries, with zip64
// sizes and offsets (numpy.savez writes its local headers with zip64 extras).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg::nn::detail {

/// The .npy bytes of t (C order).
std::string encode_npy(const Tensor& t);
/// Parses .npy bytes; `where` prefixes error messages (e.g. "load_tensors: 'a.npz': entry 'w.npy'").
Tensor decode_npy(const std::string& bytes, const std::string& where);

/// Streams a zip archive: add() writes an entry's local header and data at once through the
/// sink; finish() writes the central directory and end record.
class ZipWriter {
 public:
  using Sink = std::function<void(const char* data, std::size_t size)>;
  /// where prefixes error messages (e.g. "save_tensors: 'a.npz'").
  ZipWriter(Sink sink, std::string where) : sink_(std::move(sink)), where_(std::move(where)) {}
  /// Adds an entry, deflated (method 8) when compress, else stored (method 0).
  void add(const std::string& name, const std::string& data, bool compress);
  void finish();

 private:
  struct Record {
    std::string name;
    std::uint32_t crc = 0, compressed_size = 0, size = 0, offset = 0;
    std::uint16_t method = 0;
  };
  void emit(const std::string& bytes);
  Sink sink_;
  std::string where_;
  std::vector<Record> records_;
  std::uint64_t offset_ = 0;
};

struct ZipEntry {
  std::string name;
  std::string data;  // uncompressed, CRC-checked
};
/// Parses a whole zip archive held in memory; `where` prefixes error messages. Sizes are not
/// trusted: the central directory must agree with each local header (name, method, CRC, sizes),
/// entries must lie before the central directory without sharing bytes, their declared
/// uncompressed sizes must add up to at most max_bytes, and no entry inflates past its size.
std::vector<ZipEntry> read_zip(const std::string& archive, const std::string& where, std::uint64_t max_bytes);

}  // namespace tg::nn::detail
