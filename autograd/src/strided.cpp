// Strided copies and broadcast loops (see strided.hpp).
#include "strided.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "isa.hpp"
#include "parallel.hpp"
#include "transpose_plane.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace tg::detail {

namespace {

/// The size of one L3 cache (cpu0's; every core's on the CPUs we know), in bytes, or 0 when
/// unknown. sysfs gives one instance's size, where sysconf(_SC_LEVEL3_CACHE_SIZE) may give the sum over a
/// package's core complexes (256 MiB for an EPYC whose cores share 32 MiB each).
std::size_t l3_bytes() {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    int level = 0;
    if (std::FILE* f = std::fopen((dir + "level").c_str(), "r")) {
      if (std::fscanf(f, "%d", &level) != 1) level = 0;
      std::fclose(f);
    }
    if (level != 3) continue;
    unsigned long size = 0;
    char unit = 0;
    if (std::FILE* f = std::fopen((dir + "size").c_str(), "r")) {
      if (std::fscanf(f, "%lu%c", &size, &unit) < 1) size = 0;
      std::fclose(f);
    }
    const std::size_t scale = unit == 'K' ? 1024 : unit == 'M' ? std::size_t{1} << 20 : 1;
    return size > 0 && size < (std::size_t{1} << 40) / scale ? size * scale : 0;
  }
  return 0;
}

/// 0: not yet asked (stream_min_bytes asks once).
std::atomic<std::size_t> g_stream_min_bytes{0};

}  // namespace

std::size_t stream_min_bytes() {
  std::size_t bytes = g_stream_min_bytes.load(std::memory_order_relaxed);
  if (bytes == 0) {
    // Half the L3: the output and its source together fill it (on a 32 MiB L3 the stores gained
    // from 16 MiB outputs up, lost at 8 MiB, and at 12 MiB won or lost by the process:
    // bench/PROFILE.md, session 18).
    const std::size_t l3 = l3_bytes();
    bytes = (l3 > 0 ? l3 : std::size_t{32} << 20) / 2;
    g_stream_min_bytes.store(bytes, std::memory_order_relaxed);
  }
  return bytes;
}

void set_stream_min_bytes(std::size_t bytes) { g_stream_min_bytes.store(bytes, std::memory_order_relaxed); }

namespace {
std::atomic<std::size_t> g_band_min_bytes{0};  // 0: kBandMinBytes
}  // namespace

std::size_t band_min_bytes() {
  const std::size_t bytes = g_band_min_bytes.load(std::memory_order_relaxed);
  return bytes == 0 ? kBandMinBytes : bytes;
}

void set_band_min_bytes(std::size_t bytes) { g_band_min_bytes.store(bytes, std::memory_order_relaxed); }

Strides contiguous_strides(const Shape& s) {
  Strides out(s.size());
  std::ptrdiff_t step = 1;
  for (std::size_t d = s.size(); d-- > 0;) {
    out[d] = step;
    step *= static_cast<std::ptrdiff_t>(s[d]);
  }
  return out;
}

