// Writes the seed corpus in fuzz/corpus/: small valid inputs of every kind each reader accepts.
// Run from the repository root: build/fuzz/fuzz/make_corpus (fuzz/build.sh builds it).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace fs = std::filesystem;
using namespace tg;

namespace {

void write(const fs::path& path, const std::vector<unsigned char>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                             static_cast<std::streamsize>(bytes.size()));
}
void write(const fs::path& path, const std::string& text) { write(path, std::vector<unsigned char>(text.begin(), text.end())); }

/// An IDX file of the given type code whose values are the big-endian bytes given.
std::vector<unsigned char> idx(std::uint8_t type, const std::vector<std::uint32_t>& shape,
                               const std::vector<unsigned char>& payload) {
  std::vector<unsigned char> b{0, 0, type, static_cast<unsigned char>(shape.size())};
  for (std::uint32_t d : shape)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>((d >> s) & 0xff));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void idx_corpus(const fs::path& dir) {
  std::vector<unsigned char> pixels;
  for (int i = 0; i < 2 * 3 * 3; ++i) pixels.push_back(static_cast<unsigned char>(i * 14));
  write(dir / "images_ubyte", idx(0x08, {2, 3, 3}, pixels));
  write(dir / "images_ubyte.gz", gzip_bytes(idx(0x08, {2, 3, 3}, pixels)));
  write(dir / "labels_ubyte", idx(0x08, {5}, {0, 1, 9, 3, 1}));
  write(dir / "sbyte", idx(0x09, {3}, {0x80, 0x00, 0x7f}));
  write(dir / "int16", idx(0x0B, {2}, {0xff, 0xfe, 0x01, 0x00}));
  write(dir / "int32", idx(0x0C, {1, 2}, {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe}));
  write(dir / "float32", idx(0x0D, {2}, {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0}));             // 1, -2.5
  write(dir / "float64", idx(0x0E, {1}, {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}));  // 0.1
  write(dir / "empty_axis", idx(0x08, {0, 4}, {}));
}

void csv_corpus(const fs::path& dir) {
  write(dir / "iris.csv",
        "sepal_length,sepal_width,petal_length,petal_width,species\n"
        "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n");
  write(dir / "int_labels.csv", "label,x,y\n2,0.5,-1e-3\n0,1.5,2E+2\n1,-0,.25\n");
  write(dir / "crlf_quoted.csv", "\"a\",\"b\",\"label\"\r\n\r\n 1 , 2 ,\"yes\"\r\n3,4,no\r\n");
  write(dir / "one_row.csv", "x,label\n42,7\n");
}

void checkpoint_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  Generator gen(1);
  nn::MLP model({3, 2, 1}, nn::Tanh(), nn::MLPOptions{0.0, true}, &gen);
  const Tensor x = ones({2, 3});
  auto run = [&](optim::Optimizer& opt, const std::string& name, bool needs_closure, bool also_deflated) {
    auto closure = [&] {
      opt.zero_grad();
      Tensor loss = sum(model(x) * model(x));
      loss.backward();
      return loss;
    };
    for (int i = 0; i < 2; ++i) {
      if (needs_closure) {
        opt.step(closure);
      } else {
        closure();
        opt.step();
      }
    }
    auto state = nn::with_prefix("model.", model.state_dict());
    const auto o = nn::with_prefix("optim.", opt.state_dict());
    state.insert(o.begin(), o.end());
    nn::save_tensors((dir / (name + ".npz")).string(), state);
    if (also_deflated) nn::save_tensors((dir / (name + "_deflated.npz")).string(), state, /*compress=*/true);
  };
  optim::Adam adam(model.parameters(), optim::AdamOptions(0.01).amsgrad(true));
  run(adam, "adam", false, true);
  optim::SGD sgd(model.parameters(), optim::SGDOptions(0.01).momentum(0.9));
  run(sgd, "sgd", false, false);
  optim::LBFGS lbfgs(model.parameters(), optim::LBFGSOptions(0.1).max_iter(2).history_size(2));
  run(lbfgs, "lbfgs", true, false);
  nn::save_tensors((dir / "dtypes.npz").string(),
                   {{"f32", ones({2})}, {"f64", ones({}, kFloat64)}, {"i64", Tensor(xt::xarray<std::int64_t>{-1, 5})},
                    {"b", Tensor(xt::xarray<bool>{true, false})}, {"empty", zeros({0, 2})}});
  for (const char* numpy_file : {"numpy_savez.npz", "numpy_savez_compressed.npz"})
    fs::copy_file(fs::path("tests/data") / numpy_file, dir / numpy_file, fs::copy_options::overwrite_existing);
}

}  // namespace

int main() {
  const fs::path root = "fuzz/corpus";
  idx_corpus(root / "fuzz_idx");
  csv_corpus(root / "fuzz_csv");
  checkpoint_corpus(root / "fuzz_checkpoint");
  return 0;
}
