// The copy and broadcast kernels behind permute/transpose, expand, broadcasting binary ops and
// where, reductions over middle axes, and the one-sweep softmax/log_softmax (autograd/src/
// strided.hpp, reduce.cpp), each against a naive loop over multi-indices: odd extents (not
// multiples of the 32-element tiles or the 8 accumulator lanes), extent-1 and extent-0 axes, 1-d
// to 5-d, every dtype, and the split over threads. (Tensors are always contiguous: there is no
// non-contiguous input to test.)
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "op_check.hpp"
#include "strided.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;

/// The multi-index of row-major position `flat` in shape s.
std::vector<std::size_t> unravel(std::size_t flat, const Shape& s) {
  std::vector<std::size_t> idx(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}

/// The row-major position of idx in shape s.
std::size_t ravel(const std::vector<std::size_t>& idx, const Shape& s) {
  std::size_t flat = 0;
  for (std::size_t d = 0; d < s.size(); ++d) flat = flat * s[d] + idx[d];
  return flat;
}

std::size_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), std::size_t{1}, std::multiplies<>()); }

/// Element i of a tensor of dtype T with distinct values (no NaN, so == compares bits).
template <class T>
T value_at(std::size_t i) {
  if constexpr (std::is_same_v<T, bool>)
    return (i * 7) % 3 == 0;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return static_cast<T>(i) * 3 - 7;
  else
    return static_cast<T>(static_cast<double>(i) * 1.25 - 3.0);
}

template <class T>
Tensor counting(const Shape& s) {
  xt::xarray<T> v = xt::xarray<T>::from_shape(s);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = value_at<T>(i);
  return Tensor(std::move(v));
}

/// permute(x, perm) of a counting tensor against result[i] = x[i permuted back].
template <class T>
void check_permute(const Shape& s, const std::vector<int>& perm) {
  INFO("shape " << to_string(s) << " dtype " << to_string(counting<T>({1}).dtype()) << " perm "
                << Catch::Detail::stringify(perm));
  const Tensor x = counting<T>(s);
  const Tensor y = permute(x, perm);
  Shape to(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) to[i] = s[static_cast<std::size_t>(perm[i])];
  REQUIRE(y.shape() == to);
  const auto& yv = y.value<T>();
  std::size_t wrong = 0;
  for (std::size_t flat = 0; flat < yv.size(); ++flat) {
    const auto out_idx = unravel(flat, to);
    std::vector<std::size_t> in_idx(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) in_idx[static_cast<std::size_t>(perm[i])] = out_idx[i];
    wrong += yv.data()[flat] != value_at<T>(ravel(in_idx, s));
  }
  CHECK(wrong == 0);
}

template <class T>
void check_every_permutation(const Shape& s) {
  std::vector<int> perm(s.size());
  std::iota(perm.begin(), perm.end(), 0);
  do check_permute<T>(s, perm);
  while (std::next_permutation(perm.begin(), perm.end()));
}

/// The broadcast of a's value to shape `to` by a naive loop (a's axes aligned to the right).
template <class T>
std::vector<T> naive_broadcast(const std::vector<T>& a, const Shape& from, const Shape& to) {
  std::vector<T> out(numel(to));
  for (std::size_t flat = 0; flat < out.size(); ++flat) {
    const auto idx = unravel(flat, to);
    std::vector<std::size_t> src(from.size());
    for (std::size_t d = 0; d < from.size(); ++d) src[d] = from[d] == 1 ? 0 : idx[to.size() - from.size() + d];
    out[flat] = a[ravel(src, from)];
  }
  return out;
}

/// NumPy's broadcast of two shapes (compatible ones).
Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t ea = i < a.size() ? a[a.size() - 1 - i] : 1, eb = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[out.size() - 1 - i] = ea == 1 ? eb : ea;
  }
  return out;
}

struct ThreadCount {
  int before = get_num_threads();
  explicit ThreadCount(int n) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before); }
};

}  // namespace

