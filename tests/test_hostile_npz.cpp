// Hostile .npz archives (issue 15): the zip layer trusts no declared size. Each archive is built
// here byte by byte (zlib for the deflated members), never committed as a binary.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

using namespace tg;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

void put16(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t crc_of(const std::string& s) {
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

std::string deflate_raw(const std::string& data) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// A .npy v1 header for `shape_tuple` (e.g. "(3,)") of '<f8', followed by `data`.
std::string npy_f8(const std::string& shape_tuple, const std::string& data) {
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape_tuple + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  put16(out, static_cast<std::uint32_t>(dict.size()));
  return out + dict + data;
}

/// What a zip header says about one entry; every field may be made to lie.
struct Header {
  std::string name;
  std::uint16_t method = 0;
  std::uint32_t crc = 0, compressed_size = 0, size = 0, offset = 0;
};

/// A header that tells the truth about `data` (deflated when method is 8), at `offset`.
Header honest(const std::string& name, const std::string& data, std::uint16_t method, std::uint32_t offset) {
  const std::string stored = method == 8 ? deflate_raw(data) : data;
  return {
      name,  method, crc_of(data), static_cast<std::uint32_t>(stored.size()), static_cast<std::uint32_t>(data.size()),
      offset};
}

/// The fields a local header and its central directory record share, in the same order: version
/// needed, flags, method, time, date, CRC, sizes, name length, extra length.
void put_shared_fields(std::string& out, const Header& h) {
  put16(out, 20);
  put16(out, 0);
  put16(out, h.method);
  put16(out, 0);
  put16(out, 33);
  put32(out, h.crc);
  put32(out, h.compressed_size);
  put32(out, h.size);
  put16(out, static_cast<std::uint32_t>(h.name.size()));
  put16(out, 0);
}

std::string local_header(const Header& h) {
  std::string out;
  put32(out, 0x04034b50);
  put_shared_fields(out, h);
  return out + h.name;
}

/// The central directory for `headers` and the end record, appended to `body` (the entries).
std::string with_directory(std::string body, const std::vector<Header>& headers, int count_delta = 0) {
  const auto central_offset = static_cast<std::uint32_t>(body.size());
  std::string dir;
  for (const Header& h : headers) {
    put32(dir, 0x02014b50);
    put16(dir, 20);  // version made by
    put_shared_fields(dir, h);
    put16(dir, 0);
    put16(dir, 0);
    put16(dir, 0);
    put32(dir, 0);
    put32(dir, h.offset);
    dir += h.name;
  }
  std::string end;
  put32(end, 0x06054b50);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<std::uint32_t>(static_cast<int>(headers.size()) + count_delta));
  put16(end, static_cast<std::uint32_t>(static_cast<int>(headers.size()) + count_delta));
  put32(end, static_cast<std::uint32_t>(dir.size()));
  put32(end, central_offset);
  put16(end, 0);
  return body + dir + end;
}

/// One honest entry: local header, data, central directory.
std::string one_entry(const Header& h, const std::string& stored) {
  return with_directory(local_header(h) + stored, {h});
}

}  // namespace

TEST_CASE("npz: many central directory entries pointing at one deflated member are refused", "[hostile][npz]") {
  // The reproducer, scaled down: one deflated 16 MiB array (16 KiB compressed) named by
  // 24 central records. It used to load as 24 tensors (384 MiB; with a 1 GiB member, bad_alloc).
  const std::string big = npy_f8("(2097152,)", std::string(16u << 20, '\0'));
  const Header first = honest("a0.npy", big, 8, 0);
  const std::string body = local_header(first) + deflate_raw(big);
  CHECK(body.size() < (64u << 10));
  std::vector<Header> headers;
  for (int i = 0; i < 24; ++i) {
    Header h = first;
    h.name = "a" + std::to_string(i) + ".npy";
    headers.push_back(h);
  }
  const std::string archive = with_directory(body, headers);
  CHECK_THROWS_AS(nn::load_tensors_bytes(archive, "bomb.npz"), tg::Error);
  CHECK_THROWS_WITH(
      nn::load_tensors_bytes(archive, "bomb.npz"),
      StartsWith("load_tensors: 'bomb.npz': entry 'a1.npy': corrupted zip: its local header names it 'a0.npy'"));
  // The same member under one name loads: the refusal is about the sharing, not the member.
  CHECK(nn::load_tensors_bytes(with_directory(body, {first}), "one.npz").at("a0").numel() == 2097152);
}

