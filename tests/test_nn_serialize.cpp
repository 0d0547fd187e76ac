// save_tensors / load_tensors and Module::save / load: bit-exact round trips, NumPy
// interoperability, the documented errors on mismatched or damaged files, and atomic writes
// (a process killed mid-save leaves the previous checkpoint intact).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "nn_testing.hpp"
#include "python.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"
#include "tensor_impl.hpp"
#include "temp_files.hpp"

using namespace tg;
namespace fs = std::filesystem;

namespace {

using tg::testing::python_with_numpy;
using tg::testing::read_bytes;
using tg::testing::TempDir;
using tg::testing::write_bytes;

/// True when a and b have the same dtype, shape and bytes (NaN payloads and -0.0 included).
bool bit_identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return std::visit(
      [&](const auto& va) {
        using T = typename std::decay_t<decltype(va)>::value_type;
        const auto& vb = b.value<T>();
        if constexpr (std::is_same_v<T, bool>) {
          return std::equal(va.begin(), va.end(), vb.begin());
        } else {
          // (an empty array's data() may be null, and memcmp(nullptr, ...) is undefined)
          return va.size() == 0 || std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
        }
      },
      a.impl()->value);
}

std::map<std::string, Tensor> awkward_tensors() {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, Tensor> t;
  t["f64"] = Tensor(xt::xarray<double>{{0.1, -0.0, 5e-324}, {inf, -inf, nan}});
  t["f32"] = Tensor(xt::xarray<float>{1.0f / 3.0f, std::numeric_limits<float>::max(), -1e-45f});
  t["i64"] = Tensor(xt::xarray<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0, 1LL << 40});
  t["mask"] = Tensor(xt::xarray<bool>{{true, false}, {false, true}});
  t["scalar"] = tensor(3.25, kFloat64);
  t["empty"] = zeros({0, 3}, kFloat64);
  t["cube"] = arange(0, 24, 1, kFloat64).reshape({2, 3, 4});
  t["layers.0.weight"] = ones({2, 2});  // dotted names are fine in a zip
  return t;
}

std::string fixture(const std::string& name) { return std::string(TAPEGRAD_SOURCE_DIR) + "/tests/data/" + name; }

}  // namespace

TEST_CASE("serialize: save_tensors and load_tensors round-trip bit-exactly") {
  TempDir dir;
  const auto tensors = awkward_tensors();
  for (bool compress : {false, true}) {
    const std::string path = dir.file(compress ? "deflated.npz" : "stored.npz");
    nn::save_tensors(path, tensors, compress);
    const auto back = nn::load_tensors(path);
    REQUIRE(back.size() == tensors.size());
    for (const auto& [name, t] : tensors) {
      INFO(name << (compress ? " (deflated)" : " (stored)"));
      REQUIRE(back.count(name));
      CHECK(bit_identical(back.at(name), t));
      CHECK(back.at(name).is_leaf());
      CHECK(!back.at(name).requires_grad());
    }
  }
  // Only the archives are left: no temporary files.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path)) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"deflated.npz", "stored.npz"});
  // Saving twice gives the same bytes (fixed timestamps), so checkpoints can be compared.
  nn::save_tensors(dir.file("again.npz"), tensors);
  CHECK(read_bytes(dir.file("again.npz")) == read_bytes(dir.file("stored.npz")));
}

TEST_CASE("serialize: files written by numpy.savez and savez_compressed load") {
  // Made with numpy 1.24 (numpy.savez writes zip64 extras in its local headers):
  //   w = np.asfortranarray([[1.5, -2.25, 3.0], [0.125, 1e-300, -0.0]])
  //   np.savez(f, w=w, idx=np.array([3, -1, 2**40]), flag=np.array(True),
  //            half=np.array([0.5, -1.5], dtype=np.float32))        # and np.savez_compressed
  for (const std::string name : {"numpy_savez.npz", "numpy_savez_compressed.npz"}) {
    INFO(name);
    const auto t = nn::load_tensors(fixture(name));
    REQUIRE(t.size() == 4);
    CHECK(bit_identical(t.at("w"), Tensor(xt::xarray<double>{{1.5, -2.25, 3.0}, {0.125, 1e-300, -0.0}})));
    CHECK(bit_identical(t.at("idx"), Tensor(xt::xarray<std::int64_t>{3, -1, 1LL << 40})));
    CHECK(bit_identical(t.at("flag"), Tensor(xt::xarray<bool>(true))));
    CHECK(bit_identical(t.at("half"), Tensor(xt::xarray<float>{0.5f, -1.5f})));
  }
}

