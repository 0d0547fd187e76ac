// IDX reading and writing (zlib reads gzip and plain files alike).
#include "tapegrad/data/idx.hpp"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include <xtensor/xadapt.hpp>

#include "tapegrad/file_io.hpp"
#include "tapegrad/memory.hpp"
#include "tapegrad/xtensor.hpp"

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

namespace {

/// The parsed header of an IDX file held in `bytes`, checked against the payload size.
struct IdxHeader {
  std::uint8_t type = 0;
  Shape shape;
  std::size_t count = 1;   ///< number of values
  std::size_t offset = 0;  ///< where the values start
  std::size_t expected = 0;  ///< bytes of the whole file: header and values
};

/// The header in bytes; with check_size, also that bytes is exactly the size it declares.
IdxHeader parse_header(const std::string& path, const std::vector<unsigned char>& bytes, bool check_size = true) {
  IdxHeader h;
  if (bytes.size() < 4)
    fail("read_idx: ", path, ": expected at least a 4-byte header, found ", bytes.size(), " bytes");
  if (bytes[0] != 0 || bytes[1] != 0)
    fail("read_idx: ", path, ": bad magic number: expected the first two bytes to be 0, found ",
         int(bytes[0]), " and ", int(bytes[1]), " (not an IDX file)");
  h.type = bytes[2];
  const std::size_t elem = element_bytes(h.type);
  if (elem == 0)
    fail("read_idx: ", path, ": unknown type code 0x", tg::detail::hex(h.type),
         " (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)");
  const std::size_t ndim = bytes[3];
  if (ndim == 0) fail("read_idx: ", path, ": header declares 0 dimensions");
  h.offset = 4 + 4 * ndim;
  if (bytes.size() < h.offset)
    fail("read_idx: ", path, ": truncated header: expected ", h.offset, " bytes for ", ndim, " dimensions, found ",
         bytes.size());
  // The product of the nonzero extents bounds every stride, even of an empty array: a (0, 2^32-1,
  // 2^32-1) header holds no values but its strides would overflow.
  std::size_t nonzero_product = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    const std::size_t extent = big_endian_u32(&bytes[4 + 4 * d]);
    h.shape.push_back(extent);
    if (extent != 0 && nonzero_product > (std::size_t(1) << 40) / extent)
      fail("read_idx: ", path, ": dimensions ", to_string(h.shape), " are implausibly large");
    if (extent != 0) nonzero_product *= extent;
    h.count *= extent;
  }
  const std::size_t expected = h.expected = h.offset + h.count * elem;  // count <= 2^40: no overflow
  if (check_size && bytes.size() != expected)
    fail("read_idx: ", path, ": ", bytes.size() < expected ? "truncated" : "trailing bytes", ": shape ",
         to_string(h.shape), " needs ", expected, " bytes, found ", bytes.size());
  return h;
}

/// v as T; to int64 only a whole number in range (C++ leaves other float-to-int conversions
/// undefined, and truncating a label would be silent garbage).
template <class T>
T value_as(double v, std::size_t index, const std::string& path) {
  if constexpr (std::is_same_v<T, std::int64_t>) {
    if (!(v >= -0x1p63 && v < 0x1p63) || v != std::floor(v))
      fail("read_idx: ", path, ": value ", v, " at index ", index, " is not a whole number in int64 range");
  }
  return static_cast<T>(v);
}

/// The value at index i of a float IDX file (0x0D, 0x0E), or tg::Error when it is NaN or
/// infinite: refused as read_csv refuses "nan" and "inf", so no reader lets them into a data set
/// where they would surface only as a NaN loss many steps later.
double finite_value(std::uint8_t type, const unsigned char* p, std::size_t i, const std::string& path) {
  const double v = decode(type, p);
  if ((type == 0x0D || type == 0x0E) && !std::isfinite(v))
    fail("read_idx: ", path, ": value ", v, " at index ", i, " is not a finite number");
  return v;
}

/// Whether v is finite and within T's range.
template <class T>
bool fits(double v) {
  return std::isfinite(v) && std::fabs(v) <= static_cast<double>(std::numeric_limits<T>::max());
}