Strides permuted_strides(const Shape& from, const std::vector<std::size_t>& perm) {
  const Strides base = contiguous_strides(from);
  Strides out(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out[i] = base[perm[i]];
  return out;
}

Strides broadcast_strides(const Shape& from, const Shape& to) {
  const Strides base = contiguous_strides(from);
  Strides out(to.size(), 0);
  const std::size_t lead = to.size() - from.size();
  for (std::size_t d = 0; d < from.size(); ++d)
    if (from[d] != 1) out[lead + d] = base[d];
  return out;
}

LoopNest collapse_axes(const Shape& extents, std::vector<Strides> strides) {
  LoopNest loop;
  loop.strides.resize(strides.size());
  for (std::size_t d = 0; d < extents.size(); ++d) {
    if (extents[d] == 1) continue;
    // Axis d joins the previous kept axis when, for every operand, stepping the previous axis
    // once is the same as stepping axis d through its whole extent.
    bool merge = !loop.extents.empty();
    for (std::size_t k = 0; merge && k < strides.size(); ++k)
      merge = loop.strides[k].back() == strides[k][d] * static_cast<std::ptrdiff_t>(extents[d]);
    if (merge) {
      loop.extents.back() *= extents[d];
      for (std::size_t k = 0; k < strides.size(); ++k) loop.strides[k].back() = strides[k][d];
    } else {
      loop.extents.push_back(extents[d]);
      for (std::size_t k = 0; k < strides.size(); ++k) loop.strides[k].push_back(strides[k][d]);
    }
  }
  if (loop.extents.empty()) {  // one element
    loop.extents.push_back(1);
    for (auto& s : loop.strides) s.push_back(0);
  }
  return loop;
}

namespace {

/// Row-major position over some axes of a loop nest, with the source and destination offsets it
/// stands for. `pos` is storage for one counter per axis, owned by the caller (so a task on a
/// worker thread allocates nothing).
struct Odometer {
  const std::vector<std::size_t>& extents;
  const Strides& src_strides;
  const Strides& dst_strides;
  std::size_t* pos;
  std::ptrdiff_t src = 0, dst = 0;

  /// Moves to the flat (row-major) index i over the axes.
  void seek(std::size_t i) {
    src = dst = 0;
    for (std::size_t d = extents.size(); d-- > 0;) {
      pos[d] = i % extents[d];
      i /= extents[d];
      src += static_cast<std::ptrdiff_t>(pos[d]) * src_strides[d];
      dst += static_cast<std::ptrdiff_t>(pos[d]) * dst_strides[d];
    }
  }
  void next() {
    for (std::size_t d = extents.size(); d-- > 0;) {
      src += src_strides[d];
      dst += dst_strides[d];
      if (++pos[d] < extents[d]) return;
      src -= src_strides[d] * static_cast<std::ptrdiff_t>(extents[d]);
      dst -= dst_strides[d] * static_cast<std::ptrdiff_t>(extents[d]);
      pos[d] = 0;
    }
  }
};

/// Elements from `at` to the next cache line (0 when it starts one).
template <class T>
std::size_t to_line(const T* at) {
  constexpr std::size_t line = kLineBytes / sizeof(T);
  return (line - reinterpret_cast<std::uintptr_t>(at) / sizeof(T) % line) % line;
}

/// The number of tasks split_units makes of `units` units of work, `elements` elements in all.
std::size_t task_count(std::size_t units, std::size_t elements, std::size_t max_tasks) {
  const std::size_t threads = static_cast<std::size_t>(num_threads());
  if (threads < 2 || elements < 2 * kParallelMinChunk) return std::min<std::size_t>(units, 1);
  return std::min({units, max_tasks, 4 * threads});
}

/// Runs body(task, begin, end) over [0, units) split into contiguous ranges, one per task, on
/// tapegrad's threads when the copy is long enough (`elements` in all) to pay for waking them.
template <class Body>
void split_units(std::size_t units, std::size_t elements, std::size_t max_tasks, const Body& body) {
  const std::size_t tasks = task_count(units, elements, max_tasks);
  if (tasks <= 1) {
    body(0, 0, units);
    return;
  }
  const std::size_t base = units / tasks, extra = units % tasks;
  parallel_tasks(tasks, [&](std::size_t t) {
    const std::size_t begin = t * base + std::min(t, extra);
    body(t, begin, begin + base + (t < extra ? 1 : 0));
  });
}

/// The most tasks a copy is split into (the per-task counters are allocated up front).
constexpr std::size_t kMaxTasks = 64;

/// The 32-byte move of the blocks below: a memcpy, which compiles to two SSE moves.
struct MemcpyMove32 {
  static constexpr std::size_t kMoveBytes = 16;
  static void move32(const unsigned char* from, unsigned char* to) { std::memcpy(to, from, 32); }
};

/// The SSE2 blocks (moves only, the same bits as any copy) and the scalar one (int64, bool).
template <class T>
struct ScalarBlock : MemcpyMove32 {
  static constexpr std::ptrdiff_t kSize = 1;
  static void apply(const T* s, std::ptrdiff_t, T* d, std::ptrdiff_t) { d[0] = s[0]; }
  static void apply_rows(const T* s, const std::ptrdiff_t* off, T* d, std::ptrdiff_t) { d[0] = s[off[0]]; }
};
#if defined(__SSE2__)
struct SseFloat4 : MemcpyMove32 {
  static constexpr std::ptrdiff_t kSize = 4;
  static void apply(const float* s, std::ptrdiff_t sr, float* d, std::ptrdiff_t dr) {
    const std::ptrdiff_t off[4] = {0, sr, 2 * sr, 3 * sr};
    apply_rows(s, off, d, dr);
  }
  static void apply_rows(const float* s, const std::ptrdiff_t* off, float* d, std::ptrdiff_t dr) {
    __m128 r0 = _mm_loadu_ps(s + off[0]), r1 = _mm_loadu_ps(s + off[1]), r2 = _mm_loadu_ps(s + off[2]),
           r3 = _mm_loadu_ps(s + off[3]);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(d, r0);
    _mm_storeu_ps(d + dr, r1);
    _mm_storeu_ps(d + 2 * dr, r2);
    _mm_storeu_ps(d + 3 * dr, r3);
  }
};
struct SseDouble2 : MemcpyMove32 {
  static constexpr std::ptrdiff_t kSize = 2;
  static void apply(const double* s, std::ptrdiff_t sr, double* d, std::ptrdiff_t dr) {
    const std::ptrdiff_t off[2] = {0, sr};
    apply_rows(s, off, d, dr);
  }
  static void apply_rows(const double* s, const std::ptrdiff_t* off, double* d, std::ptrdiff_t dr) {
    const __m128d r0 = _mm_loadu_pd(s + off[0]), r1 = _mm_loadu_pd(s + off[1]);
    _mm_storeu_pd(d, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(d + dr, _mm_unpackhi_pd(r0, r1));
  }
};
#endif

bool have_avx() {
  // The CPU is asked first: strided_avx.cpp may hold AVX instructions anywhere.
  static const bool have = use_avx() && avx_planes_built();
  return have;
}

/// transpose_plane, or with a buffer (`buf`, float and double only) transpose_band, with the widest
/// block this CPU has for T.
template <class T>
void transpose_plane_any(const T* src, std::ptrdiff_t src_row, T* dst, std::ptrdiff_t dst_row, std::ptrdiff_t rows,
                         std::ptrdiff_t cols, T* buf) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (have_avx()) return transpose_plane_avx(src, src_row, dst, dst_row, rows, cols, buf);
#if defined(__SSE2__)
    using Sse = std::conditional_t<std::is_same_v<T, float>, SseFloat4, SseDouble2>;
    if (buf != nullptr) return transpose_band<Sse>(src, src_row, dst, dst_row, rows, cols, buf);
    return transpose_plane<Sse>(src, src_row, dst, dst_row, rows, cols);
#endif
  }
  transpose_plane<ScalarBlock<T>>(src, src_row, dst, dst_row, rows, cols);
}

/// transpose_window with the widest block this CPU has for T.
template <class T>
void transpose_window_any(const T* src, WindowColumns columns, T* dst, RowWalk walk, std::ptrdiff_t rows,
                          std::ptrdiff_t cols, std::ptrdiff_t first, T* buf, NextWindow next, DstMode mode) {
  // Only the AVX moves stream; the others store as for kStay (and prefetch for kFetch).
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (have_avx()) return transpose_window_avx(src, columns, dst, walk, rows, cols, first, buf, next, mode);
#if defined(__SSE2__)
    using Sse = std::conditional_t<std::is_same_v<T, float>, SseFloat4, SseDouble2>;
    if (mode == DstMode::kFetch)
      return transpose_window<Sse, true>(src, columns, dst, walk, rows, cols, first, buf, next);
    return transpose_window<Sse, false>(src, columns, dst, walk, rows, cols, first, buf, next);
#endif
  }
  if (mode == DstMode::kFetch)
    return transpose_window<ScalarBlock<T>, true>(src, columns, dst, walk, rows, cols, first, buf, next);
  transpose_window<ScalarBlock<T>, false>(src, columns, dst, walk, rows, cols, first, buf, next);
}