TEST_CASE("serialize: numpy.load reads what save_tensors writes") {
  const std::string py = python_with_numpy();
  if (py.empty()) {
    WARN("SKIPPED: no python3 with numpy found (set TAPEGRAD_PYTHON); the committed numpy-written files are "
         "still checked by the previous test");
    return;
  }
  TempDir dir;
  std::map<std::string, Tensor> t;
  t["layers.0.weight"] = arange(0, 12, 1, kFloat64).reshape({3, 4}) / 7.0;
  t["half"] = arange(0, 5, 1, kFloat32) * 0.5;
  t["count"] = Tensor(xt::xarray<std::int64_t>{-3, 0, 1LL << 40});
  t["mask"] = Tensor(xt::xarray<bool>{true, false, true});
  t["scalar"] = tensor(3.25, kFloat64);
  for (bool compress : {false, true}) {
    const std::string path = dir.file("ours.npz");
    nn::save_tensors(path, t, compress);
    const std::string script = dir.file("check.py");
    write_bytes(script,
                "import sys, numpy as np\n"
                "z = np.load(sys.argv[1])\n"
                "assert sorted(z.files) == ['count', 'half', 'layers.0.weight', 'mask', 'scalar'], z.files\n"
                "w = z['layers.0.weight']\n"
                "assert w.dtype == np.float64 and w.shape == (3, 4)\n"
                "assert (w == np.arange(12).reshape(3, 4) / 7.0).all()\n"
                "h = z['half']\n"
                "assert h.dtype == np.float32 and (h == np.arange(5, dtype=np.float32) * np.float32(0.5)).all()\n"
                "c = z['count']\n"
                "assert c.dtype == np.int64 and c.tolist() == [-3, 0, 2**40]\n"
                "m = z['mask']\n"
                "assert m.dtype == np.bool_ and m.tolist() == [True, False, True]\n"
                "s = z['scalar']\n"
                "assert s.shape == () and s == 3.25\n");
    INFO("python: " << py << (compress ? " (deflated)" : " (stored)"));
    CHECK(std::system((py + " " + script + " " + path).c_str()) == 0);
  }
}

TEST_CASE("serialize: Module::save and load restore parameters and buffers exactly") {
  TempDir dir;
  Generator g1(1), g2(2);
  nn::MLP a({4, 6, 3}, nn::Tanh(), nn::MLPOptions{0.0, true}, &g1);
  a.to(kFloat64);
  std::mt19937_64 gen(3);
  a(Tensor(tg::testing::random_array(gen, {8, 4})));  // moves the BatchNorm statistics
  const std::string path = dir.file("mlp.npz");
  a.save(path);

  nn::MLP b({4, 6, 3}, nn::Tanh(), nn::MLPOptions{0.0, true}, &g2);
  b.to(kFloat64);
  const auto result = b.load(path);
  CHECK(result.missing_keys.empty());
  CHECK(result.unexpected_keys.empty());
  const auto sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (const auto& [name, t] : sa) {
    INFO(name);
    CHECK(bit_identical(sb.at(name), t));
  }
  CHECK(b.layers->at<nn::BatchNorm1d>(1)->num_batches_tracked.item<std::int64_t>() == 1);
  a.eval();
  b.eval();
  const Tensor x = ones({2, 4}, kFloat64);
  CHECK(bit_identical(a(x), b(x)));

  // Model and optimizer state in one file, told apart by prefixes.
  std::map<std::string, Tensor> optimizer_state{{"state.0.momentum_buffer", ones({6, 4}, kFloat64)},
                                                {"step", tensor(3.0, kFloat64)}};
  auto everything = nn::with_prefix("model.", a.state_dict());
  const auto opt = nn::with_prefix("optim.", optimizer_state);
  everything.insert(opt.begin(), opt.end());
  nn::save_tensors(dir.file("ckpt.npz"), everything);
  const auto loaded = nn::load_tensors(dir.file("ckpt.npz"));
  b.load_state_dict(nn::strip_prefix("model.", loaded));
  const auto opt_back = nn::strip_prefix("optim.", loaded);
  CHECK(opt_back.size() == 2);
  CHECK(bit_identical(opt_back.at("step"), optimizer_state.at("step")));
}

