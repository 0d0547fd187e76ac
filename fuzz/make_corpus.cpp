// Writes the seed corpora, one directory per target under the directory given (fuzz/run.sh uses
// build/fuzz/seeds): small valid inputs of every kind each reader accepts, and a few hostile ones
// (gzip and deflate bombs just past the targets' limits). Generated at run time rather than
// committed; run from the repository root (it copies two NumPy-written files from tests/data):
//   build/fuzz/fuzz/make_corpus build/fuzz/seeds
#include <cstdint>
#include <cstdlib>
#include <iostream>
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

std::vector<unsigned char> concat(std::vector<unsigned char> a, const std::vector<unsigned char>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void gzip_corpus(const fs::path& dir) {
  const std::vector<unsigned char> text{'h', 'e', 'l', 'l', 'o', '\n'};
  write(dir / "one_member.gz", gzip_bytes(text));
  write(dir / "two_members.gz", concat(gzip_bytes(text), gzip_bytes({'w', 'o', 'r', 'l', 'd'})));
  write(dir / "trailing_zeros.gz", concat(gzip_bytes(text), std::vector<unsigned char>(8, 0)));
  write(dir / "empty_member.gz", concat(gzip_bytes({}), gzip_bytes(text)));
  write(dir / "not_gzip", text);
  // Zeros compress about 1000:1: 3 MiB stays under fuzz_gzip's 4 MiB limit, 5 MiB goes past it,
  // and so do two members of 3 MiB each.
  const std::vector<unsigned char> three_mib(std::size_t(3) << 20, 0), five_mib(std::size_t(5) << 20, 0);
  write(dir / "zeros_3mib.gz", gzip_bytes(three_mib));
  write(dir / "bomb_5mib.gz", gzip_bytes(five_mib));
  write(dir / "bomb_two_members.gz", concat(gzip_bytes(three_mib), gzip_bytes(three_mib)));
}

void npz_corpus(const fs::path& dir, const fs::path& checkpoints) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(checkpoints))
    fs::copy_file(entry.path(), dir / entry.path().filename(), fs::copy_options::overwrite_existing);
  // Deflated arrays of zeros: 8 MiB stays under fuzz_npz's 16 MiB limit, 24 MiB goes past it.
  nn::save_tensors((dir / "zeros_8mib.npz").string(), {{"z", zeros({std::size_t(1) << 20}, kFloat64)}}, true);
  nn::save_tensors((dir / "bomb_24mib.npz").string(), {{"z", zeros({std::size_t(3) << 20}, kFloat64)}}, true);
  nn::save_tensors((dir / "names_and_shapes.npz").string(),
                   {{"a.b", ones({2, 3})}, {"x", zeros({0})}, {"s", tensor(2.5, kFloat64)}});
}

void resume_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  Generator gen(1);
  nn::MLP model({3, 2, 1}, nn::Tanh(), nn::MLPOptions{0.0, true}, &gen);
  optim::Adam adam(model.parameters(), optim::AdamOptions(0.01));
  const Tensor x = ones({2, 3});
  training::MetricsLog log({"epoch", "train_loss", "test_accuracy"});
  for (int epoch = 1; epoch <= 2; ++epoch) {
    adam.zero_grad();
    sum(model(x) * model(x)).backward();
    adam.step();
    log.append({static_cast<double>(epoch), 1.0 / epoch, 0.5 + 0.1 * epoch});
    const training::CheckpointInfo info{{"epoch", epoch}, {"seed", 1}, {"lr", 0.01}};
    const std::string name = "epoch_" + std::to_string(epoch);
    training::save_checkpoint((dir / (name + ".npz")).string(), model, adam, info, &log);
    training::save_checkpoint((dir / (name + "_no_metrics.npz")).string(), model, adam, info);
  }
  model.save((dir / "weights_only.npz").string());
}

/// fuzz_optim_state reads its choices from the end of the input (FuzzedDataProvider): the last
/// byte picks the optimizer, the one before the scheduler, the one before that the dtype; with
/// nothing more there are no edits, so each seed loads a genuine state dict.
void optim_state_corpus(const fs::path& dir) {
  for (int optimizer = 0; optimizer < 9; ++optimizer)
    for (int scheduler = 0; scheduler < 9; ++scheduler)
      for (int dtype = 0; dtype < 2; ++dtype)
        write(dir / ("o" + std::to_string(optimizer) + "_s" + std::to_string(scheduler) + "_d" + std::to_string(dtype)),
              std::vector<unsigned char>{static_cast<unsigned char>(dtype), static_cast<unsigned char>(scheduler),
                                         static_cast<unsigned char>(optimizer)});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus <output directory>  (run from the repository root)\n";
    return 2;
  }
  const fs::path root = argv[1];
  idx_corpus(root / "fuzz_idx");
  csv_corpus(root / "fuzz_csv");
  checkpoint_corpus(root / "fuzz_checkpoint");
  gzip_corpus(root / "fuzz_gzip");
  npz_corpus(root / "fuzz_npz", root / "fuzz_checkpoint");
  resume_corpus(root / "fuzz_resume");
  optim_state_corpus(root / "fuzz_optim_state");
  return 0;
}