TEST_CASE("npz: an entry whose local header lies inside another entry's data is refused", "[hostile][npz]") {
  // Overlapping files, as in non-recursive zip bombs: entry 'outer' is stored and its data quote a
  // complete local header and deflated data for 'inner', to which the central directory points
  // too. Names, methods and sizes all agree; only the byte ranges give it away.
  const std::string inner_npy = npy_f8("(4,)", std::string(32, '\0'));
  const Header inner_at_zero = honest("inner.npy", inner_npy, 8, 0);
  const std::string quoted = local_header(inner_at_zero) + deflate_raw(inner_npy);
  const Header outer = honest("outer.npy", quoted, 0, 0);
  const auto outer_data_start = static_cast<std::uint32_t>(30 + outer.name.size());
  Header inner = inner_at_zero;
  inner.offset = outer_data_start;
  const std::string archive = with_directory(local_header(outer) + quoted, {outer, inner});
  CHECK_THROWS_WITH(nn::load_tensors_bytes(archive, "overlap.npz"),
                    StartsWith("load_tensors: 'overlap.npz': corrupted zip: entries 'outer.npy' (bytes 0-") &&
                        Contains("and 'inner.npy' (from byte " + std::to_string(outer_data_start) + ") overlap"));
}

TEST_CASE("npz: local header and central directory must agree", "[hostile][npz]") {
  const std::string npy = npy_f8("(3,)", std::string(24, '\x01'));
  const Header h = honest("w.npy", npy, 8, 0);
  const std::string stored = deflate_raw(npy);
  REQUIRE(nn::load_tensors_bytes(one_entry(h, stored), "ok.npz").at("w").numel() == 3);
  SECTION("sizes") {
    Header central = h;
    central.size = h.size + 8;
    CHECK_THROWS_WITH(
        nn::load_tensors_bytes(with_directory(local_header(h) + stored, {central}), "sizes.npz"),
        StartsWith("load_tensors: 'sizes.npz': entry 'w.npy': corrupted zip: the local header says CRC") &&
            Contains(std::to_string(h.size) + " uncompressed bytes; the central directory says") &&
            Contains(std::to_string(h.size + 8)));
  }
  SECTION("method") {
    Header central = h;
    central.method = 0;
    central.compressed_size = central.size;
    CHECK_THROWS_WITH(nn::load_tensors_bytes(with_directory(local_header(h) + stored, {central}), "method.npz"),
                      Contains("compression method 8 in the local header, 0 in the central directory"));
  }
  SECTION("offset beyond the entries") {
    Header central = h;
    central.offset = static_cast<std::uint32_t>(local_header(h).size() + stored.size() + 4);
    CHECK_THROWS_WITH(
        nn::load_tensors_bytes(with_directory(local_header(h) + stored, {central}), "offset.npz"),
        Contains("local header offset " + std::to_string(central.offset) + " is not before the central directory"));
  }
  SECTION("a name twice") {
    CHECK_THROWS_WITH(nn::load_tensors_bytes(with_directory(local_header(h) + stored, {h, h}), "twice.npz"),
                      Contains("entry 'w.npy' appears twice in the central directory"));
  }
  SECTION("an entry count the directory cannot hold") {
    CHECK_THROWS_WITH(nn::load_tensors_bytes(with_directory(local_header(h) + stored, {h}, 65533), "count.npz"),
                      Contains("65534 entries cannot fit a central directory of"));
    CHECK_THROWS_WITH(nn::load_tensors_bytes(with_directory(local_header(h) + stored, {h}, 1), "count2.npz"),
                      Contains("2 entries cannot fit a central directory of"));
  }
  SECTION("a stored entry whose two sizes differ") {
    Header s = honest("w.npy", npy, 0, 0);
    s.compressed_size += 1;
    CHECK_THROWS_WITH(nn::load_tensors_bytes(one_entry(s, npy + "x"), "stored.npz"),
                      Contains("stored entry declares " + std::to_string(npy.size() + 1) + " bytes stored and " +
                               std::to_string(npy.size()) + " uncompressed"));
  }
}