TEST_CASE("serialize: a mismatched load names the offending entry and the file") {
  TempDir dir;
  nn::MLP small({4, 8, 3}), other({4, 6, 3}), with_bn({4, 8, 3}, nn::ReLU(), nn::MLPOptions{0.0, true});
  const std::string path = dir.file("small.npz");
  small.save(path);

  CHECK_THROWS_WITH(other.load(path), Catch::Contains(path) && Catch::Contains("'layers.0.weight'") &&
                                          Catch::Contains("shape (8,4) but the model's is (6,4)") &&
                                          Catch::Contains("'layers.0.bias' has shape (8) but the model's is (6)"));
  // with_bn has a BatchNorm1d at index 1, so its Linear layers sit at 0 and 3.
  CHECK_THROWS_WITH(with_bn.load(path), Catch::Contains(path) && Catch::Contains("missing") &&
                                            Catch::Contains("'layers.1.running_mean'") &&
                                            Catch::Contains("unexpected") && Catch::Contains("'layers.2.weight'"));
  nn::MLP f64({4, 8, 3});
  f64.to(kFloat64);
  CHECK_THROWS_WITH(f64.load(path), Catch::Contains("dtype float32 but the model's is float64"));

  // Non-strict: the matching entries load, the rest is reported.
  nn::MLP target({4, 8, 3});
  nn::save_tensors(dir.file("partial.npz"), {{"layers.0.weight", small.layers->at<nn::Linear>(0)->weight},
                                             {"extra", ones({1})}});
  const auto r = target.load(dir.file("partial.npz"), /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"layers.0.bias", "layers.2.bias", "layers.2.weight"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"extra"});
  CHECK(bit_identical(target.layers->at<nn::Linear>(0)->weight, small.layers->at<nn::Linear>(0)->weight));
}