/// std::copy of n elements, through with_run_copy when the run is short: a permute that keeps the
/// innermost axis copies runs of a few cache lines.
template <class T>
void copy_run(const T* s, T* d, std::size_t n) {
  const std::size_t bytes = n * sizeof(T);
  if (bytes > 512 || bytes == 0) {
    std::copy(s, s + n, d);
    return;
  }
  with_run_copy<ScalarBlock<T>>(bytes, [&](const auto& copy) {
    copy(reinterpret_cast<const unsigned char*>(s), reinterpret_cast<unsigned char*>(d));
  });
}

/// std::fill of n elements, a cache line per step: std::fill compiles to a loop of one 16-byte
/// store, which ran an expanded column at 0.6x or 1.0x memcpy's speed depending on where the
/// linker put it (bench/PROFILE.md, session 19). With AVX, fill_avx's aligned 32-byte stores,
/// which took 0.57x the time of these lines (session 20).
template <class T>
void fill_run(T* d, std::size_t n, T value) {
  constexpr std::size_t k = kLineBytes / sizeof(T);
  std::size_t i = 0;
  if (n >= k) {
    T line[k];
    std::fill(line, line + k, value);
    if (have_avx())
      return fill_avx(reinterpret_cast<unsigned char*>(d), n * sizeof(T), reinterpret_cast<const unsigned char*>(line));
    for (; i + k <= n; i += k) std::memcpy(d + i, line, sizeof line);
  }
  std::fill(d + i, d + n, value);
}

