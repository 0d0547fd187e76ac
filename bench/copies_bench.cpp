// Shape-op copies and float32 transcendental functions against their floors (issue 19). Every
// row is the median (and minimum) of --reps timed calls after 3 untimed ones, in one process;
// each call first drops the previous result (timed), so the allocator can hand its buffer to the
// new one, as the memcpy floor reuses its two buffers; torch_bench.py does the same.
#include "copies_bench.hpp"

#include <cstring>
#include <functional>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace bench {

const std::map<std::string, std::string> kCopiesDefaults = {{"reps", "21"}, {"threads", "1"}, {"rows", "all"}};

namespace {

using tg::Tensor;

struct Timing {
  double median_ms, min_ms;
};

Timing time_calls(long reps, const std::function<void()>& call) {
  for (int i = 0; i < 3; ++i) call();
  std::vector<double> ms;
  for (long r = 0; r < reps; ++r) {
    const double start = now_seconds();
    call();
    ms.push_back((now_seconds() - start) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

/// A float32 tensor of `shape` with values uniform in [center - half, center + half), stream
/// `seed` of bench::uniform_weights (torch_bench.py draws the same values).
Tensor uniform_tensor(const tg::Shape& shape, std::uint64_t seed, double center, double half) {
  auto v = xt::xarray<float>::from_shape(shape);
  const std::vector<float> w = uniform_weights(seed, v.size(), 1.0);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = static_cast<float>(center + half * w[i]);
  return Tensor(std::move(v));
}

/// A memcpy of `bytes` between two buffers already touched: the bandwidth floor of a copy.
Timing memcpy_floor(std::size_t bytes, long reps) {
  std::vector<char> from(bytes, 1), to(bytes, 0);
  volatile char sink = 0;
  const Timing t = time_calls(reps, [&] {
    std::memcpy(to.data(), from.data(), bytes);
    sink = to[bytes / 2];
  });
  (void)sink;
  return t;
}

struct Row {
  std::string name;
  std::string floor;  // "memcpy" (of `floor_bytes`) or the name of another row
  std::size_t floor_bytes;
  std::function<Tensor()> op;  // none: the row is the memcpy itself
};

bool selected(const Options& opt, const std::string& name) {
  const std::string rows = "," + opt.str("rows") + ",";
  return opt.str("rows") == "all" || rows.find("," + name + ",") != std::string::npos;
}

/// Times each selected row and prints it with its floor: the memcpy of its bytes or an earlier row.
int run_rows(const char* workload, const Options& opt, const std::vector<Row>& rows) {
  const long reps = std::max(1L, opt.integer("reps"));
  const long threads = std::max(1L, opt.integer("threads"));
  tg::set_num_threads(static_cast<int>(threads));
  std::map<std::string, double> done;  // row -> median ms
  std::map<std::size_t, double> memcpy_ms;
  for (const Row& row : rows) {
    // A row that is not selected still runs when a selected row is measured against it.
    const bool is_floor = std::any_of(rows.begin(), rows.end(),
                                      [&](const Row& r) { return r.floor == row.name && selected(opt, r.name); });
    if (!selected(opt, row.name) && !is_floor) continue;
    JsonLine line;
    line.add("workload", workload)
        .add("framework", "tapegrad")
        .add("row", row.name)
        .add("threads", static_cast<double>(threads));
    double floor_ms = 0;
    std::string floor_name = row.floor;
    if (row.floor == "memcpy") {
      if (!memcpy_ms.count(row.floor_bytes)) memcpy_ms[row.floor_bytes] = memcpy_floor(row.floor_bytes, reps).median_ms;
      floor_ms = memcpy_ms[row.floor_bytes];
      floor_name = "memcpy " + std::to_string(row.floor_bytes >> 10) + " KiB";
    } else {
      floor_ms = done.at(row.floor);
    }
    Tensor keep;
    const Timing t =
        row.op ? time_calls(reps,
                            [&] {
                              keep = Tensor();  // dropped first, so the output can reuse its buffer, as memcpy's does
                              keep = row.op();
                            })
               : memcpy_floor(row.floor_bytes, reps);
    done[row.name] = t.median_ms;
    if (!selected(opt, row.name)) continue;
    line.add("ms", t.median_ms)
        .add("min_ms", t.min_ms)
        .add("floor", floor_name)
        .add("floor_ms", floor_ms)
        .add("over_floor", t.median_ms / floor_ms);
    if (keep.defined()) line.add("checksum", tg::sum(keep.to(tg::kFloat64)).item());
    line.print();
  }
  return 0;
}

}  // namespace

int run_copies(const Options& opt) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  const Tensor x = uniform_tensor({4096, 512}, 1, 0, 1);           // 8 MiB
  const Tensor heads = uniform_tensor({32, 128, 8, 64}, 2, 0, 1);  // 8 MiB: (batch, tokens, heads, features)
  const Tensor column = uniform_tensor({4096, 1}, 3, 0, 1), row = uniform_tensor({512}, 4, 0, 1);
  const Tensor cube = uniform_tensor({64, 512, 64}, 5, 0, 1);  // 8 MiB
  const Tensor cube_mean = uniform_tensor({64, 1, 64}, 6, 0, 1);
  const Tensor logits = uniform_tensor({4096, 1024}, 7, 0, 4);  // 16 MiB, 4M elements
  const Tensor logits_middle = uniform_tensor({64, 1024, 64}, 8, 0, 4);
  // 64 MiB, past the last-level cache of most CPUs: made only when their rows run.
  const auto made_for = [&](const std::string& row, const tg::Shape& shape, std::uint64_t seed) {
    return selected(opt, row) ? uniform_tensor(shape, seed, 0, 1) : Tensor();
  };
  const Tensor big_x = made_for("transpose_8192x2048", {8192, 2048}, 9);
  const Tensor big_heads = made_for("permute_3210_256x128x8x64", {256, 128, 8, 64}, 10);
  const std::vector<Row> rows = {
      {"memcpy_8MiB", "memcpy", 8 * kMiB, nullptr},
      {"copy_4096x512", "memcpy", 8 * kMiB,
       [&] {
         return tg::reshape(x, {4096, 512});
       }},
      {"transpose_4096x512", "memcpy", 8 * kMiB, [&] { return tg::transpose(x, 0, 1); }},
      {"permute_0213_32x128x8x64", "memcpy", 8 * kMiB,
       [&] {
         return tg::permute(heads, {0, 2, 1, 3});
       }},
      {"permute_3210_32x128x8x64", "memcpy", 8 * kMiB,
       [&] {
         return tg::permute(heads, {3, 2, 1, 0});
       }},
      {"transpose_8192x2048", "memcpy", 64 * kMiB, [&] { return tg::transpose(big_x, 0, 1); }},
      {"permute_3210_256x128x8x64", "memcpy", 64 * kMiB,
       [&] {
         return tg::permute(big_heads, {3, 2, 1, 0});
       }},
      {"expand_4096x1_to_4096x512", "memcpy", 8 * kMiB,
       [&] {
         return tg::expand(column, {4096, 512});
       }},
      {"expand_512_to_4096x512", "memcpy", 8 * kMiB,
       [&] {
         return tg::expand(row, {4096, 512});
       }},
      {"sub_64x512x64_minus_64x1x64", "memcpy", 8 * kMiB, [&] { return cube - cube_mean; }},
      {"sum_64x512x64_axis1", "memcpy", 8 * kMiB, [&] { return tg::sum(cube, {1}, true); }},
      {"exp_4096x1024", "memcpy", 16 * kMiB, [&] { return tg::exp(logits); }},
      {"softmax_4096x1024", "exp_4096x1024", 0, [&] { return tg::softmax(logits, -1); }},
      {"log_softmax_4096x1024", "exp_4096x1024", 0, [&] { return tg::log_softmax(logits, -1); }},
      {"softmax_64x1024x64_axis1", "exp_4096x1024", 0, [&] { return tg::softmax(logits_middle, 1); }},
  };
  return run_rows("copies", opt, rows);
}

int run_transcendental(const Options& opt) {
  constexpr std::size_t kElements = std::size_t{1} << 20;
  const Tensor x = uniform_tensor({kElements}, 11, 0, 4);
  const Tensor positive = uniform_tensor({kElements}, 12, 5.05, 4.95);  // [0.1, 10)
  const std::size_t bytes = kElements * sizeof(float);
  const std::vector<Row> rows = {
      {"memcpy_4MiB", "memcpy", bytes, nullptr},
      {"exp_1M", "memcpy", bytes, [&] { return tg::exp(x); }},
      {"tanh_1M", "memcpy", bytes, [&] { return tg::tanh(x); }},
      {"sigmoid_1M", "memcpy", bytes, [&] { return tg::sigmoid(x); }},
      {"log_1M", "memcpy", bytes, [&] { return tg::log(positive); }},
  };
  return run_rows("transcendental", opt, rows);
}

}  // namespace bench
