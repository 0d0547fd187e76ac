// File helpers: whole-file reads (optionally gunzipping) and atomic writes.
#include "tapegrad/file_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tapegrad/error.hpp"

namespace tg {

namespace {
/// The next buffer size when a read fills `size` bytes: doubled, or tg::Error if that wraps.
std::size_t grown_size(std::size_t size, const char* op, const std::string& path) {
  if (size > (std::size_t(1) << 62)) fail(op, ": ", path, " is larger than can be held in memory");
  return size * 2;
}
}  // namespace

std::vector<unsigned char> read_file(const std::string& path, const char* op) {
  // POSIX reads rather than an ifstream: an ifstream opens a directory and then reports a size of
  // 2^63 - 1, and its failures surface as std::ios_base::failure or std::bad_alloc, not tg::Error.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(op, ": cannot open ", path, ": ", std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(op, ": cannot read ", path, ": ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(op, ": cannot read ", path, ": it is a directory");
  std::vector<unsigned char> bytes;
  std::size_t used = 0, want = 0;
  try {
    // The size seen at open plus one byte, so a file read whole ends with a read of 0 bytes;
    // anything beyond it (a file still growing, a pipe) grows the buffer.
    want = S_ISREG(st.st_mode) && st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 65536;
    bytes.resize(want);
    for (;;) {
      if (used == bytes.size()) {
        want = grown_size(bytes.size(), op, path);
        bytes.resize(want);
      }
      const ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(op, ": error while reading ", path, ": ", std::strerror(errno));
      }
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
  } catch (const std::bad_alloc&) {
    fail(op, ": reading ", path, " needs ", want, " bytes, which could not be allocated");
  }
  bytes.resize(used);
  return bytes;
}

std::vector<unsigned char> read_maybe_gzip(const std::string& path, const char* op) {
  return gunzip_if_gzip(read_file(path, op), path, op);
}

namespace {

bool is_gzip(const std::vector<unsigned char>& raw) { return raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b; }

/// Inflates the gzip member(s) in raw into at most max_bytes + 1 bytes (one more than allowed, to
/// tell "exactly max_bytes" from "more"), in chunks of at most 1 GiB: zlib's avail_in and
/// avail_out are 32 bits (a 4 GiB window cast to uInt was 0, and the loop never ended).
std::vector<unsigned char> inflate_bounded(const std::vector<unsigned char>& raw, std::size_t max_bytes,
                                           const std::string& path, const char* op) {
  constexpr std::size_t kChunk = std::size_t(1) << 30;
  const std::size_t cap = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(op, ": zlib could not start inflating ", path);
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  std::vector<unsigned char> out;
  std::size_t produced = 0, consumed = 0;
  try {
    for (;;) {
      if (zs.avail_in == 0 && consumed < raw.size()) {
        zs.next_in = const_cast<unsigned char*>(raw.data() + consumed);
        zs.avail_in = static_cast<uInt>(std::min(raw.size() - consumed, kChunk));
        consumed += zs.avail_in;
      }
      if (produced == out.size()) {
        if (out.size() >= cap) break;  // over the limit: the caller reports it
        out.resize(out.size() + std::min({std::max<std::size_t>(out.size(), 65536), kChunk, cap - out.size()}));
      }
      zs.next_out = out.data() + produced;
      zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kChunk));
      const uInt room = zs.avail_out;
      const int rc = inflate(&zs, Z_NO_FLUSH);
      produced += room - zs.avail_out;
      if (rc == Z_STREAM_END) {
        // Another member may follow (`cat a.gz b.gz` is a valid gzip file); anything else after
        // the stream is ignored, as gzip(1) does with trailing zeros.
        if (zs.avail_in == 0 && consumed < raw.size()) continue;  // refill, then look again
        if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
          if (inflateReset(&zs) != Z_OK) fail(op, ": ", path, ": zlib could not restart inflating");
          continue;
        }
        break;
      }
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && consumed == raw.size())
        fail(op, ": ", path, ": truncated gzip stream (ended after ", produced, " decompressed bytes)");
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        fail(op, ": ", path, ": corrupt gzip stream (", zs.msg ? zs.msg : "error " + std::to_string(rc), ")");
    }
  } catch (const std::bad_alloc&) {
    fail(op, ": ", path, ": decompressing needs more than ", out.size(), " bytes, which could not be allocated");
  }
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<unsigned char> gunzip_if_gzip(std::vector<unsigned char> raw, const std::string& path, const char* op,
                                          std::size_t max_bytes) {
  if (!is_gzip(raw)) return raw;
  std::vector<unsigned char> out = inflate_bounded(raw, max_bytes, path, op);
  if (out.size() > max_bytes)
    fail(op, ": ", path, ": decompresses to more than ", max_bytes, " bytes, the most this reader accepts");
  return out;
}

std::vector<unsigned char> gunzip_prefix(const std::vector<unsigned char>& raw, std::size_t n, const std::string& path,
                                         const char* op) {
  if (!is_gzip(raw))
    return std::vector<unsigned char>(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(std::min(n, raw.size())));
  std::vector<unsigned char> out = inflate_bounded(raw, n, path, op);
  if (out.size() > n) out.resize(n);
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

namespace {

/// Test hook: with TAPEGRAD_TEST_KILL_AT_WRITE_STEP=N in the environment, the process SIGKILLs
/// itself on entering the Nth step (counted over all calls) of
/// write_file_atomically (create, each write, fsync, rename, directory fsync), so a test can stop
/// a program between any two of its file operations rather than at random times. Read once; 0 or
/// unset does nothing.
void write_step() {
  static const long target = [] {
    const char* v = std::getenv("TAPEGRAD_TEST_KILL_AT_WRITE_STEP");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  static std::atomic<long> steps{0};
  if (target > 0 && ++steps == target) ::kill(::getpid(), SIGKILL);
}

/// fsyncs the directory holding path, so that a rename into it survives a power loss (the rename
/// changes the directory, not the file: without this the new name can be lost although the
/// file's data were flushed). EINVAL (and ENOTSUP) mean the filesystem cannot sync a directory
/// (some FUSE and network filesystems); the rename is then as durable as that filesystem makes
/// it, and there is nothing more to do, so those are not errors.
void sync_directory_of(const std::string& path, const char* op) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail(op, ": ", path, " was written, but its directory ", dir,
         " could not be opened to flush the rename: ", std::strerror(errno));
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP;
  const int sync_errno = errno;
  ::close(fd);
  if (!synced)
    fail(op, ": ", path, " was written, but flushing its directory ", dir, " failed: ", std::strerror(sync_errno));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes, const char* op) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  write_step();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(op, ": cannot create ", tmp, ": ", std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    write_step();
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
  write_step();
  // close() even when fsync() fails, or the descriptor leaks; the first error is reported.
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const std::string reason = std::strerror(synced ? errno : sync_errno);
    ::unlink(tmp.c_str());
    fail(op, ": flushing ", tmp, " failed: ", reason);
  }
  write_step();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(op, ": cannot rename ", tmp, " to ", path, ": ", reason);
  }
  write_step();
  sync_directory_of(path, op);
}

void write_file_atomically(const std::string& path, const std::string& text, const char* op) {
  write_file_atomically(path, std::vector<unsigned char>(text.begin(), text.end()), op);
}

}  // namespace tg