TEST_CASE("strided copies: permute and transpose equal a naive loop, every dtype and odd shapes") {
  for (int threads : {1, 2}) {
    const ThreadCount count(threads);
    // Every permutation of ranks 1 to 5: extent-1 axes, extents that are not multiples of the
    // 8-row bands or the register blocks (8x8 and 4x4 float32, 4x4 and 2x2 float64).
    for (const Shape& s : std::vector<Shape>{{7},
                                             {1, 1},
                                             {33, 65},
                                             {1, 70},
                                             {70, 1},
                                             {31, 5, 1},
                                             {3, 2, 37},
                                             {2, 3, 4, 5},
                                             {1, 5, 1, 7},
                                             {2, 3, 1, 4, 5},
                                             {3, 2, 2, 3, 2}}) {
      check_every_permutation<float>(s);
      check_every_permutation<double>(s);
    }
    check_every_permutation<std::int64_t>({3, 4, 33});
    check_every_permutation<bool>({2, 35, 3});
    // Zero-size axes and 0-d tensors.
    check_every_permutation<float>({3, 0, 5});
    check_every_permutation<double>({0});
    check_permute<float>({}, {});
    // Large enough to be split over the threads (over 32,768 elements), with edge tiles.
    check_permute<float>({257, 301}, {1, 0});
    check_permute<double>({5, 67, 3, 129}, {3, 1, 0, 2});
    check_permute<float>({4, 33, 8, 65}, {0, 2, 1, 3});  // the attention-head shuffle
    // Planes wider than a 256-column slice and taller than a 1024-row unit, with ragged edges.
    check_permute<float>({1030, 300}, {1, 0});
    check_permute<float>({300, 1030}, {1, 0});
    check_permute<double>({2, 1029, 259}, {0, 2, 1});
    check_permute<std::int64_t>({261, 1027}, {1, 0});
    // Permutes that keep the innermost axis copy its runs a row of the next axis at a time when
    // they are 32 to 512 bytes: runs at both ends of that, just past it, and of every dtype, over
    // enough positions (over 32,768 elements) that the threads' ranges split rows.
    check_permute<float>({6, 5, 9, 8}, {2, 0, 1, 3});
    check_permute<float>({3, 7, 5, 128}, {1, 0, 2, 3});
    check_permute<float>({3, 7, 5, 129}, {1, 0, 2, 3});
    check_permute<float>({7, 130, 5, 9}, {0, 2, 1, 3});
    check_permute<double>({5, 11, 3, 21}, {2, 1, 0, 3});
    check_permute<std::int64_t>({3, 9, 5, 7}, {2, 0, 1, 3});
    check_permute<bool>({5, 7, 3, 40}, {0, 2, 1, 3});
  }
  const Tensor x = counting<double>({5, 3, 7});
  CHECK(values(transpose(x, 0, 2)) == values(permute(x, {2, 1, 0})));
  CHECK(values(transpose(x, -1, 1)) == values(permute(x, {0, 2, 1})));
}

TEST_CASE("strided copies: outputs written with non-temporal stores equal a naive loop") {
  // Outputs past half the L3 take the non-temporal path (stream_min_bytes); a threshold of one
  // byte sends these small copies down it. The windows' rows start on lines only when the strides
  // allow, so ragged extents exercise the unaligned moves beside the streamed ones.
  struct StreamAll {
    StreamAll() { detail::set_stream_min_bytes(1); }
    ~StreamAll() { detail::set_stream_min_bytes(0); }
  };
  const std::size_t default_bytes = detail::stream_min_bytes();
  CHECK(default_bytes >= (std::size_t{1} << 20));  // half of any L3 this runs on, or 16 MiB
  {
    const StreamAll all;
    CHECK(detail::stream_min_bytes() == 1);
    for (int threads : {1, 2}) {
      const ThreadCount count(threads);
      check_every_permutation<float>({2, 3, 4, 5});
      check_every_permutation<double>({3, 2, 2, 3, 2});
      check_every_permutation<float>({3, 9, 5, 17});
      check_permute<float>({4, 16, 8, 64}, {3, 2, 1, 0});  // the benchmark's reversal, smaller
      check_permute<double>({4, 16, 8, 32}, {3, 2, 1, 0});
      check_permute<float>({5, 33, 7, 67}, {3, 2, 1, 0});
      check_permute<float>({33, 65, 9}, {2, 1, 0});
    }
  }
  CHECK(detail::stream_min_bytes() == default_bytes);
}