TEST_CASE("npz: inflating stops at the declared size", "[hostile][npz]") {
  // 1 MiB of zeros (about 1 KiB deflated) declared as 1000 bytes, in both headers alike.
  const std::string zeros(1u << 20, '\0');
  Header h = honest("z.npy", zeros, 8, 0);
  const std::string stored = deflate_raw(zeros);
  h.size = 1000;
  CHECK_THROWS_WITH(nn::load_tensors_bytes(one_entry(h, stored), "more.npz"),
                    StartsWith("load_tensors: 'more.npz': entry 'z.npy': corrupted zip: the deflate data inflate to "
                               "more than the declared 1000 bytes"));
  // Declared larger than what the stream yields (within deflate's 1032:1, so the data must not
  // compress much: 64 KiB from a linear congruential generator).
  std::string noise(1u << 16, '\0');
  std::uint32_t state = 1;
  for (char& c : noise) c = static_cast<char>((state = state * 1664525u + 1013904223u) >> 24);
  Header short_header = honest("z.npy", noise, 8, 0);
  short_header.size = 2u << 16;
  CHECK_THROWS_WITH(nn::load_tensors_bytes(one_entry(short_header, deflate_raw(noise)), "less.npz"),
                    Contains("the deflate data end after 65536 of the declared 131072 bytes"));
  // Beyond 1032:1 nothing is inflated at all.
  h.size = 0xfffffff0u;
  CHECK_THROWS_WITH(nn::load_tensors_bytes(one_entry(h, stored), "ratio.npz"),
                    Contains("compressed bytes cannot inflate to the declared 4294967280 bytes"));
  // Bytes after the end of the deflate stream but inside its declared compressed size.
  Header padded = honest("z.npy", zeros, 8, 0);
  padded.compressed_size += 3;
  CHECK_THROWS_WITH(nn::load_tensors_bytes(one_entry(padded, stored + "abc"), "tail.npz"),
                    Contains("the deflate stream ends 3 bytes before the declared"));
}

TEST_CASE("npz: declared sizes beyond the reader's limit are refused before inflating", "[hostile][npz]") {
  std::map<std::string, Tensor> tensors{{"a", zeros({100}, kFloat64)}, {"b", zeros({100}, kFloat64)}};
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("tapegrad_npz_limit_" + std::to_string(::getpid()) + ".npz")).string();
  nn::save_tensors(path, tensors, /*compress=*/true);
  const std::size_t each = npy_f8("(100,)", std::string(800, '\0')).size();  // the same header as encode_npy's
  CHECK(nn::load_tensors(path, 2 * each).size() == 2);
  CHECK_THROWS_WITH(nn::load_tensors(path, 2 * each - 1),
                    StartsWith("load_tensors: '" + path + "': entries declare more than " +
                               std::to_string(2 * each - 1) + " uncompressed bytes in all (at entry 'b.npy')"));
  std::filesystem::remove(path);
}

TEST_CASE("npz: a .npy shape whose byte count wraps around is refused", "[hostile][npz]") {
  // (2^31, 2^30) of <f8 is 2^64 bytes, which wrapped to 0 and matched an empty data section;
  // the reader then asked for 2^61 doubles (std::bad_alloc).
  const std::string npy = npy_f8("(2147483648, 1073741824)", "");
  const std::string archive = one_entry(honest("huge.npy", npy, 0, 0), npy);
  CHECK_THROWS_AS(nn::load_tensors_bytes(archive, "huge.npz"), tg::Error);
  CHECK_THROWS_WITH(
      nn::load_tensors_bytes(archive, "huge.npz"),
      StartsWith("load_tensors: 'huge.npz': entry 'huge.npy': .npy shape (2147483648,1073741824) is too large "
                 "to hold in memory (<f8)"));
}
