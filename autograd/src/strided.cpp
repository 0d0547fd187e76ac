// Strided copies and broadcast loops (see strided.hpp).
#include "strided.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "parallel.hpp"
#include "transpose_plane.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace tg::detail {

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
};
#if defined(__SSE2__)
struct SseFloat4 : MemcpyMove32 {
  static constexpr std::ptrdiff_t kSize = 4;
  static void apply(const float* s, std::ptrdiff_t sr, float* d, std::ptrdiff_t dr) {
    __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + sr), r2 = _mm_loadu_ps(s + 2 * sr),
           r3 = _mm_loadu_ps(s + 3 * sr);
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
    const __m128d r0 = _mm_loadu_pd(s), r1 = _mm_loadu_pd(s + sr);
    _mm_storeu_pd(d, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(d + dr, _mm_unpackhi_pd(r0, r1));
  }
};
#endif

bool have_avx() {
  // The CPU is asked first: strided_avx.cpp may hold AVX instructions anywhere.
  static const bool have = __builtin_cpu_supports("avx") && avx_planes_built();
  return have;
}

/// transpose_plane with the widest block this CPU has for T.
template <class T>
void transpose_plane_any(const T* src, std::ptrdiff_t src_row, T* dst, std::ptrdiff_t dst_row, std::ptrdiff_t rows,
                         std::ptrdiff_t cols) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (have_avx()) return transpose_plane_avx(src, src_row, dst, dst_row, rows, cols);
#if defined(__SSE2__)
    using Sse = std::conditional_t<std::is_same_v<T, float>, SseFloat4, SseDouble2>;
    return transpose_plane<Sse>(src, src_row, dst, dst_row, rows, cols);
#endif
  }
  transpose_plane<ScalarBlock<T>>(src, src_row, dst, dst_row, rows, cols);
}

/// transpose_group with the widest block this CPU has for T.
template <class T>
void transpose_group_any(const T* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, T* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n, T* buf) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (have_avx()) return transpose_group_avx(src, src_row, src_plane, dst, dst_row, rows, cols, n, buf);
#if defined(__SSE2__)
    using Sse = std::conditional_t<std::is_same_v<T, float>, SseFloat4, SseDouble2>;
    return transpose_group<Sse>(src, src_row, src_plane, dst, dst_row, rows, cols, n, buf);
#endif
  }
  transpose_group<ScalarBlock<T>>(src, src_row, src_plane, dst, dst_row, rows, cols, n, buf);
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
  split_units(units, units * n, kMaxTasks, [&](std::size_t task, std::size_t begin, std::size_t end) {
    Odometer at{outer, src_strides, dst_strides, counters.data() + task * (rank - 1)};
    at.seek(begin);
    for (std::size_t u = begin; u < end; ++u, at.next()) {
      const T* s = src + at.src;
      T* d = dst + at.dst;
      if (step == 1)
        copy_run(s, d, n);
      else if (step == 0)
        std::fill(d, d + n, s[0]);
      else
        for (std::size_t j = 0; j < n; ++j) d[j] = s[static_cast<std::ptrdiff_t>(j) * step];
    }
  });
}

/// The axes [0, end) of a loop nest but `skip`, with their source strides, dst's (all_dst: dst
/// contiguous in the loop's order) and the number of their positions.
struct OuterAxes {
  std::vector<std::size_t> extents;
  Strides src, dst;
  std::size_t count = 1;
};
OuterAxes outer_axes(const LoopNest& loop, const Strides& all_dst, std::size_t skip, std::size_t end) {
  OuterAxes o;
  for (std::size_t d = 0; d < end; ++d)
    if (d != skip) {
      o.extents.push_back(loop.extents[d]);
      o.src.push_back(loop.strides[0][d]);
      o.dst.push_back(all_dst[d]);
      o.count *= loop.extents[d];
    }
  return o;
}