TEST_CASE("strided copies: strided_copy with broadcast and permuted strides together") {
  // A (4,1,6) source read as (6,5,4): axis 0 of the result is its axis 2, axis 1 is repeated.
  const Shape from{4, 1, 6}, to{6, 5, 4};
  std::vector<double> src(numel(from));
  std::iota(src.begin(), src.end(), 1.0);
  const detail::Strides strides{1, 0, 6};
  std::vector<double> dst(numel(to), -1);
  detail::strided_copy(src.data(), to, strides, dst.data());
  for (std::size_t flat = 0; flat < dst.size(); ++flat) {
    const auto i = unravel(flat, to);
    CHECK(dst[flat] == src[i[2] * 6 + i[0]]);
  }
  // Axes that merge: a contiguous (2,3,4) read as is is one run; (2,3,4) with its first two axes
  // swapped keeps 3 axes but copies runs of 4.
  CHECK(detail::collapse_axes({2, 3, 4}, {detail::contiguous_strides({2, 3, 4})}).extents == Shape{24});
  CHECK(detail::collapse_axes({3, 2, 4}, {detail::permuted_strides({2, 3, 4}, {1, 0, 2})}).extents == Shape{3, 2, 4});
  CHECK(detail::collapse_axes({1, 5, 1}, {detail::Strides{0, 1, 0}}).extents == Shape{5});
  CHECK(detail::collapse_axes({1, 1}, {detail::Strides{1, 1}}).extents == Shape{1});
}

namespace {

/// strided_copy of a (rows, cols) matrix transposed, from and to buffers `src_shift` and
/// `dst_shift` elements past an allocation, against a naive loop.
template <class T>
std::size_t wrong_transposes(std::size_t rows, std::size_t cols, std::size_t src_shift, std::size_t dst_shift) {
  // Arrays, not vectors: std::vector<bool> has no data().
  const std::unique_ptr<T[]> src(new T[rows * cols + src_shift]()), dst(new T[rows * cols + dst_shift]());
  for (std::size_t i = 0; i < rows * cols; ++i) src[src_shift + i] = value_at<T>(i + 1);
  detail::strided_copy(src.get() + src_shift, Shape{cols, rows}, detail::permuted_strides(Shape{rows, cols}, {1, 0}),
                       dst.get() + dst_shift);
  std::size_t wrong = 0;
  for (std::size_t j = 0; j < cols; ++j)
    for (std::size_t i = 0; i < rows; ++i) wrong += dst[dst_shift + j * rows + i] != value_at<T>(i * cols + j + 1);
  return wrong;
}

/// strided_copy of a 4-d array reversed (permute (3,2,1,0)), from and to buffers `src_shift` and
/// `dst_shift` elements past an allocation, against a naive loop; twice, the second time with the
/// streaming threshold just past the copy's bytes, so that its windows prefetch their dst rows
/// (DstMode::kFetch, for copies whose source and dst fill half the L3).
template <class T>
std::size_t wrong_reversals(const Shape& s, std::size_t src_shift, std::size_t dst_shift) {
  const std::size_t n = numel(s);
  const Shape to{s[3], s[2], s[1], s[0]};
  std::size_t wrong = 0;
  for (bool fetch : {false, true}) {
    const std::unique_ptr<T[]> src(new T[n + src_shift]()), dst(new T[n + dst_shift]());
    for (std::size_t i = 0; i < n; ++i) src[src_shift + i] = value_at<T>(i + 1);
    detail::set_stream_min_bytes(fetch ? n * sizeof(T) + 1 : 0);
    detail::strided_copy(src.get() + src_shift, to, detail::permuted_strides(s, {3, 2, 1, 0}), dst.get() + dst_shift);
    detail::set_stream_min_bytes(0);
    for (std::size_t flat = 0; flat < n; ++flat) {
      const auto i = unravel(flat, to);
      wrong += dst[dst_shift + flat] != value_at<T>(ravel({i[3], i[2], i[1], i[0]}, s) + 1);
    }
  }
  return wrong;
}

}  // namespace