/// The copy when no axis other than the innermost is contiguous in src, or the innermost is:
/// one run per position of the outer axes, a block copy (stride 1), a fill (stride 0) or a
/// strided gather.
template <class T>
void copy_runs(const T* src, const LoopNest& loop, T* dst) {
  const std::size_t rank = loop.extents.size(), n = loop.extents.back();
  const std::ptrdiff_t step = loop.strides[0].back();
  const std::vector<std::size_t> outer(loop.extents.begin(), loop.extents.end() - 1);
  const Strides src_strides(loop.strides[0].begin(), loop.strides[0].end() - 1);
  Strides dst_strides = contiguous_strides(loop.extents);
  dst_strides.pop_back();
  std::size_t units = 1;
  for (auto e : outer) units *= e;
  std::vector<std::size_t> counters(kMaxTasks * (rank - 1));
  // Block copies of 32 to 512 bytes go a row of the innermost outer axis at a time through
  // copy_run_batch, which picks its moves once for the row, not once per run as copy_run does
  // (that dispatch cost the permute (0,2,1,3) of (32,128,8,64) a third of its time:
  // bench/PROFILE.md, session 21).
  const std::size_t bytes = n * sizeof(T);
  const bool batched = step == 1 && bytes >= 32 && bytes <= 512 && rank >= 2;
  split_units(units, units * n, kMaxTasks, [&](std::size_t task, std::size_t begin, std::size_t end) {
    Odometer at{outer, src_strides, dst_strides, counters.data() + task * (rank - 1)};
    at.seek(begin);
    if (batched) {
      const std::size_t row = outer.back();
      const std::ptrdiff_t src_step = src_strides.back() * static_cast<std::ptrdiff_t>(sizeof(T)),
                           dst_step = dst_strides.back() * static_cast<std::ptrdiff_t>(sizeof(T));
      for (std::size_t u = begin; u < end;) {
        const std::size_t count = std::min(end - u, row - at.pos[rank - 2]);
        const auto* s = reinterpret_cast<const unsigned char*>(src + at.src);
        auto* d = reinterpret_cast<unsigned char*>(dst + at.dst);
        if (have_avx())
          copy_run_batch_avx(s, src_step, d, dst_step, count, bytes);
        else
          copy_run_batch<MemcpyMove32>(s, src_step, d, dst_step, count, bytes);
        u += count;
        if (u < end) at.seek(u);
      }
      return;
    }
    for (std::size_t u = begin; u < end; ++u, at.next()) {
      const T* s = src + at.src;
      T* d = dst + at.dst;
      if (step == 1)
        copy_run(s, d, n);
      else if (step == 0)
        fill_run(d, n, s[0]);
      else
        for (std::size_t j = 0; j < n; ++j) d[j] = s[static_cast<std::ptrdiff_t>(j) * step];
    }
  });
}