/// copy_tiled when dst's rows of the (p, last) plane are short and far apart, and the axis q
/// just outside dst's last (q = rank - 2, not p) puts the next plane's rows right after them: a
/// reversal like (3,2,1,0). Plane by plane, each short row would be written alone, into lines
/// whose neighbours come a plane later and whose page and cache set every other row shares.
/// Here `group` planes along q at a time go through a buffer (transpose_group).
///
/// The groups and the other outer axes are walked with the smallest source stride innermost, so
/// that consecutive groups read the source rows right after the last ones (in the reversal, the
/// axis before the last in the source, not the groups along q) and the source is read page by
/// page; dst is written in runs in any order.
template <class T>
void copy_grouped(const T* src, const LoopNest& loop, const Strides& all_dst, std::size_t p, std::size_t group,
                  T* dst) {
  const std::size_t rank = loop.extents.size(), q = rank - 2;
  const auto rows = static_cast<std::ptrdiff_t>(loop.extents[p]),
             cols = static_cast<std::ptrdiff_t>(loop.extents.back()),
             along = static_cast<std::ptrdiff_t>(loop.extents[q]);
  const std::ptrdiff_t src_row = loop.strides[0].back(), dst_row = all_dst[p], src_q = loop.strides[0][q];
  const auto g = static_cast<std::ptrdiff_t>(group);
  const auto groups = static_cast<std::size_t>((along + g - 1) / g);
  // The outer axes and one for the groups (a step of it moves g planes along q), ordered by source
  // stride, largest first.
  OuterAxes outer = outer_axes(loop, all_dst, p, q), walk;
  const std::size_t plane = loop.extents[p] * loop.extents.back(), elements = outer.count * loop.extents[q] * plane;
  outer.extents.push_back(groups);
  outer.src.push_back(g * src_q);
  outer.dst.push_back(g * cols);
  std::vector<std::size_t> order(outer.extents.size());
  for (std::size_t d = 0; d < order.size(); ++d) order[d] = d;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return std::abs(outer.src[x]) > std::abs(outer.src[y]); });
  for (std::size_t d : order) {
    walk.extents.push_back(outer.extents[d]);
    walk.src.push_back(outer.src[d]);
    walk.dst.push_back(outer.dst[d]);
    walk.count *= outer.extents[d];
  }
  const auto group_axis =
      static_cast<std::size_t>(std::find(order.begin(), order.end(), order.size() - 1) - order.begin());
  const std::size_t units = walk.count;
  // One buffer per task, allocated here: tasks run noexcept on the workers. 64-byte aligned.
  const std::size_t tasks = task_count(units, elements, kMaxTasks), pad = 64 / sizeof(T),
                    per_task = group * plane + pad;
  const std::unique_ptr<T[]> buffers(new T[tasks * per_task]);
  std::vector<std::size_t> counters(kMaxTasks * walk.extents.size());
  split_units(units, elements, kMaxTasks, [&](std::size_t task, std::size_t begin, std::size_t end) {
    T* buf = buffers.get() + task * per_task;
    buf += (pad - (reinterpret_cast<std::uintptr_t>(buf) / sizeof(T)) % pad) % pad;
    std::size_t* pos = counters.data() + task * walk.extents.size();
    Odometer at{walk.extents, walk.src, walk.dst, pos};
    at.seek(begin);
    for (std::size_t u = begin; u < end; ++u, at.next()) {
      const auto k0 = static_cast<std::ptrdiff_t>(pos[group_axis]) * g;
      transpose_group_any(src + at.src, src_row, src_q, dst + at.dst, dst_row, rows, cols, std::min(g, along - k0),
                          buf);
    }
  });
}

/// The copy when the innermost axis of dst is strided in src and another axis p is contiguous
/// there (a transpose of axes p and last, with other axes around): the (p, last) plane of each
/// position of the other axes, in slices of kPlaneCols columns (see transpose_plane.hpp).
template <class T>
void copy_tiled(const T* src, const LoopNest& loop, std::size_t p, T* dst) {
  const std::size_t rank = loop.extents.size();
  const Strides all_dst = contiguous_strides(loop.extents);
  // Group planes (copy_grouped) when dst's plane rows are runs of at most 4 cache lines on
  // different pages: as many planes as fill an L1 data cache, or one of up to that size (a
  // larger buffer, in L2, was slower: bench/PROFILE.md, session 14).
  if (rank >= 3 && p != rank - 2) {
    constexpr std::size_t kBufferBytes = std::size_t{32} << 10;
    const std::size_t run = loop.extents.back() * sizeof(T), plane = loop.extents[p] * run,
                      row = static_cast<std::size_t>(all_dst[p]) * sizeof(T);
    const std::size_t group = std::min(loop.extents[rank - 2], std::max<std::size_t>(1, kBufferBytes / plane));
    if (run <= 256 && row >= 4096 && plane <= kBufferBytes) return copy_grouped(src, loop, all_dst, p, group, dst);
  }
  const OuterAxes outer = outer_axes(loop, all_dst, p, rank - 1);
  const auto rows = static_cast<std::ptrdiff_t>(loop.extents[p]),
             cols = static_cast<std::ptrdiff_t>(loop.extents.back());
  const std::ptrdiff_t src_row = loop.strides[0].back(), dst_row = all_dst[p];
  // A unit is a block of at most kUnitRows rows by about kPlaneCols columns of the plane at one
  // position of the other axes, so planes of any shape split over the threads.
  constexpr std::ptrdiff_t kUnitRows = 1024;
  const auto slices = static_cast<std::size_t>((cols + kPlaneCols - 1) / kPlaneCols);
  const auto row_blocks = static_cast<std::size_t>((rows + kUnitRows - 1) / kUnitRows);
  const std::size_t per_plane = slices * row_blocks;
  std::vector<std::size_t> counters(kMaxTasks * outer.extents.size());
  split_units(outer.count * per_plane, outer.count * loop.extents[p] * loop.extents.back(), kMaxTasks,
              [&](std::size_t task, std::size_t begin, std::size_t end) {
                Odometer at{outer.extents, outer.src, outer.dst, counters.data() + task * outer.extents.size()};
                at.seek(begin / per_plane);
                for (std::size_t u = begin; u < end; ++u) {
                  const std::size_t in_plane = u % per_plane;
                  if (u != begin && in_plane == 0) at.next();
                  // Slices end where dst's rows reach a cache line boundary, so that no line is
                  // written by two slices, or two threads (the first is shorter, the last longer).
                  const auto line_shift = static_cast<std::ptrdiff_t>(
                      (reinterpret_cast<std::uintptr_t>(dst + at.dst) / sizeof(T)) % (64 / sizeof(T)));
                  const auto slice = static_cast<std::ptrdiff_t>(in_plane % slices);
                  const std::ptrdiff_t j0 = std::max<std::ptrdiff_t>(0, slice * kPlaneCols - line_shift);
                  const std::ptrdiff_t j1 =
                      slice + 1 == static_cast<std::ptrdiff_t>(slices) ? cols : (slice + 1) * kPlaneCols - line_shift;
                  const auto i0 = static_cast<std::ptrdiff_t>(in_plane / slices) * kUnitRows;
                  transpose_plane_any(src + at.src + i0 + j0 * src_row, src_row, dst + at.dst + i0 * dst_row + j0,
                                      dst_row, std::min(kUnitRows, rows - i0), j1 - j0);
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