TEST_CASE("strided copies: reversals go through windows across planes, every dtype, alignment and edge") {
  // dst continues each plane's rows with the next plane's, so copy_windows transposes windows
  // whose columns run across planes (along q) and, where the source continues the plane's rows
  // with another axis r, whose rows run across r too. The windows start on the source's and
  // dst's cache lines, which the shifts move (a head of rows the first window takes on, and a
  // head of columns that is a window of its own, fewer than a block when the shift leaves 1-7
  // elements); the shapes leave ragged last windows, a last row window short enough to join the
  // one before it, blocks of columns that straddle two planes, and columns fewer than a block.
  for (int threads : {1, 2}) {
    const ThreadCount count(threads);
    for (std::size_t shift : {0, 3, 8, 13}) {
      INFO("threads " << threads << ", shift " << shift);
      CHECK(wrong_reversals<float>({20, 37, 3, 70}, shift, 15 - shift) == 0);  // rows over (r, p) = 3 x 70
      CHECK(wrong_reversals<float>({40, 9, 3, 150}, shift, shift) == 0);       // columns 9 x 40 per row window
      CHECK(wrong_reversals<float>({5, 64, 4, 70}, shift, shift) == 0);        // 5 columns per plane
      CHECK(wrong_reversals<float>({6, 40, 9, 50}, shift, 7 + shift) == 0);    // 450 rows: 14 windows; 240 columns: 2-3
      CHECK(wrong_reversals<float>({300, 2, 2, 3}, shift, shift) == 0);        // 6 rows, fewer than a block
      // Strides of whole lines, so the windows start on lines: 144 rows, the last window joining
      // the one before it when the head leaves it short; float64 and bool (lines of 8 and 64).
      CHECK(wrong_reversals<float>({32, 16, 2, 72}, shift, 15 - shift) == 0);
      CHECK(wrong_reversals<double>({16, 8, 4, 32}, shift, (shift * 5) % 8) == 0);
      CHECK(wrong_reversals<bool>({64, 4, 2, 128}, shift * 4, 63 - shift) == 0);
      CHECK(wrong_reversals<double>({9, 40, 2, 33}, shift, (shift * 3) % 16) == 0);
      CHECK(wrong_reversals<std::int64_t>({12, 50, 2, 17}, shift, 16 - shift) == 0);
      CHECK(wrong_reversals<bool>({16, 300, 2, 40}, shift, 63 - shift) == 0);
    }
    // Every order of a 4-d shape, through the op (windows with and without r, outer axes around
    // them); and of a 5-d one, whose windows sit between other outer axes.
    check_every_permutation<float>({24, 11, 5, 40});
    check_every_permutation<double>({2, 32, 9, 3, 64});
    check_permute<float>({8, 12, 64, 30}, {2, 3, 1, 0});  // q without r: dst rows of 8 far apart
  }
}