/// Some axes of a loop nest, in the order given, with their source strides, dst's (all_dst: dst
/// contiguous in the loop's order) and the number of their positions.
struct OuterAxes {
  std::vector<std::size_t> extents;
  Strides src, dst;
  std::size_t count = 1;
};
OuterAxes outer_axes(const LoopNest& loop, const Strides& all_dst, const std::vector<std::size_t>& axes) {
  OuterAxes o;
  for (std::size_t d : axes) {
    o.extents.push_back(loop.extents[d]);
    o.src.push_back(loop.strides[0][d]);
    o.dst.push_back(all_dst[d]);
    o.count *= loop.extents[d];
  }
  return o;
}

/// Windows of `width` over [0, n) that start `head` (less than a cache line) past 0, so that all
/// but the first start on a line. With `merge` the first window takes the head on (it ends at
/// head + width) and a last one shorter than `min_tail` joins the one before it, so no window is
/// longer than width + head + min_tail - 1; without, the head is a window of its own and the
/// last is whatever is left, so none is longer than width.
struct Windows {
  std::size_t n, head, width, count;
  bool lead;  // the head is a window of its own
  Windows(std::size_t n_, std::size_t head_, std::size_t width_, bool merge, std::size_t min_tail)
      : n(n_), head(std::min(head_, n_)), width(width_), lead(!merge && head > 0) {
    const std::size_t first = lead ? head : std::min(n, head + width);
    count = 1 + (n - first + width - 1) / width;
    if (merge && count > 1 && n - start(count - 1) < min_tail) --count;
  }
  std::size_t start(std::size_t k) const { return k == 0 ? 0 : head + (k - lead) * width; }
  std::size_t end(std::size_t k) const { return k + 1 == count ? n : start(k + 1); }
};