TEST_CASE("serialize: damaged files raise tg::Error naming the file and the problem") {
  TempDir dir;
  const std::string good = dir.file("good.npz");
  nn::save_tensors(good, {{"w", arange(0, 64, 1, kFloat64)}});
  const std::string bytes = read_bytes(good);
  const std::string bad = dir.file("bad.npz");

  SECTION("missing file") {
    CHECK_THROWS_WITH(nn::load_tensors(dir.file("nope.npz")), Catch::Contains("nope.npz") &&
                                                                   Catch::Contains("cannot open"));
  }
  SECTION("empty and tiny files") {
    write_bytes(bad, "");
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("only 0 bytes"));
  }
  SECTION("not a zip") {
    write_bytes(bad, std::string(200, 'x'));
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("not a .npz (zip) file"));
  }
  SECTION("truncated") {
    for (std::size_t keep : {bytes.size() / 2, bytes.size() - 1, std::size_t(30)}) {
      write_bytes(bad, bytes.substr(0, keep));
      INFO("kept " << keep << " of " << bytes.size() << " bytes");
      CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("truncated"));
    }
  }
  SECTION("a flipped data byte fails the CRC-32 check") {
    std::string damaged = bytes;
    damaged[bytes.size() / 2] ^= 0x10;
    write_bytes(bad, damaged);
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("entry 'w.npy'") &&
                                                 Catch::Contains("CRC-32 mismatch"));
  }
  SECTION("corrupted deflate data") {
    nn::save_tensors(good, {{"w", arange(0, 64, 1, kFloat64)}}, /*compress=*/true);
    std::string damaged = read_bytes(good);
    for (std::size_t i = 60; i < 70; ++i) damaged[i] = static_cast<char>(0xff);
    write_bytes(bad, damaged);
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("entry 'w.npy'") &&
                                                 (Catch::Contains("deflate") || Catch::Contains("CRC-32")));
  }
  SECTION("a declared size deflate cannot reach is refused before allocating it") {
    // Found by fuzz_checkpoint: an 8 KB file declaring a 4 GB entry made load_tensors allocate
    // 4 GB (std::bad_alloc on a small machine) before inflating a byte.
    nn::save_tensors(good, {{"w", arange(0, 64, 1, kFloat64)}}, /*compress=*/true);
    std::string damaged = read_bytes(good);
    const std::size_t central = damaged.rfind(std::string("\x50\x4b\x01\x02", 4));
    REQUIRE(central != std::string::npos);
    for (std::size_t pos : {std::size_t(22), central + 24})  // uncompressed size: local header, central record
      for (int b = 0; b < 4; ++b) damaged[pos + static_cast<std::size_t>(b)] = b == 3 ? '\xf0' : '\0';
    write_bytes(bad, damaged);
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("entry 'w.npy'") &&
                                                 Catch::Contains("cannot inflate to the declared 4026531840 bytes"));
  }
  SECTION("a valid zip whose .npy header is wrong") {
    // Rewrite the header in place and fix the CRC-32 (local header at 14, central record at 16)
    // so that the zip layer accepts it and the .npy parser has to object.
    auto patch = [&](const std::string& from, const std::string& to) {
      std::string damaged = bytes;
      const auto at = damaged.find(from);
      REQUIRE(at != std::string::npos);
      damaged.replace(at, from.size(), to);
      const std::size_t name_len = 5, data_start = 30 + name_len;
      const std::uint32_t size = static_cast<std::uint32_t>(damaged[18] & 0xff) | (damaged[19] & 0xff) << 8 |
                                 (damaged[20] & 0xff) << 16 | static_cast<std::uint32_t>(damaged[21] & 0xff) << 24;
      const auto crc = static_cast<std::uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(damaged.data() + data_start), size));
      const std::size_t central = data_start + size;
      for (std::size_t pos : {std::size_t(14), central + 16})
        for (int b = 0; b < 4; ++b)
          damaged[pos + static_cast<std::size_t>(b)] = static_cast<char>((crc >> (8 * b)) & 0xff);
      write_bytes(bad, damaged);
    };
    patch("'<f8'", "'<c8'");
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(bad) && Catch::Contains("unsupported .npy dtype '<c8'"));
    patch("(64,)", "(65,)");
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains("truncated .npy data: 512 bytes for shape (65)"));
    // A zero-size shape whose other extents multiply past 2^62 (its strides would overflow).
    patch("(64,), }" + std::string(22, ' '), "(0, 4294967296, 4294967296), }");  // same length: eats padding
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains(".npy shape (0,4294967296,4294967296) is too large"));
    patch("NUMPY", "NUMPX");
    CHECK_THROWS_WITH(nn::load_tensors(bad), Catch::Contains("not a .npy array"));
  }
  SECTION("unwritable destination") {
    CHECK_THROWS_WITH(nn::save_tensors(dir.file("no/such/dir/x.npz"), {{"w", ones({1})}}),
                      Catch::Contains("no/such/dir/x.npz") && Catch::Contains("cannot create"));
    CHECK_THROWS_WITH(nn::save_tensors(bad, {{"w", Tensor()}}), Catch::Contains("'w' is an undefined tensor"));
  }
}

TEST_CASE("serialize: a save killed midway leaves the previous checkpoint intact") {
  TempDir dir;
  const std::string path = dir.file("ckpt.npz");
  const std::map<std::string, Tensor> previous{{"w", arange(0, 100, 1, kFloat64)}};
  nn::save_tensors(path, previous);
  const std::string previous_bytes = read_bytes(path);

  // The child limits its file size to 64 KiB and then saves 8 MB over the same path: the kernel
  // kills it (SIGXFSZ) in the middle of writing, like a crash or a full disk.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    rlimit core{0, 0}, fsize{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_CORE, &core);
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    try {
      nn::save_tensors(path, {{"w", ones({1000, 1000}, kFloat64)}});
    } catch (...) {
      ::_exit(3);  // SIGXFSZ ignored: the write failed with EFBIG and save_tensors threw
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child status " << status);
  CHECK(((WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) || (WIFEXITED(status) && WEXITSTATUS(status) == 3)));

  if (WIFSIGNALED(status)) {  // killed mid-write: its partial temporary file is still there
    std::size_t partial = 0;
    for (const auto& e : fs::directory_iterator(dir.path))
      if (e.path().filename().string().rfind("ckpt.npz.tmp.", 0) == 0 && fs::file_size(e.path()) > 0) ++partial;
    CHECK(partial == 1);
  }
  CHECK(read_bytes(path) == previous_bytes);
  const auto back = nn::load_tensors(path);
  CHECK(bit_identical(back.at("w"), previous.at("w")));
}