TEST_CASE("strided copies: transposes of buffers at every alignment, rows that share it and rows that do not") {
  // The planes align their blocks to the buffers (tensor buffers are malloc's, 16 bytes past a
  // cache line when large) and their slices to dst's cache lines, overlapping at the edges.
  for (int threads : {1, 2}) {
    const ThreadCount count(threads);
    for (std::size_t shift = 0; shift < 16; ++shift) {
      INFO("threads " << threads << ", shift " << shift);
      CHECK(wrong_transposes<float>(64, 600, shift, (shift * 5) % 16) == 0);
      CHECK(wrong_transposes<float>(530, 37, shift, shift) == 0);  // rows of 37: alignment differs per row
      CHECK(wrong_transposes<float>(9, 1100, shift, 15 - shift) == 0);
      CHECK(wrong_transposes<double>(40, 520, shift, (shift * 3) % 16) == 0);
      CHECK(wrong_transposes<double>(8, 4, shift, shift) == 0);
      CHECK(wrong_transposes<double>(30, 6, shift, shift) == 0);  // dst rows fewer than a band
      CHECK(wrong_transposes<std::int64_t>(24, 300, shift, 16 - shift) == 0);
    }
    // Source rows 64 KiB or more apart, as in the reversal of a 4-d tensor (L2 set conflicts).
    for (std::size_t shift : {0, 5, 11}) {
      CHECK(wrong_transposes<float>(37, 16401, shift, 15 - shift) == 0);
      CHECK(wrong_transposes<double>(21, 8195, shift, shift) == 0);
    }
    for (std::size_t shift = 0; shift < 64; shift += 7) CHECK(wrong_transposes<bool>(16, 700, shift, 63 - shift) == 0);
  }
}

TEST_CASE("strided copies: transposes through bands (transpose_band) at every alignment and edge") {
  // Float and double transposes of 1 MiB or more whose source rows start at one place in a cache
  // line go through bands of two source lines' worth of dst rows and a buffer; a threshold of one
  // byte sends these small ones down that path. Extents: bands that overlap the one before at the
  // end (48 rows of floats, 24 of doubles), a single band, units of 1024 rows split in two, slices
  // of 128 columns with a ragged last one, and fewer columns than a register block.
  struct BandAll {
    BandAll() { detail::set_band_min_bytes(1); }
    ~BandAll() { detail::set_band_min_bytes(0); }
  };
  const std::size_t default_bytes = detail::band_min_bytes();
  {
    const BandAll all;
    CHECK(detail::band_min_bytes() == 1);
    for (int threads : {1, 2}) {
      const ThreadCount count(threads);
      for (std::size_t shift = 0; shift < 16; ++shift) {
        INFO("threads " << threads << ", shift " << shift);
        CHECK(wrong_transposes<float>(600, 64, shift, (shift * 5) % 16) == 0);
        CHECK(wrong_transposes<float>(301, 48, shift, 15 - shift) == 0);
        CHECK(wrong_transposes<float>(40, 32, shift, shift) == 0);
        CHECK(wrong_transposes<float>(5, 64, shift, shift) == 0);
        CHECK(wrong_transposes<float>(130, 2064, shift, (shift * 3) % 16) == 0);
        CHECK(wrong_transposes<double>(300, 16, shift, (shift * 3) % 16) == 0);
        CHECK(wrong_transposes<double>(133, 24, shift, 15 - shift) == 0);
        CHECK(wrong_transposes<double>(70, 1032, shift, shift) == 0);
      }
      check_permute<float>({3, 70, 48}, {0, 2, 1});  // batched: a plane per position of the first axis
      check_permute<double>({2, 200, 3, 40}, {0, 3, 2, 1});
      check_every_permutation<float>({5, 33, 32});
    }
  }
  CHECK(detail::band_min_bytes() == default_bytes);
}

