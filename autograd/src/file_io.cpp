// File helpers: whole-file reads (optionally gunzipping) and atomic writes.
#include "tapegrad/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "tapegrad/error.hpp"

namespace tg {

std::vector<unsigned char> read_file(const std::string& path, const char* op) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(op, ": cannot open ", path, ": ", std::strerror(errno));
  // One read of the whole size when it is known (streambuf iterators go a byte at a time).
  std::vector<unsigned char> bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > 0 && in) {
    bytes.resize(static_cast<std::size_t>(size));
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    // Anything beyond the size seen at open (a file still growing) is read too.
    bytes.insert(bytes.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    in.clear();
    in.seekg(0, std::ios::beg);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (in.bad()) fail(op, ": error while reading ", path);
  return bytes;
}

std::vector<unsigned char> read_maybe_gzip(const std::string& path, const char* op) {
  return gunzip_if_gzip(read_file(path, op), path, op);
}

std::vector<unsigned char> gunzip_if_gzip(std::vector<unsigned char> raw, const std::string& path, const char* op) {
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(op, ": zlib could not start inflating ", path);
  std::vector<unsigned char> out;
  out.resize(raw.size() * 4 + 1024);
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out >= out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      fail(op, ": ", path, ": truncated gzip stream (ended after ", zs.total_out, " decompressed bytes)");
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      fail(op, ": ", path, ": corrupt gzip stream (", msg, ")");
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::vector<unsigned char> gzip_bytes(const std::vector<unsigned char>& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("gzip: zlib could not start deflating");
  std::vector<unsigned char> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32);
  zs.next_in = const_cast<unsigned char*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) fail("gzip: deflate failed (", rc, ")");
  out.resize(zs.total_out);
  return out;
}

void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes, const char* op) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(op, ": cannot create ", tmp, ": ", std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(op, ": writing ", tmp, " failed: ", reason);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(op, ": flushing ", tmp, " failed: ", reason);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(op, ": cannot rename ", tmp, " to ", path, ": ", reason);
  }
}

void write_file_atomically(const std::string& path, const std::string& text, const char* op) {
  write_file_atomically(path, std::vector<unsigned char>(text.begin(), text.end()), op);
}

}  // namespace tg
