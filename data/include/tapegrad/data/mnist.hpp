/// \file
/// MNIST and Fashion-MNIST from their IDX files.
#pragma once

#include <string>

#include "tapegrad/data/dataset.hpp"

namespace tg::data {

/// Where the fetch script puts MNIST (relative to the repository root) and where Debian's
/// dataset-fashion-mnist package installs Fashion-MNIST.
///@{
inline constexpr const char* kDefaultMnistDir = "datasets/mnist";
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";
///@}

/// Images flattened to (N, 784) and scaled to [0, 1] (dtype as asked), labels int64 (N).
struct MnistSplit {
  Tensor images;  ///< (N, 784), values in [0, 1]
  Tensor labels;  ///< (N), int64 digits 0..9
  /// images and labels as a dataset (sharing the tensors).
  TensorDataset dataset() const { return TensorDataset(images, labels); }
};

/// Reads `train` (60,000 images) or `test` (10,000) from dir, which holds the four IDX files
/// (train-images-idx3-ubyte, ... or the Fashion-MNIST names train-images-idx3-ubyte.gz, ...).
/// A missing folder or file raises tg::Error that names it and the command that fetches it.
MnistSplit load_mnist(const std::string& dir, const std::string& split, DType dtype = kFloat32);

}  // namespace tg::data