TEST_CASE("strided copies: expand equals a naive broadcast, every dtype") {
  const std::vector<std::pair<Shape, Shape>> cases = {{{3, 1}, {3, 5}},
                                                      {{5}, {3, 5}},
                                                      {{}, {2, 3}},
                                                      {{1, 1}, {7, 9}},
                                                      {{4, 1, 3}, {2, 4, 5, 3}},
                                                      {{1, 33, 1}, {65, 33, 31}},
                                                      {{1}, {0}},
                                                      {{2, 1}, {2, 0}},
                                                      {{1, 3, 1, 2, 1}, {2, 3, 4, 2, 3}},
                                                      {{300, 1}, {300, 257}}};
  for (int threads : {1, 2}) {
    const ThreadCount count(threads);
    for (const auto& [from, to] : cases) {
      INFO(to_string(from) << " -> " << to_string(to));
      const Tensor xd = counting<double>(from), xi = counting<std::int64_t>(from), xb = counting<bool>(from);
      const auto& dv = xd.value<double>();
      const std::vector<double> expect = naive_broadcast(std::vector<double>(dv.begin(), dv.end()), from, to);
      const Tensor yd = expand(xd, to);
      REQUIRE(yd.shape() == to);
      CHECK(values(yd) == expect);
      CHECK(values(expand(xd.to(kFloat32), to)) == expect);  // the counting values are exact in float32
      const Tensor yi = expand(xi, to), yb = expand(xb, to);
      const auto& iv = xi.value<std::int64_t>();
      const auto& ie = yi.value<std::int64_t>();
      CHECK(std::vector<std::int64_t>(ie.begin(), ie.end()) ==
            naive_broadcast(std::vector<std::int64_t>(iv.begin(), iv.end()), from, to));
      const auto& bv = xb.value<bool>();
      const auto& be = yb.value<bool>();
      CHECK(std::vector<bool>(be.begin(), be.end()) ==
            naive_broadcast(std::vector<bool>(bv.begin(), bv.end()), from, to));
    }
  }
}

TEST_CASE("strided copies: binary ops and where over general broadcasts equal a naive loop") {
  // Pairs that none of the row/column fast paths cover (a middle axis, both operands broadcast).
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{2, 1, 4}, {3, 1}},    {{4, 1, 3}, {1, 5, 1}}, {{2, 3, 1, 5}, {1, 3, 4, 1}},      {{3, 1, 0}, {1, 4, 1}},
      {{5, 1, 7}, {5, 9, 7}}, {{1, 9, 1}, {5, 9, 7}}, {{2, 3, 4, 5, 6}, {2, 1, 4, 1, 6}}};
  for (const auto& [sa, sb] : pairs) {
    INFO(to_string(sa) << " and " << to_string(sb));
    const Tensor a = random_leaf(sa, -2, 2, 3).detach(), b = random_leaf(sb, 0.5, 2, 4).detach();
    const Shape out = broadcast(sa, sb);
    const std::vector<double> av = values(a), bv = values(b);
    const std::vector<double> ea = naive_broadcast(av, sa, out), eb = naive_broadcast(bv, sb, out);
    std::vector<double> diff(ea.size()), quotient(ea.size()), pick(ea.size());
    for (std::size_t i = 0; i < ea.size(); ++i) {
      diff[i] = ea[i] - eb[i];
      quotient[i] = eb[i] / ea[i];
      pick[i] = ea[i] > 0 ? ea[i] : eb[i];
    }
    CHECK((a - b).shape() == out);
    CHECK(values(a - b) == diff);
    CHECK(values(b / a) == quotient);
    // where(a > 0, a, b): the condition broadcast like a, a third shape for the other branch.
    CHECK(values(where(gt(a, 0.0), a, b)) == pick);
    const Tensor first = expand(select(reshape(b, {-1}), 0, 0), {});  // a 0-d operand as well
    std::vector<double> pick0(ea.size());
    for (std::size_t i = 0; i < ea.size(); ++i) pick0[i] = ea[i] > 0 ? bv[0] : eb[i];
    CHECK(values(where(gt(a, 0.0), first, b)) == pick0);
  }
  check_gradients("sub (2,1,4) - (3,1)", [](const Inputs& v) { return v[0] - v[1]; },
                  {random_leaf({2, 1, 4}, -1, 1, 5), random_leaf({3, 1}, -1, 1, 6)});
  check_gradients("mul (4,1,3) * (1,5,1)", [](const Inputs& v) { return v[0] * v[1]; },
                  {random_leaf({4, 1, 3}, -1, 1, 7), random_leaf({1, 5, 1}, -1, 1, 8)});
}

