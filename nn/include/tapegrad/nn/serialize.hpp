/// \file
/// Saving and loading named tensors as NumPy .npz archives.
///
/// A file written here opens with numpy.load: `np.load("model.npz")["layers.0.weight"]`. Each
/// tensor is one "<name>.npy" entry (float32 '<f4', float64 '<f8', int64 '<i8', bool '|b1', C
/// order) in a zip archive, stored uncompressed by default (as numpy.savez) or deflated (as
/// numpy.savez_compressed). Files from numpy.savez / savez_compressed load back.
///
/// Writes are atomic (tg::write_file_atomically): the archive is built in memory, written to a
/// temporary file "<path>.tmp.<pid>" in the same directory, fsync'ed and renamed over path, so a
/// crash mid-save leaves the previous file untouched (and, at worst, a stray temporary file).
///
/// A model and its optimizer state share one file through name prefixes:
/// \code{.cpp}
///   auto state = nn::with_prefix("model.", model->state_dict());
///   auto opt = nn::with_prefix("optim.", optimizer.state_dict());
///   state.insert(opt.begin(), opt.end());
///   nn::save_tensors("ckpt.npz", state);
///   model->load_state_dict(nn::strip_prefix("model.", nn::load_tensors("ckpt.npz")));
/// \endcode
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "tapegrad/tensor.hpp"

namespace tg::nn {

/// Writes the tensors (values only, not gradients) to path as a .npz archive, atomically.
/// compress deflates every entry. Throws tg::Error naming the file if it cannot be written, or
/// naming the entry if a tensor is undefined or an archive would exceed the zip limits (4 GiB,
/// 65535 entries: zip64 is not written).
void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors, bool compress = false);

/// The most uncompressed bytes load_tensors() accepts from one archive unless told otherwise
/// (16 GiB, as for gzip): generous for checkpoints, but a small file cannot make it fill memory.
inline constexpr std::size_t kMaxNpzBytes = std::size_t(1) << 34;

/// Reads a .npz archive into leaf tensors without grad, keyed by entry name without ".npy".
/// Reads stored and deflated entries, zip64 sizes, and .npy versions 1-3 in C or Fortran order.
/// Throws tg::Error naming the file and what is wrong: missing or unreadable file, not a zip,
/// truncated, CRC-32 mismatch, corrupted deflate data, an entry that is not a .npy array, a
/// dtype other than float32/float64/int64/bool, or data whose size does not match its shape.
/// Declared sizes are not trusted: local headers must agree with the central directory, entries
/// may not share bytes or appear twice, their uncompressed sizes may add up to at most
/// max_bytes, and inflating stops as soon as an entry yields more than it declared.
std::map<std::string, Tensor> load_tensors(const std::string& path, std::size_t max_bytes = kMaxNpzBytes);
/// load_tensors() of an archive held in memory; `source` stands for the file name in messages.
std::map<std::string, Tensor> load_tensors_bytes(const std::string& archive, const std::string& source = "<memory>",
                                                 std::size_t max_bytes = kMaxNpzBytes);

/// Every entry of tensors under "prefix + name".
std::map<std::string, Tensor> with_prefix(const std::string& prefix, const std::map<std::string, Tensor>& tensors);
/// The entries whose name starts with prefix, with the prefix removed (others are left out).
std::map<std::string, Tensor> strip_prefix(const std::string& prefix, const std::map<std::string, Tensor>& tensors);

}  // namespace tg::nn