/// copy_tiled when dst continues the rows of the (p, last) plane with the axis q before last (q =
/// rank - 2, not p): a transpose of the plane at each position of the other axes, a window at a
/// time through a buffer in L1 (transpose_window), whose rows run along p and whose columns along
/// last and on along q, so that dst is written in runs of several planes' rows. The rows run on
/// along an axis r too when the source continues p's rows with it (r's source stride is p's
/// extent). The reversal (3,2,1,0) of (a,b,c,d) thus reads the source in runs over (c,d) and
/// writes dst in runs over (b,a), where plane by plane it would write runs of 128 bytes far apart.
///
/// The windows start on the source's cache lines along the rows and on dst's along the columns
/// (the first ends a part line early or late), so that no line is read or written by two windows:
/// a tensor's buffer is 16 bytes past a line when large (malloc's), and each line two windows
/// shared cost a second trip to L3, as each line of a plane's rows the next plane shared did
/// (bench/PROFILE.md, session 15). The rows are walked innermost (the source in order along
/// them), then the columns, then the other axes, largest source stride outermost.
template <class T>
void copy_windows(const T* src, const LoopNest& loop, std::size_t p, T* dst) {
  const std::size_t rank = loop.extents.size(), last = rank - 1, q = rank - 2;
  const Shape& ext = loop.extents;
  const Strides& ss = loop.strides[0];
  const Strides ds = contiguous_strides(ext);
  std::size_t r = rank;  // rank: none
  for (std::size_t d = 0; d < q && r == rank; ++d)
    if (d != p && ss[d] == static_cast<std::ptrdiff_t>(ext[p])) r = d;
  const bool has_r = r < rank;
  const std::size_t n_rows = ext[p] * (has_r ? ext[r] : 1), n_cols = ext[last] * ext[q];

  std::vector<std::size_t> order;  // the other axes, largest source stride first
  for (std::size_t d = 0; d < q; ++d)
    if (d != p && d != r) order.push_back(d);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return std::abs(ss[x]) > std::abs(ss[y]); });
  const OuterAxes outer = outer_axes(loop, ds, order);

  // Every row (column) of every window starts at the same place in a cache line when all the
  // strides but the rows' (columns') own are whole lines; then the windows start on lines.
  constexpr std::size_t line = kLineBytes / sizeof(T), width = kWindowRunBytes / sizeof(T),
                        height = std::max(kWindowBytes / kWindowRunBytes, line);
  static_assert(height % line == 0, "row windows start on lines");
  const auto whole_lines = [&](const Strides& strides, std::initializer_list<std::size_t> axes) {
    bool all = std::all_of(order.begin(), order.end(), [&](std::size_t d) { return strides[d] % line == 0; });
    for (std::size_t d : axes) all = all && (d == rank || strides[d] % line == 0);
    return all;
  };
  // Row windows take their head (and a short last window) on, their rows in the buffer have
  // room; column windows are at most a buffer row (window_stride<T>), so their head is a window.
  const Windows rows(n_rows, whole_lines(ss, {last, q}) ? to_line(src) : 0, height, true, line);
  const Windows cols(n_cols, n_cols > width && whole_lines(ds, {p, r}) ? to_line(dst) : 0, width, false, 0);

  const std::ptrdiff_t src_col = ss[last], src_q = ss[q], dst_row = ds[p], dst_r = has_r ? ds[r] : 0;
  const std::size_t units = outer.count * cols.count * rows.count, elements = outer.count * n_rows * n_cols;
  const std::size_t max_rows = std::min(n_rows, height + 2 * line), max_cols = width;
  static_assert(window_stride<T> >= static_cast<std::ptrdiff_t>(width), "a window's columns fit a buffer row");
  const std::size_t per_task = max_rows * static_cast<std::size_t>(window_stride<T>) + line;  // and a line to align it
  const std::size_t tasks = task_count(units, elements, kMaxTasks);
  const bool stream = elements * sizeof(T) >= stream_min_bytes();
  const DstMode mode = stream                                           ? DstMode::kStream
                       : 2 * elements * sizeof(T) >= stream_min_bytes() ? DstMode::kFetch
                                                                        : DstMode::kStay;
  // Per task, allocated here (tasks run noexcept on the workers): the buffer, 64-byte aligned,
  // the source offset of each column of a window and of the next column window, and the strides
  // of a window's blocks of columns (WindowColumns::step).
  const std::unique_ptr<T[]> buffers(new T[tasks * per_task]);
  std::vector<std::ptrdiff_t> offsets(tasks * 3 * max_cols);
  std::vector<std::size_t> counters(kMaxTasks * outer.extents.size());
  split_units(units, elements, kMaxTasks, [&](std::size_t task, std::size_t begin, std::size_t end) {
    T* buf = buffers.get() + task * per_task;
    buf += to_line(buf);
    std::ptrdiff_t* col_src = offsets.data() + task * 3 * max_cols;
    std::ptrdiff_t* next_src = col_src + max_cols;
    std::ptrdiff_t* col_step = next_src + max_cols;
    Odometer at{outer.extents, outer.src, outer.dst, counters.data() + task * outer.extents.size()};
    at.seek(begin / (cols.count * rows.count));
    for (std::size_t u = begin; u < end; ++u) {
      const std::size_t rw = u % rows.count, cw = u / rows.count % cols.count;
      if (u != begin && rw == 0 && cw == 0) at.next();
      const std::size_t i0 = rows.start(rw), i1 = rows.end(rw), j0 = cols.start(cw), j1 = cols.end(cw);
      // Column j is (q, last) = (j / ext[last], j % ext[last]); the row windows of a column window
      // share its offsets.
      const auto column_offsets = [&](std::size_t from, std::size_t to, std::ptrdiff_t* out) {
        for (std::size_t j = from, k = from / ext[last], l = from % ext[last]; j < to; ++j) {
          out[j - from] = static_cast<std::ptrdiff_t>(k) * src_q + static_cast<std::ptrdiff_t>(l) * src_col;
          if (++l == ext[last]) l = 0, ++k;
        }
      };
      const bool fresh = u == begin || rw == 0;
      if (fresh) column_offsets(j0, j1, col_src);
      // Row i is (r, p) = (i / ext[p], i % ext[p]).
      const auto run = static_cast<std::ptrdiff_t>(ext[p]), k = static_cast<std::ptrdiff_t>(i0 / ext[p]),
                 l = static_cast<std::ptrdiff_t>(i0 % ext[p]);
      const RowWalk walk{dst_row, dst_r - (run - 1) * dst_row, run, l};
      const auto first = static_cast<std::ptrdiff_t>(rw == 0 ? rows.head : 0);  // where the source's lines start
      // Each window prefetches the source of the one after it in this task (see transpose_window):
      // the next row window, or after a column window's last, the next column window's first.
      NextWindow next;
      if (rw + 1 < rows.count && u + 1 < end) {
        next = {static_cast<std::ptrdiff_t>(rows.start(rw + 1) - i0),
                static_cast<std::ptrdiff_t>(rows.end(rw + 1) - rows.start(rw + 1))};
      } else if (cw + 1 < cols.count && u + 1 < end) {
        column_offsets(cols.start(cw + 1), cols.end(cw + 1), next_src);
        next = {-static_cast<std::ptrdiff_t>(i0), static_cast<std::ptrdiff_t>(rows.end(0)), next_src,
                static_cast<std::ptrdiff_t>(cols.end(cw + 1) - cols.start(cw + 1))};
      }
      transpose_window_any(src + at.src + static_cast<std::ptrdiff_t>(i0), WindowColumns{col_src, col_step, fresh},
                           dst + at.dst + static_cast<std::ptrdiff_t>(j0) + k * dst_r + l * dst_row, walk,
                           static_cast<std::ptrdiff_t>(i1 - i0), static_cast<std::ptrdiff_t>(j1 - j0), first, buf, next,
                           mode);
    }
#if defined(__SSE2__)
    if (stream) _mm_sfence();  // the non-temporal stores reach memory before the task reports done
#endif
  });
}