TEST_CASE("strided copies: sums over middle and mixed axes equal a naive row-major sum exactly") {
  // The same additions in the same (row-major) order, so the same bits.
  const Shape s{3, 4, 5, 2, 7};
  const Tensor x = random_leaf(s, -1, 1, 11).detach();
  const std::vector<double> xv = values(x);
  for (const Axes& axes : std::vector<Axes>{{1}, {2}, {1, 3}, {0, 2, 4}, {1, 2, 3}, {0, 3}, {2, 4}}) {
    INFO("axes " << Catch::Detail::stringify(axes));
    Shape kept = s;
    for (int a : axes) kept[static_cast<std::size_t>(a)] = 1;
    std::vector<double> expect(numel(kept), 0.0);
    for (std::size_t flat = 0; flat < xv.size(); ++flat) {
      auto idx = unravel(flat, s);
      for (int a : axes) idx[static_cast<std::size_t>(a)] = 0;
      expect[ravel(idx, kept)] += xv[flat];
    }
    CHECK(values(sum(x, axes, true)) == expect);
  }
  CHECK(values(sum(zeros({3, 0, 2}, kFloat64), {1})) == std::vector<double>(6, 0.0));
}

namespace {

/// softmax and log_softmax of x along axis in long double, by a naive loop over the groups.
void naive_softmax(const Tensor& x, int axis, std::vector<long double>& p, std::vector<long double>& lp) {
  const Shape s = x.shape();
  const auto a = static_cast<std::size_t>(axis);
  const std::vector<double> xv = values(x);
  p.assign(xv.size(), 0);
  lp.assign(xv.size(), 0);
  for (std::size_t flat = 0; flat < xv.size(); ++flat) {
    auto idx = unravel(flat, s);
    if (idx[a] != 0) continue;  // one group per position with index 0 on the axis
    long double m = -INFINITY, total = 0;
    for (idx[a] = 0; idx[a] < s[a]; ++idx[a]) m = std::max<long double>(m, xv[ravel(idx, s)]);
    for (idx[a] = 0; idx[a] < s[a]; ++idx[a]) total += std::exp(static_cast<long double>(xv[ravel(idx, s)]) - m);
    for (idx[a] = 0; idx[a] < s[a]; ++idx[a]) {
      const long double shifted = static_cast<long double>(xv[ravel(idx, s)]) - m;
      p[ravel(idx, s)] = std::exp(shifted) / total;
      lp[ravel(idx, s)] = shifted - std::log(total);
    }
  }
}

}  // namespace

