/// \file
/// Small file helpers shared by every component that reads or writes files.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tg {

/// Whole file as bytes; tg::Error "<op>: cannot open <path>: <reason>" when unreadable.
std::vector<unsigned char> read_file(const std::string& path, const char* op);
/// Whole file as bytes, gunzipped first if it starts with the gzip magic bytes (1f 8b). A corrupt
/// or truncated gzip stream raises tg::Error naming the file.
std::vector<unsigned char> read_maybe_gzip(const std::string& path, const char* op);
/// The most bytes gunzip_if_gzip() inflates unless told otherwise (16 GiB): generous for data
/// sets, but a small file cannot make it fill memory.
inline constexpr std::size_t kMaxGunzipBytes = std::size_t(1) << 34;
/// bytes gunzipped if they start with the gzip magic bytes, else unchanged; a corrupt or truncated
/// gzip stream raises tg::Error "<op>: <source>: ...", and so does one that inflates to more than
/// max_bytes (it stops there, in bounded chunks). Several gzip members in a row are concatenated.
std::vector<unsigned char> gunzip_if_gzip(std::vector<unsigned char> bytes, const std::string& source, const char* op,
                                          std::size_t max_bytes = kMaxGunzipBytes);
/// The first n bytes of gunzip_if_gzip(bytes), inflating no more (e.g. a header, before the size
/// it declares bounds the rest); fewer when the data are shorter.
std::vector<unsigned char> gunzip_prefix(const std::vector<unsigned char>& bytes, std::size_t n,
                                         const std::string& source, const char* op);
/// gzip-compresses bytes (gzip container, so `gunzip` and read_maybe_gzip read it).
std::vector<unsigned char> gzip_bytes(const std::vector<unsigned char>& bytes);
/// Writes bytes so that readers see either the old file or the complete new one: writes
/// path.tmp.PID (PID: the process id) in the same directory, flushes it to disk (fsync), renames
/// it over path, then flushes the directory (fsync), so that the rename too survives a power loss.
/// For crash tests, TAPEGRAD_TEST_KILL_AT_WRITE_STEP=N makes the process SIGKILL itself on
/// entering the Nth of these steps (create, each write, fsync, rename, directory fsync), counted
/// over the process.
///@{
void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes, const char* op);
void write_file_atomically(const std::string& path, const std::string& text, const char* op);
///@}

}  // namespace tg
