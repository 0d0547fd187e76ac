// IDX reading and writing (zlib reads gzip and plain files alike).
#include "tapegrad/data/idx.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <xtensor/xadapt.hpp>

#include "tapegrad/file_io.hpp"

namespace tg::data {

namespace {

std::size_t element_bytes(std::uint8_t type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

double decode(std::uint8_t type, const unsigned char* p) {
  switch (type) {
    case 0x08: return p[0];
    case 0x09: return static_cast<std::int8_t>(p[0]);
    case 0x0B: return static_cast<std::int16_t>((p[0] << 8) | p[1]);
    case 0x0C: return static_cast<std::int32_t>(big_endian_u32(p));
    case 0x0D: {
      const std::uint32_t bits = big_endian_u32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case 0x0E: {
      std::uint64_t bits = (std::uint64_t(big_endian_u32(p)) << 32) | big_endian_u32(p + 4);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
  }
  return 0;
}

}  // namespace

IdxArray read_idx(const std::string& path) { return read_idx_bytes(read_file(path, "read_idx"), path); }

IdxArray read_idx_bytes(std::vector<unsigned char> file_bytes, const std::string& path) {
  const std::vector<unsigned char> bytes = gunzip_if_gzip(std::move(file_bytes), path, "read_idx");
  IdxArray out;
  out.path = path;
  if (bytes.size() < 4)
    fail("read_idx: ", path, ": expected at least a 4-byte header, found ", bytes.size(), " bytes");
  if (bytes[0] != 0 || bytes[1] != 0)
    fail("read_idx: ", path, ": bad magic number: expected the first two bytes to be 0, found ",
         int(bytes[0]), " and ", int(bytes[1]), " (not an IDX file)");
  out.type = bytes[2];
  const std::size_t elem = element_bytes(out.type);
  if (elem == 0)
    fail("read_idx: ", path, ": unknown type code 0x", std::hex, int(out.type),
         " (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)");
  const std::size_t ndim = bytes[3];
  if (ndim == 0) fail("read_idx: ", path, ": header declares 0 dimensions");
  const std::size_t header = 4 + 4 * ndim;
  if (bytes.size() < header)
    fail("read_idx: ", path, ": truncated header: expected ", header, " bytes for ", ndim, " dimensions, found ",
         bytes.size());
  // The product of the nonzero extents bounds every stride, even of an empty array: a (0, 2^32-1,
  // 2^32-1) header holds no values but its strides would overflow.
  std::size_t count = 1, nonzero_product = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    const std::size_t extent = big_endian_u32(&bytes[4 + 4 * d]);
    out.shape.push_back(extent);
    if (extent != 0 && nonzero_product > (std::size_t(1) << 40) / extent)
      fail("read_idx: ", path, ": dimensions ", to_string(out.shape), " are implausibly large");
    if (extent != 0) nonzero_product *= extent;
    count *= extent;
  }
  const std::size_t expected = header + count * elem;
  if (bytes.size() != expected)
    fail("read_idx: ", path, ": ", bytes.size() < expected ? "truncated" : "trailing bytes", ": shape ",
         to_string(out.shape), " needs ", expected, " bytes, found ", bytes.size());
  out.values.resize(count);
  const unsigned char* p = bytes.data() + header;
  for (std::size_t i = 0; i < count; ++i, p += elem) out.values[i] = decode(out.type, p);
  return out;
}

Tensor IdxArray::to_tensor(DType dtype, double scale) const {
  if (dtype == kInt64 && scale != 1.0) fail("IdxArray::to_tensor: int64 needs scale 1");
  if (dtype == kInt64) {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!(values[i] >= -0x1p63 && values[i] < 0x1p63) || values[i] != std::floor(values[i]))
        fail("IdxArray::to_tensor: ", path, ": value ", values[i], " at index ", i, " is not a whole number in int64 range");
  }
  xt::xarray<double> v = xt::adapt(values, shape);
  if (scale != 1.0) v *= scale;
  return from_double(v, TensorOptions(dtype));
}

void write_idx_ubyte(const std::string& path, const Shape& shape, const std::vector<std::uint8_t>& values,
                     bool gzip) {
  std::size_t count = 1;
  for (auto d : shape) count *= d;
  if (count != values.size())
    fail("write_idx_ubyte: shape ", to_string(shape), " needs ", count, " values, got ", values.size());
  if (shape.empty() || shape.size() > 255) fail("write_idx_ubyte: needs 1 to 255 dimensions");
  std::vector<unsigned char> bytes{0, 0, 0x08, static_cast<unsigned char>(shape.size())};
  for (auto d : shape)
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<unsigned char>((d >> s) & 0xff));
  bytes.insert(bytes.end(), values.begin(), values.end());
  write_file_atomically(path, gzip ? gzip_bytes(bytes) : bytes, "write_idx_ubyte");
}

}  // namespace tg::data