/// The payload decoded, times scale, as T, in the header's shape.
template <class T>
xt::xarray<T> decode_array(const IdxHeader& h, const std::vector<unsigned char>& bytes, double scale,
                           const std::string& path) {
  xt::xarray<T> out = xt::xarray<T>::from_shape(h.shape);
  T* data = out.data();
  tg::detail::advise_huge_pages(data, h.count * sizeof(T));  // tapegrad/memory.hpp
  const unsigned char* p = bytes.data() + h.offset;
  if (h.type == 0x08) {  // unsigned bytes (all of MNIST): no decoding needed
    if constexpr (!std::is_same_v<T, std::int64_t>)
      if (!fits<T>(255 * scale))
        fail("read_idx_tensor: ", path, ": scale ", scale, " makes byte values overflow ",
             to_string(dtype_of<T>::value));
    for (std::size_t i = 0; i < h.count; ++i) data[i] = static_cast<T>(p[i] * scale);
  } else {
    const std::size_t elem = element_bytes(h.type);
    for (std::size_t i = 0; i < h.count; ++i, p += elem) {
      const double v = finite_value(h.type, p, i, path);
      // A finite double can still overflow float32 (3.4e38 and up), or its product with scale;
      // checked before the cast, which is undefined out of range.
      if constexpr (!std::is_same_v<T, std::int64_t>)
        if (!fits<T>(v * scale))
          fail("read_idx_tensor: ", path, ": value ", v, " at index ", i, " times scale ", scale, " overflows ",
               to_string(dtype_of<T>::value));
      data[i] = value_as<T>(v * scale, i, path);
    }
  }
  return out;
}

/// The file's bytes, gunzipped if compressed. A gzip file is inflated in two bounded steps: the
/// header (at most 4 + 4 * 255 bytes), then no more than the size it declares, so a small file
/// that inflates to gigabytes of zeros stops one byte past the declared size.
std::vector<unsigned char> idx_bytes(std::vector<unsigned char> file_bytes, const std::string& path) {
  if (file_bytes.size() < 2 || file_bytes[0] != 0x1f || file_bytes[1] != 0x8b) return file_bytes;  // not gzip
  const std::vector<unsigned char> head = gunzip_prefix(file_bytes, 4 + 4 * 255, path, "read_idx");
  const std::size_t expected = parse_header(path, head, /*check_size=*/false).expected;
  return gunzip_if_gzip(std::move(file_bytes), path, "read_idx", expected);
}

}  // namespace

IdxArray read_idx(const std::string& path) { return read_idx_bytes(read_file(path, "read_idx"), path); }

IdxArray read_idx_bytes(std::vector<unsigned char> file_bytes, const std::string& path) {
  const std::vector<unsigned char> bytes = idx_bytes(std::move(file_bytes), path);
  const IdxHeader h = parse_header(path, bytes);
  IdxArray out;
  out.path = path;
  out.type = h.type;
  out.shape = h.shape;
  out.values.resize(h.count);
  const unsigned char* p = bytes.data() + h.offset;
  const std::size_t elem = element_bytes(h.type);
  for (std::size_t i = 0; i < h.count; ++i, p += elem) out.values[i] = finite_value(h.type, p, i, path);
  return out;
}

Tensor read_idx_tensor(const std::string& path, DType dtype, double scale) {
  return read_idx_tensor_bytes(read_file(path, "read_idx"), path, dtype, scale);
}

Tensor read_idx_tensor_bytes(std::vector<unsigned char> file_bytes, const std::string& path, DType dtype,
                             double scale) {
  if (dtype == kInt64 && scale != 1.0) fail("read_idx_tensor: int64 needs scale 1");
  if (!is_floating(dtype) && dtype != kInt64) fail("read_idx_tensor: dtype must be float32, float64 or int64");
  if (!std::isfinite(scale)) fail("read_idx_tensor: ", path, ": scale ", scale, " is not a finite number");
  const std::vector<unsigned char> bytes = idx_bytes(std::move(file_bytes), path);
  const IdxHeader h = parse_header(path, bytes);
  switch (dtype) {
    case DType::float32: return Tensor(decode_array<float>(h, bytes, scale, path));
    case DType::float64: return Tensor(decode_array<double>(h, bytes, scale, path));
    default: return Tensor(decode_array<std::int64_t>(h, bytes, 1.0, path));
  }
}

Tensor IdxArray::to_tensor(DType dtype, double scale) const {
  if (dtype == kInt64 && scale != 1.0) fail("IdxArray::to_tensor: int64 needs scale 1");
  if (dtype == kInt64) {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!(values[i] >= -0x1p63 && values[i] < 0x1p63) || values[i] != std::floor(values[i]))
        fail("IdxArray::to_tensor: ", path, ": value ", values[i], " at index ", i,
             " is not a whole number in int64 range");
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
