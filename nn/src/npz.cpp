// .npy encoding and the zip container (see npz.hpp for the formats).
#include "npz.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <new>
#include <set>

#include "strided.hpp"
#include "tapegrad/xtensor.hpp"
#include "tensor_impl.hpp"

namespace tg::nn::detail {

namespace {

bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// ---- Little-endian byte helpers ----------------------------------------------------------------

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Bounds-checked little-endian reads from an archive; `what` names the structure being read.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& where) : bytes_(bytes), where_(where) {}
  std::uint64_t get(std::uint64_t pos, int width, const char* what) const {
    if (pos > bytes_.size() || bytes_.size() - pos < static_cast<std::uint64_t>(width))
      fail(where_, ": truncated file (", what, " at byte ", pos, " runs past the end, ", bytes_.size(),
           " bytes)");
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i)
      v = (v << 8) | static_cast<unsigned char>(bytes_[pos + static_cast<std::uint64_t>(i)]);
    return v;
  }
  std::uint16_t u16(std::uint64_t pos, const char* what) const { return static_cast<std::uint16_t>(get(pos, 2, what)); }
  std::uint32_t u32(std::uint64_t pos, const char* what) const { return static_cast<std::uint32_t>(get(pos, 4, what)); }
  std::uint64_t u64(std::uint64_t pos, const char* what) const { return get(pos, 8, what); }
  std::string str(std::uint64_t pos, std::uint64_t n, const char* what) const {
    if (n > 0) get(pos + n - 1, 1, what);
    return bytes_.substr(pos, n);
  }

 private:
  const std::string& bytes_;
  const std::string& where_;
};

constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr std::uint16_t kDosDate1980 = (1 << 5) | 1;  // 1980-01-01: fixed, so saves are reproducible

std::uint32_t crc_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  for (std::size_t done = 0; done < data.size();) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, p + done, chunk);
    done += chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

std::string deflate_raw(const std::string& data, const std::string& where) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail(where, ": zlib deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) fail(where, ": zlib deflate failed (", rc, ")");
  return out;
}

/// The `size` bytes a raw deflate stream of n bytes must inflate to, inflated in bounded chunks:
/// the buffer grows with what the stream really yields (never to the declared size up front), and
/// inflation stops one byte past `size`, so a bomb behind a small declared size costs nothing.
/// zlib's avail_in and avail_out are 32 bits, hence chunks of at most 1 GiB each way.
std::string inflate_raw(const char* data, std::uint64_t n, std::uint64_t size, const std::string& where) {
  // Deflate expands at most 1032:1, so a larger declared size is a corrupted (or hostile) header.
  if (size / 1032 > n + 1)
    fail(where, ": corrupted zip: ", n, " compressed bytes cannot inflate to the declared ", size, " bytes");
  constexpr std::uint64_t kChunk = std::uint64_t(1) << 30;
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(where, ": zlib inflateInit2 failed");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  std::string out;
  std::uint64_t consumed = 0, produced = 0;
  try {
    for (;;) {
      if (zs.avail_in == 0 && consumed < n) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data + consumed));
        zs.avail_in = static_cast<uInt>(std::min(n - consumed, kChunk));
        consumed += zs.avail_in;
      }
      if (produced == out.size()) {
        if (out.size() > size) break;  // one byte more than declared: refused below
        out.resize(out.size() + std::min({std::max<std::uint64_t>(out.size(), 65536), kChunk, size + 1 - out.size()}));
      }
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kChunk));
      const uInt room = zs.avail_out;
      const int rc = inflate(&zs, Z_NO_FLUSH);
      produced += room - zs.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && consumed == n)
        fail(where, ": truncated deflate data (the ", n, " compressed bytes end after ", produced, " of the declared ",
             size, " bytes)");
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        fail(where, ": corrupted deflate data (", zs.msg ? zs.msg : "zlib error " + std::to_string(rc), ")");
    }
  } catch (const std::bad_alloc&) {
    fail(where, ": inflating needs more than ", out.size(), " bytes, which could not be allocated");
  }
  if (produced > size)
    fail(where, ": corrupted zip: the deflate data inflate to more than the declared ", size, " bytes");
  if (produced < size)
    fail(where, ": corrupted zip: the deflate data end after ", produced, " of the declared ", size, " bytes");
  if (zs.avail_in != 0 || consumed != n)
    fail(where, ": corrupted zip: the deflate stream ends ", n - consumed + zs.avail_in, " bytes before the declared ",
         n, " compressed bytes do");
  out.resize(produced);
  return out;
}

