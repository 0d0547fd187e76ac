// save_tensors / load_tensors (atomic .npz files) and Module::save / Module::load.
#include "tapegrad/nn/serialize.hpp"

#include <vector>

#include "npz.hpp"
#include "tapegrad/file_io.hpp"
#include "tapegrad/nn/module.hpp"

namespace tg::nn {

namespace {

std::string quoted(const std::string& path) { return "'" + path + "'"; }

}  // namespace

void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors, bool compress) {
  const std::string where = "save_tensors: " + quoted(path);
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail(where, ": an entry has an empty name");
    if (!t.defined()) fail(where, ": entry '", name, "' is an undefined tensor");
  }
  std::vector<unsigned char> archive;
  detail::ZipWriter zip([&](const char* data, std::size_t size) { archive.insert(archive.end(), data, data + size); },
                        where);
  for (const auto& [name, t] : tensors) zip.add(name + ".npy", detail::encode_npy(t), compress);
  zip.finish();
  write_file_atomically(path, archive, "save_tensors");
}

std::map<std::string, Tensor> load_tensors(const std::string& path, std::size_t max_bytes) {
  // read_file refuses directories and turns allocation failure into tg::Error.
  const std::vector<unsigned char> bytes = read_file(path, "load_tensors");
  return load_tensors_bytes(std::string(bytes.begin(), bytes.end()), path, max_bytes);
}

std::map<std::string, Tensor> load_tensors_bytes(const std::string& archive, const std::string& path,
                                                 std::size_t max_bytes) {
  const std::string where = "load_tensors: " + quoted(path);
  std::map<std::string, Tensor> tensors;
  for (const auto& entry : detail::read_zip(archive, where, max_bytes)) {
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