TEST_CASE("softmax and log_softmax in one sweep equal a naive long double loop, float32 and float64") {
  struct Case {
    Shape shape;
    int axis;
  };
  // Last axes shorter than, equal to and not a multiple of the 8 accumulator lanes; middle axes
  // with inner extents below and above the 512-column blocks; extent 1 on and off the axis.
  const std::vector<Case> cases = {
      {{7}, 0},        {{1}, 0},        {{3, 8}, 1},      {{4, 1003}, 1},       {{5, 1, 9}, 0},       {{5, 1, 9}, 1},
      {{5, 1, 9}, 2},  {{2, 37, 3}, 1}, {{2, 9, 700}, 1}, {{3, 2, 4, 5, 6}, 2}, {{2, 3, 4, 5, 6}, 4}, {{1, 1}, 0},
      {{2, 300, 5}, 1}};  // the last: several rows per exp call, the last call shorter
  for (const Case& c : cases) {
    const std::size_t n = c.shape[static_cast<std::size_t>(c.axis)];
    const Tensor x64 = random_leaf(c.shape, -30, 30, 17).detach();
    std::vector<long double> p, lp;
    naive_softmax(x64, c.axis, p, lp);
    for (const Tensor& x : {x64, x64.to(kFloat32)}) {
      INFO("shape " << to_string(c.shape) << " axis " << c.axis << " " << to_string(x.dtype()));
      // A sum of n positive terms has a relative error below (terms added in turn) eps: n/8 + 3
      // along the last axis (8 lanes), n down a middle axis's columns. exp, the division and the
      // final log add a few eps more. x - max itself rounds by up to |x - max| eps / 2, which exp
      // turns into a relative error of that size (|x - max| <= |log p| + log n). The float32
      // input is x64 rounded, so its reference is recomputed from it.
      const bool last = static_cast<std::size_t>(c.axis) + 1 == c.shape.size();
      const double eps = x.dtype() == kFloat32 ? 0x1p-23 : 0x1p-52;
      const double rtol = ((last ? static_cast<double>(n) / 8 : static_cast<double>(n)) + 8) * eps;
      std::vector<long double> pr = p, lpr = lp;
      if (x.dtype() == kFloat32) naive_softmax(x.to(kFloat64), c.axis, pr, lpr);
      const std::vector<double> got_p = values(softmax(x, c.axis)), got_lp = values(log_softmax(x, c.axis));
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < got_p.size(); ++i) {
        const double ep = static_cast<double>(pr[i]), elp = static_cast<double>(lpr[i]);
        wrong +=
            !(std::abs(got_p[i] - ep) <= rtol * (1 + std::abs(elp)) * ep + std::numeric_limits<double>::denorm_min());
        wrong += !(std::abs(got_lp[i] - elp) <= rtol * (1 + std::abs(elp)));
      }
      CHECK(wrong == 0);
    }
  }
  // Gradients through groups long enough for the lanes, on the last and a middle axis.
  check_gradients("softmax (2,19) axis 1", [](const Inputs& v) { return softmax(v[0], 1); },
                  {random_leaf({2, 19}, -2, 2, 21)});
  check_gradients("log_softmax (2,19) axis 1", [](const Inputs& v) { return log_softmax(v[0], 1); },
                  {random_leaf({2, 19}, -2, 2, 22)});
  check_gradients("softmax (2,3,4,5) axis 2", [](const Inputs& v) { return softmax(v[0], 2); },
                  {random_leaf({2, 3, 4, 5}, -2, 2, 23)});
}

TEST_CASE("softmax and log_softmax: infinities, NaN and empty tensors as the shifted formula gives them") {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType d : {kFloat64, kFloat32}) {
    INFO(to_string(d));
    // -inf entries get probability 0 (log -inf); a group of only -inf is 0/0.
    const Tensor x = tensor({{-inf, 0.0, -inf, std::log(3.0)}, {-inf, -inf, -inf, -inf}}, TensorOptions(d));
    const std::vector<double> p = values(softmax(x, 1)), lp = values(log_softmax(x, 1));
    CHECK(p[0] == 0.0);
    CHECK(p[1] == Approx(0.25).epsilon(1e-6));
    CHECK(p[3] == Approx(0.75).epsilon(1e-6));
    CHECK(lp[0] == -inf);
    CHECK(lp[3] == Approx(std::log(0.75)).epsilon(1e-6));
    for (std::size_t i = 4; i < 8; ++i) CHECK(std::isnan(p[i]));
    // A NaN anywhere in a group makes the whole group NaN, on the last axis and on a middle one.
    const Tensor withnan = tensor({{1.0, std::nan(""), 2.0}, {0.0, 1.0, 2.0}}, TensorOptions(d));
    const std::vector<double> q = values(softmax(withnan, 1)), r = values(softmax(withnan, 0));
    for (std::size_t i = 0; i < 3; ++i) CHECK(std::isnan(q[i]));
    CHECK(std::abs(q[3] + q[4] + q[5] - 1.0) < 1e-6);
    CHECK(std::isnan(r[1]));
    CHECK(std::isnan(r[4]));
    CHECK(!std::isnan(r[0]));
    // An empty tensor has nothing to normalise.
    CHECK(softmax(zeros({3, 0}, d), 1).shape() == Shape{3, 0});
    CHECK(log_softmax(zeros({0, 4}, d), 1).shape() == Shape{0, 4});
  }
}