// ---- .npy --------------------------------------------------------------------------------------

const char* npy_descr(DType d) {
  switch (d) {
    case DType::float32: return "<f4";
    case DType::float64: return "<f8";
    case DType::int64: return "<i8";
    case DType::boolean: return "|b1";
  }
  return "?";
}

/// The value after 'key': in a .npy header dict, with surrounding spaces trimmed.
std::string dict_value(const std::string& header, const std::string& key, const std::string& where) {
  std::size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) k = header.find("\"" + key + "\"");
  if (k == std::string::npos) fail(where, ": malformed .npy header (no '", key, "' key): ", header);
  std::size_t colon = header.find(':', k);
  if (colon == std::string::npos) fail(where, ": malformed .npy header after '", key, "': ", header);
  std::size_t begin = colon + 1;
  while (begin < header.size() && header[begin] == ' ') ++begin;
  std::size_t end = begin;
  if (begin < header.size() && header[begin] == '(') {
    end = header.find(')', begin);
    if (end == std::string::npos) fail(where, ": malformed .npy header (unclosed shape tuple): ", header);
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  std::string v = header.substr(begin, end - begin);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

Shape parse_shape(const std::string& tuple, const std::string& where) {
  if (tuple.size() < 2 || tuple.front() != '(' || tuple.back() != ')')
    fail(where, ": malformed .npy shape ", tuple);
  Shape shape;
  std::size_t i = 1;
  while (i + 1 < tuple.size()) {
    while (i + 1 < tuple.size() && (tuple[i] == ' ' || tuple[i] == ',')) ++i;
    if (i + 1 >= tuple.size()) break;
    std::size_t j = i;
    while (j + 1 < tuple.size() && std::isdigit(static_cast<unsigned char>(tuple[j]))) ++j;
    if (j == i || j - i > 18) fail(where, ": malformed .npy shape ", tuple);
    shape.push_back(static_cast<std::size_t>(std::stoull(tuple.substr(i, j - i))));
    i = j;
  }
  return shape;
}

template <class T>
Tensor array_from_bytes(const char* data, const Shape& shape, bool fortran_order) {
  // Fortran order stores the transpose's C order: read it with the reversed shape, then transpose.
  Shape stored = shape;
  if (fortran_order) std::reverse(stored.begin(), stored.end());
  auto a = xt::xarray<T>::from_shape(stored);
  if constexpr (std::is_same_v<T, bool>) {
    for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = data[i] != 0;
  } else if (a.size() > 0) {  // an empty array's data() may be null, and memcpy(nullptr, ...) is undefined
    std::memcpy(a.data(), data, a.size() * sizeof(T));
  }
  if (fortran_order && shape.size() > 1) {  // the reversed axes, copied in tiles (strided.hpp)
    std::vector<std::size_t> reversed(shape.size());
    for (std::size_t i = 0; i < reversed.size(); ++i) reversed[i] = reversed.size() - 1 - i;
    auto c = xt::xarray<T>::from_shape(shape);
    tg::detail::strided_copy(a.data(), shape, tg::detail::permuted_strides(stored, reversed), c.data());
    a = std::move(c);
  }
  return Tensor(std::move(a));
}

}  // namespace

