// save_tensors / load_tensors (atomic .npz files) and Module::save / Module::load.
#include "tapegrad/nn/serialize.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npz.hpp"
#include "tapegrad/nn/module.hpp"

namespace tg::nn {

namespace {

std::string quoted(const std::string& path) { return "'" + path + "'"; }

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Writes through write(2), retrying on short writes and EINTR.
void write_all(int fd, const char* data, std::size_t size, const std::string& where) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(where, ": write failed: ", std::strerror(errno));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

/// Runs write_contents(fd) on a temporary file beside path, then fsyncs and renames it over
/// path; on any failure the temporary file is removed and the error rethrown.
template <class WriteContents>
void write_atomically(const std::string& path, const std::string& where, WriteContents write_contents) {
  std::string tmp = path + ".tmp.XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) fail(where, ": cannot create a temporary file in ", quoted(directory_of(path)), ": ", std::strerror(errno));
  tmp = name.data();
  bool open = true;
  try {
    (void)::fchmod(fd, 0644);  // mkstemp creates 0600; a checkpoint is an ordinary file
    write_contents(fd);
    if (::fsync(fd) != 0) fail(where, ": fsync failed: ", std::strerror(errno));
    open = false;
    if (::close(fd) != 0) fail(where, ": close failed: ", std::strerror(errno));
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(where, ": cannot rename the temporary file into place: ", std::strerror(err));
  }
  // Make the rename itself durable.
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace

void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors, bool compress) {
  const std::string where = "save_tensors: " + quoted(path);
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail(where, ": an entry has an empty name");
    if (!t.defined()) fail(where, ": entry '", name, "' is an undefined tensor");
  }
  write_atomically(path, where, [&](int fd) {
    detail::ZipWriter zip([&](const char* data, std::size_t size) { write_all(fd, data, size, where); }, where);
    for (const auto& [name, t] : tensors) zip.add(name + ".npy", detail::encode_npy(t), compress);
    zip.finish();
  });
}

std::map<std::string, Tensor> load_tensors(const std::string& path) {
  const std::string where = "load_tensors: " + quoted(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(where, ": cannot open the file: ", std::strerror(errno));
  const std::string archive((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(where, ": read error");

  std::map<std::string, Tensor> tensors;
  for (const auto& entry : detail::read_zip(archive, where)) {
    const std::string entry_where = where + ": entry '" + entry.name + "'";
    const std::string suffix = ".npy";
    if (entry.name.size() <= suffix.size() ||
        entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      fail(entry_where, " is not a .npy array");
    const std::string name = entry.name.substr(0, entry.name.size() - suffix.size());
    if (tensors.count(name)) fail(entry_where, " appears twice");
    tensors.emplace(name, detail::decode_npy(entry.data, entry_where));
  }
  return tensors;
}

std::map<std::string, Tensor> with_prefix(const std::string& prefix, const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors) out.emplace(prefix + name, t);
  return out;
}

std::map<std::string, Tensor> strip_prefix(const std::string& prefix, const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace(name.substr(prefix.size()), t);
  return out;
}

// ---- Module::save / Module::load ---------------------------------------------------------------

void Module::save(const std::string& path) const { save_tensors(path, state_dict()); }

LoadResult Module::load(const std::string& path, bool strict) {
  const auto tensors = load_tensors(path);
  try {
    return load_state_dict(tensors, strict);
  } catch (const Error& e) {
    fail("load: ", quoted(path), ": ", e.what());
  }
}

}  // namespace tg::nn