/// The copy when the innermost axis of dst is strided in src and another axis p is contiguous
/// there (a transpose of axes p and last, with other axes around): the (p, last) plane of each
/// position of the other axes, in slices of kPlaneCols columns (see transpose_plane.hpp); or, when
/// dst continues the plane's rows with the axis before last, copy_windows. (Plain planes, as in 2-d
/// and batched transposes, took 1.0-2.0x the time through copy_windows' buffer: bench/PROFILE.md,
/// session 15.)
///
/// Float and double copies of at least band_min_bytes() whose source rows start at one place in a
/// cache line go through transpose_band, in slices of kBandCols columns, except those that stream
/// their output: a source that large is not in L2, which transpose_band's bands read better than
/// transpose_plane's. Smaller planes stay in L2, where the buffer's copy only costs; rows that
/// straddle lines differently each read a third line per band; and from memory transpose_plane's
/// longer dst runs won (bench/PROFILE.md, session 21).
template <class T>
void copy_tiled(const T* src, const LoopNest& loop, std::size_t p, T* dst) {
  const std::size_t rank = loop.extents.size();
  if (rank >= 3 && p != rank - 2) return copy_windows(src, loop, p, dst);
  const Strides all_dst = contiguous_strides(loop.extents);
  std::vector<std::size_t> axes;  // all but p and the innermost
  for (std::size_t d = 0; d + 1 < rank; ++d)
    if (d != p) axes.push_back(d);
  const OuterAxes outer = outer_axes(loop, all_dst, axes);
  const auto rows = static_cast<std::ptrdiff_t>(loop.extents[p]),
             cols = static_cast<std::ptrdiff_t>(loop.extents.back());
  const std::ptrdiff_t src_row = loop.strides[0].back(), dst_row = all_dst[p];
  constexpr auto line = static_cast<std::ptrdiff_t>(kLineBytes / sizeof(T));
  const std::size_t elements = outer.count * loop.extents[p] * loop.extents.back(), bytes = elements * sizeof(T);
  const bool banded = (std::is_same_v<T, float> || std::is_same_v<T, double>)&&bytes >= band_min_bytes() &&
                      bytes < stream_min_bytes() && src_row % line == 0;
  const std::ptrdiff_t width = banded ? kBandCols : kPlaneCols;
  // A unit is a block of at most kUnitRows rows by about `width` columns of the plane at one
  // position of the other axes, so planes of any shape split over the threads.
  constexpr std::ptrdiff_t kUnitRows = 1024;
  const auto slices = static_cast<std::size_t>((cols + width - 1) / width);
  const auto row_blocks = static_cast<std::size_t>((rows + kUnitRows - 1) / kUnitRows);
  const std::size_t per_plane = slices * row_blocks, units = outer.count * per_plane;
  // Per task when banded, allocated here (tasks run noexcept on the workers): the buffer, 64-byte
  // aligned (a band's rows: two source lines' worth).
  const std::size_t per_task = banded ? static_cast<std::size_t>(2 * line * band_stride<T> + line) : 0;
  const std::unique_ptr<T[]> buffers(banded ? new T[task_count(units, elements, kMaxTasks) * per_task] : nullptr);
  std::vector<std::size_t> counters(kMaxTasks * outer.extents.size());
  split_units(units, elements, kMaxTasks, [&](std::size_t task, std::size_t begin, std::size_t end) {
    T* buf = nullptr;
    if (banded) {
      buf = buffers.get() + task * per_task;
      buf += to_line(buf);
    }
    Odometer at{outer.extents, outer.src, outer.dst, counters.data() + task * outer.extents.size()};
    at.seek(begin / per_plane);
    for (std::size_t u = begin; u < end; ++u) {
      const std::size_t in_plane = u % per_plane;
      if (u != begin && in_plane == 0) at.next();
      // Slices end where dst's rows reach a cache line boundary, so that no line is written by two
      // slices, or two threads (the first is shorter, the last longer, by less than a line).
      const auto line_shift = static_cast<std::ptrdiff_t>((reinterpret_cast<std::uintptr_t>(dst + at.dst) / sizeof(T)) %
                                                          static_cast<std::uintptr_t>(line));
      const auto slice = static_cast<std::ptrdiff_t>(in_plane % slices);
      const std::ptrdiff_t j0 = std::max<std::ptrdiff_t>(0, slice * width - line_shift);
      const std::ptrdiff_t j1 =
          slice + 1 == static_cast<std::ptrdiff_t>(slices) ? cols : (slice + 1) * width - line_shift;
      const auto i0 = static_cast<std::ptrdiff_t>(in_plane / slices) * kUnitRows;
      transpose_plane_any(src + at.src + i0 + j0 * src_row, src_row, dst + at.dst + i0 * dst_row + j0, dst_row,
                          std::min(kUnitRows, rows - i0), j1 - j0, buf);
    }
  });
}

}  // namespace

template <class T>
void strided_copy(const T* src, const Shape& shape, const Strides& strides, T* dst) {
  if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) return;
  const LoopNest loop = collapse_axes(shape, {strides});
  const std::size_t rank = loop.extents.size();
  const std::ptrdiff_t inner = loop.strides[0].back();
  if (inner != 0 && inner != 1)
    for (std::size_t p = 0; p + 1 < rank; ++p)
      if (loop.strides[0][p] == 1) return copy_tiled(src, loop, p, dst);
  copy_runs(src, loop, dst);
}

template void strided_copy<float>(const float*, const Shape&, const Strides&, float*);
template void strided_copy<double>(const double*, const Shape&, const Strides&, double*);
template void strided_copy<std::int64_t>(const std::int64_t*, const Shape&, const Strides&, std::int64_t*);
template void strided_copy<bool>(const bool*, const Shape&, const Strides&, bool*);

}  // namespace tg::detail
