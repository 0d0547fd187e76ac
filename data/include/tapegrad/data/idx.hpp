/// \file
/// Reader for IDX files (the MNIST format), plain or gzip-compressed.
///
/// Layout: two zero bytes, a type code (0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32,
/// 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
/// uint32, then the values in row-major order, big-endian.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/tensor.hpp"

namespace tg::data {

/// The contents of an IDX file: its shape, type code and values (converted to host order).
struct IdxArray {
  std::string path;       ///< the file read (for messages)
  std::uint8_t type = 0;  ///< IDX type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
  Shape shape;            ///< the dimensions from the header
  std::vector<double> values;  ///< every element as a double (exact for all IDX types)

  /// Number of elements.
  std::size_t size() const { return values.size(); }
  /// The values as a tensor of the given dtype, each multiplied by `scale` (e.g. 1/255 for
  /// pixels). int64 requires scale 1 and whole numbers (a float file with 2.5 or NaN raises).
  Tensor to_tensor(DType dtype = kFloat32, double scale = 1.0) const;
};

/// Reads an IDX file, decompressing it first when it starts with the gzip magic bytes. Raises
/// tg::Error naming the file and what was expected and found for a missing file, a bad magic
/// number or type code, a truncated or oversized payload, a corrupt gzip stream, or a NaN or
/// infinite value in a float file (refused, as read_csv refuses them, naming value and index).
IdxArray read_idx(const std::string& path);
/// read_idx() of a file's bytes held in memory; `source` stands for the file name in messages.
IdxArray read_idx_bytes(std::vector<unsigned char> bytes, const std::string& source = "<memory>");

/// Reads an IDX file straight into a tensor of dtype (float32, float64 or int64), each value
/// multiplied by scale, in the file's shape; the same checks and errors as read_idx(). Faster
/// and smaller than read_idx(path).to_tensor() for big files (no array of doubles in between).
/// int64 requires scale 1 and whole numbers (a float file with 2.5 or NaN raises); float32 and
/// float64 require every value times scale to be finite in the dtype (1e300 in float32 raises).
Tensor read_idx_tensor(const std::string& path, DType dtype = kFloat32, double scale = 1.0);
/// read_idx_tensor() of a file's bytes held in memory; `source` stands for the file name in messages.
Tensor read_idx_tensor_bytes(std::vector<unsigned char> bytes, const std::string& source = "<memory>",
                             DType dtype = kFloat32, double scale = 1.0);

/// Writes an IDX file of unsigned bytes (type 0x08) atomically; `gzip` compresses it. Values
/// must be integers in [0, 255]. (Used by tests and tools that make small MNIST-like files.)
void write_idx_ubyte(const std::string& path, const Shape& shape, const std::vector<std::uint8_t>& values,
                     bool gzip = false);

}  // namespace tg::data