std::string encode_npy(const Tensor& t) {
  if (!host_is_little_endian()) fail("encode_npy: only little-endian hosts are supported");
  std::string dict = std::string("{'descr': '") + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': (";
  const Shape shape = t.shape();
  for (std::size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  dict += shape.size() == 1 ? ",), }" : "), }";  // a 1-tuple is written (3,) in Python
  // Pad with spaces so magic (6) + version (2) + length (2) + header is a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, static_cast<std::uint16_t>(dict.size()));
  out += dict;
  std::visit([&](const auto& a) {
    using T = typename std::decay_t<decltype(a)>::value_type;
    if constexpr (std::is_same_v<T, bool>) {
      for (bool b : a) out.push_back(b ? 1 : 0);
    } else {
      out.append(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
    }
  }, t.impl()->value);
  return out;
}

Tensor decode_npy(const std::string& bytes, const std::string& where) {
  if (!host_is_little_endian()) fail(where, ": only little-endian hosts are supported");
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    fail(where, ": not a .npy array (bad magic bytes)");
  Reader r(bytes, where);
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = r.u16(8, ".npy header length");
    header_start = 10;
  } else if (major == 2 || major == 3) {
    header_len = r.u32(8, ".npy header length");
    header_start = 12;
  } else {
    fail(where, ": unsupported .npy format version ", static_cast<int>(major));
  }
  const std::string header = r.str(header_start, header_len, ".npy header");
  const std::string descr_quoted = dict_value(header, "descr", where);
  const std::string fortran = dict_value(header, "fortran_order", where);
  const Shape shape = parse_shape(dict_value(header, "shape", where), where);
  if (descr_quoted.size() < 2) fail(where, ": malformed .npy dtype ", descr_quoted);
  const std::string descr = descr_quoted.substr(1, descr_quoted.size() - 2);
  if (fortran != "True" && fortran != "False") fail(where, ": malformed .npy fortran_order ", fortran);

  DType dtype;
  if (descr == "<f4") dtype = kFloat32;
  else if (descr == "<f8") dtype = kFloat64;
  else if (descr == "<i8") dtype = kInt64;
  else if (descr == "|b1" || descr == "<b1") dtype = kBool;
  else fail(where, ": unsupported .npy dtype '", descr, "' (tapegrad reads <f4, <f8, <i8 and |b1)");

  // The byte count of the nonzero extents bounds every stride, even of an empty array, and
  // strides are signed: a (0, 2^40, 2^40) shape holds no values but its strides would overflow.
  // Counted in bytes, not elements: (2^61,) of <f8 needs 2^64 bytes, which wrapped to 0 and
  // matched an empty data section.
  std::size_t numel = 1, nonzero_bytes = element_size(dtype);
  for (std::size_t d : shape) {
    if (d != 0 && (__builtin_mul_overflow(nonzero_bytes, d, &nonzero_bytes) || nonzero_bytes > (std::size_t(1) << 62)))
      fail(where, ": .npy shape ", to_string(shape), " is too large to hold in memory (", descr, ")");
    numel *= d;
  }
  const std::size_t data_start = header_start + header_len;
  const std::size_t have = bytes.size() - data_start, need = numel * element_size(dtype);
  if (have != need)
    fail(where, ": ", have < need ? "truncated" : "oversized", " .npy data: ", have, " bytes for shape ",
         to_string(shape), " of ", descr, ", which needs ", need);
  const char* data = bytes.data() + data_start;
  const bool f = fortran == "True";
  switch (dtype) {
    case DType::float32: return array_from_bytes<float>(data, shape, f);
    case DType::float64: return array_from_bytes<double>(data, shape, f);
    case DType::int64: return array_from_bytes<std::int64_t>(data, shape, f);
    case DType::boolean: return array_from_bytes<bool>(data, shape, f);
  }
  return Tensor();
}

// ---- Zip writing -------------------------------------------------------------------------------

void ZipWriter::emit(const std::string& bytes) {
  sink_(bytes.data(), bytes.size());
  offset_ += bytes.size();
}

void ZipWriter::add(const std::string& name, const std::string& data, bool compress) {
  Record rec;
  rec.name = name;
  rec.crc = crc_of(data);
  rec.method = compress ? 8 : 0;
  constexpr std::uint64_t kMax = 0xfffffffeu;  // zip64 is not written
  // Checked before deflating too: deflate_raw hands zlib a 32-bit input length.
  if (data.size() > kMax || offset_ > kMax || name.size() > 0xffff)
    fail(where_, ": entry '", name, "' does not fit a zip without zip64 (4 GiB limit)");
  const std::string stored = compress ? deflate_raw(data, where_) : std::string();
  const std::string& payload = compress ? stored : data;
  if (payload.size() > kMax) fail(where_, ": entry '", name, "' does not fit a zip without zip64 (4 GiB limit)");
  rec.size = static_cast<std::uint32_t>(data.size());
  rec.compressed_size = static_cast<std::uint32_t>(payload.size());
  rec.offset = static_cast<std::uint32_t>(offset_);

  std::string h;
  put32(h, kLocalSig);
  put16(h, 20);  // version needed: 2.0 (deflate)
  put16(h, 0);   // flags
  put16(h, rec.method);
  put16(h, 0);   // time 00:00
  put16(h, kDosDate1980);
  put32(h, rec.crc);
  put32(h, rec.compressed_size);
  put32(h, rec.size);
  put16(h, static_cast<std::uint16_t>(name.size()));
  put16(h, 0);  // extra length
  h += name;
  emit(h);
  emit(payload);
  records_.push_back(std::move(rec));
}

void ZipWriter::finish() {
  if (records_.size() > 0xffff) fail(where_, ": more than 65535 entries need zip64, which is not written");
  const std::uint64_t central_offset = offset_;
  for (const Record& rec : records_) {
    std::string h;
    put32(h, kCentralSig);
    put16(h, (3 << 8) | 20);  // made by: Unix, spec 2.0 (so the permissions below are read)
    put16(h, 20);
    put16(h, 0);
    put16(h, rec.method);
    put16(h, 0);
    put16(h, kDosDate1980);
    put32(h, rec.crc);
    put32(h, rec.compressed_size);
    put32(h, rec.size);
    put16(h, static_cast<std::uint16_t>(rec.name.size()));
    put16(h, 0);  // extra
    put16(h, 0);  // comment
    put16(h, 0);  // disk
    put16(h, 0);  // internal attributes
    put32(h, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
    put32(h, rec.offset);
    h += rec.name;
    emit(h);
  }
  const std::uint64_t central_size = offset_ - central_offset;
  if (offset_ > 0xfffffffeu) fail(where_, ": archive larger than 4 GiB needs zip64, which is not written");
  std::string end;
  put32(end, kEndSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint16_t>(records_.size()));
  put16(end, static_cast<std::uint16_t>(records_.size()));
  put32(end, static_cast<std::uint32_t>(central_size));
  put32(end, static_cast<std::uint32_t>(central_offset));
  put16(end, 0);  // comment length
  emit(end);
}

// ---- Zip reading -------------------------------------------------------------------------------

namespace {

/// One central directory record, with zip64 values already substituted.
struct CentralRecord {
  std::string name;
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed_size = 0, size = 0, local = 0;
  std::uint64_t data_start = 0;  // filled in from the local header
};

/// The zip64 extra field (id 1) of a header: the 8-byte values of the saturated 32-bit fields,
/// in the order size, compressed size, local offset. Each value read must lie inside both the
/// field and the header's extra area (other extra fields are skipped, even malformed ones, as
/// some writers pad them).
void read_zip64_extra(const Reader& r, std::uint64_t extra, std::uint64_t extra_len, CentralRecord& rec,
                      bool offset_too, const std::string& where) {
  for (std::uint64_t e = extra; e + 4 <= extra + extra_len;) {
    const std::uint16_t id = r.u16(e, "extra field"), len = r.u16(e + 2, "extra field");
    const std::uint64_t field_end = std::min<std::uint64_t>(e + 4 + len, extra + extra_len);
    if (id == 1) {
      std::uint64_t f = e + 4;
      const auto next = [&](std::uint64_t& field) {
        if (f + 8 > field_end) fail(where, ": corrupted zip: zip64 extra field too short for its saturated sizes");
        field = r.u64(f, "zip64 extra");
        f += 8;
      };
      if (rec.size == 0xffffffff) next(rec.size);
      if (rec.compressed_size == 0xffffffff) next(rec.compressed_size);
      if (offset_too && rec.local == 0xffffffff) next(rec.local);
    }
    e += 4 + len;
  }
}

}  // namespace

std::vector<ZipEntry> read_zip(const std::string& archive, const std::string& where, std::uint64_t max_bytes) {
  Reader r(archive, where);
  if (archive.size() < 22)
    fail(where, ": not a .npz (zip) file: only ", archive.size(), " bytes (truncated or empty?)");
  // The end record sits in the last 22 + 65535 (maximum comment) bytes; search backwards.
  std::uint64_t end = archive.size() - 22;
  const std::uint64_t lowest = end > 65535 ? end - 65535 : 0;
  while (r.u32(end, "end record") != kEndSig) {
    if (end == lowest)
      fail(where, ": not a .npz (zip) file: no end-of-central-directory record (truncated or corrupted?)");
    --end;
  }
  std::uint64_t count = r.u16(end + 10, "end record");
  std::uint64_t central_size = r.u32(end + 12, "end record");
  std::uint64_t central_offset = r.u32(end + 16, "end record");
  std::uint64_t central_limit = end;  // the central directory ends before the (zip64) end record
  if (count == 0xffff || central_size == 0xffffffff || central_offset == 0xffffffff) {
    if (end < 20 || r.u32(end - 20, "zip64 locator") != kZip64LocatorSig)
      fail(where, ": corrupted zip: zip64 sizes without a zip64 locator");
    const std::uint64_t z = r.u64(end - 12, "zip64 locator");
    if (z > end - 20 || r.u32(z, "zip64 end record") != kZip64EndSig)
      fail(where, ": corrupted zip: bad zip64 end record");
    count = r.u64(z + 32, "zip64 end record");
    central_size = r.u64(z + 40, "zip64 end record");
    central_offset = r.u64(z + 48, "zip64 end record");
    central_limit = z;
  }
  if (central_offset > central_limit || central_size > central_limit - central_offset)
    fail(where, ": corrupted or truncated zip: central directory at ", central_offset, " (+", central_size,
         " bytes) lies outside the ", central_limit, " bytes before the end record");
  // Every record takes at least 46 bytes: a count beyond that is a lie, not a reason to loop 2^64 times.
  if (count > central_size / 46)
    fail(where, ": corrupted zip: ", count, " entries cannot fit a central directory of ", central_size, " bytes");

  // First every record and its local header, checked against each other and against the file,
  // so that nothing is inflated from an archive whose layout is inconsistent.
  std::vector<CentralRecord> records;
  std::set<std::string> names;
  std::uint64_t pos = central_offset, total = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (r.u32(pos, "central directory") != kCentralSig)
      fail(where, ": corrupted zip: central directory record ", i, " has a bad signature");
    CentralRecord rec;
    rec.flags = r.u16(pos + 8, "central directory");
    rec.method = r.u16(pos + 10, "central directory");
    rec.crc = r.u32(pos + 16, "central directory");
    rec.compressed_size = r.u32(pos + 20, "central directory");
    rec.size = r.u32(pos + 24, "central directory");
    const std::uint16_t name_len = r.u16(pos + 28, "central directory");
    const std::uint16_t extra_len = r.u16(pos + 30, "central directory");
    const std::uint16_t comment_len = r.u16(pos + 32, "central directory");
    rec.local = r.u32(pos + 42, "central directory");
    rec.name = r.str(pos + 46, name_len, "entry name");
    const std::string entry_where = where + ": entry '" + rec.name + "'";
    read_zip64_extra(r, pos + 46 + name_len, extra_len, rec, true, entry_where);
    pos += 46u + name_len + extra_len + comment_len;
    if (pos > central_offset + central_size)
      fail(where, ": corrupted zip: central directory record ", i, " runs past the directory's declared ", central_size,
           " bytes");

    if (!names.insert(rec.name).second) fail(entry_where, " appears twice in the central directory");
    if (rec.flags & 1) fail(entry_where, " is encrypted");
    if (rec.method != 0 && rec.method != 8)
      fail(entry_where, " uses compression method ", rec.method, " (only stored and deflated are read)");
    if (rec.method == 0 && rec.compressed_size != rec.size)
      fail(entry_where, ": corrupted zip: stored entry declares ", rec.compressed_size, " bytes stored and ", rec.size,
           " uncompressed");
    // Checked before anything is inflated: entries that together declare more than max_bytes
    // would fill memory however honest each one looks.
    if (__builtin_add_overflow(total, rec.size, &total) || total > max_bytes)
      fail(where, ": entries declare more than ", max_bytes, " uncompressed bytes in all (at entry '", rec.name,
           "'), the most this reader accepts");

    // The local header must lie before the central directory and repeat the record's name and
    // method, and its CRC and sizes unless it defers them to a data descriptor (flag bit 3).
    if (rec.local > central_offset || central_offset - rec.local < 30)
      fail(entry_where, ": corrupted zip: local header offset ", rec.local, " is not before the central directory at ",
           central_offset);
    if (r.u32(rec.local, "local header") != kLocalSig) fail(entry_where, ": bad local header signature (corrupted)");
    const std::uint16_t local_flags = r.u16(rec.local + 6, "local header");
    const std::uint16_t local_method = r.u16(rec.local + 8, "local header");
    const std::uint16_t local_name_len = r.u16(rec.local + 26, "local header");
    const std::uint16_t local_extra_len = r.u16(rec.local + 28, "local header");
    const std::string local_name = r.str(rec.local + 30, local_name_len, "local header name");
    if (local_name != rec.name)
      fail(entry_where, ": corrupted zip: its local header names it '", local_name, "'");
    if (local_method != rec.method)
      fail(entry_where, ": corrupted zip: compression method ", local_method, " in the local header, ", rec.method,
           " in the central directory");
    if (!(local_flags & 8)) {
      CentralRecord local;
      local.crc = r.u32(rec.local + 14, "local header");
      local.compressed_size = r.u32(rec.local + 18, "local header");
      local.size = r.u32(rec.local + 22, "local header");
      read_zip64_extra(r, rec.local + 30 + local_name_len, local_extra_len, local, false, entry_where);
      if (local.crc != rec.crc || local.compressed_size != rec.compressed_size || local.size != rec.size)
        fail(entry_where, ": corrupted zip: the local header says CRC ", local.crc, ", ", local.compressed_size,
             " compressed and ", local.size, " uncompressed bytes; the central directory says CRC ", rec.crc, ", ",
             rec.compressed_size, " and ", rec.size);
    }
    rec.data_start = rec.local + 30 + local_name_len + local_extra_len;
    if (rec.data_start > central_offset || rec.compressed_size > central_offset - rec.data_start)
      fail(entry_where, ": corrupted or truncated zip: ", rec.compressed_size, " bytes of data at ", rec.data_start,
           " run past the central directory at ", central_offset);
    records.push_back(std::move(rec));
  }
  if (pos != central_offset + central_size)
    fail(where, ": corrupted zip: the central directory's ", count, " records take ", pos - central_offset,
         " bytes, the end record says ", central_size);

  // No two entries may share bytes: a central directory pointing many names at one deflated
  // member would otherwise inflate it once per name (4 GiB from two entries of a 1 GiB bomb).
  std::vector<const CentralRecord*> by_offset;
  for (const CentralRecord& rec : records) by_offset.push_back(&rec);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const CentralRecord* a, const CentralRecord* b) { return a->local < b->local; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const CentralRecord& before = *by_offset[i - 1];
    const CentralRecord& after = *by_offset[i];
    if (after.local < before.data_start + before.compressed_size)
      fail(where, ": corrupted zip: entries '", before.name, "' (bytes ", before.local, "-",
           before.data_start + before.compressed_size, ") and '", after.name, "' (from byte ", after.local,
           ") overlap");
  }

  std::vector<ZipEntry> entries;
  for (const CentralRecord& rec : records) {
    const std::string entry_where = where + ": entry '" + rec.name + "'";
    ZipEntry entry;
    entry.name = rec.name;
    try {
      entry.data = rec.method == 0 ? archive.substr(rec.data_start, rec.compressed_size)
                                   : inflate_raw(archive.data() + rec.data_start, rec.compressed_size, rec.size,
                                                 entry_where);
    } catch (const std::bad_alloc&) {
      fail(entry_where, ": needs ", rec.size, " bytes, which could not be allocated");
    }
    if (entry.data.size() != rec.size) fail(entry_where, ": size mismatch (corrupted)");
    if (crc_of(entry.data) != rec.crc) fail(entry_where, ": CRC-32 mismatch (the data is corrupted)");
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace tg::nn::detail
