// Private: the transposing copy of one plane, dst[i * dst_row + j] = src[i + j * src_row], straight
// (transpose_plane) or through a buffer (transpose_band), of a window of rows and columns anywhere
// through a buffer (transpose_window), and the batched runs of copies that keep the innermost axis
// (copy_run_batch), written once over a register-transpose block or a 32-byte move, so strided.cpp
// (SSE2 and scalar blocks) and strided_avx.cpp (AVX blocks, compiled with -mavx, called only on
// CPUs that have it) share the loop order. Each instantiation's block type belongs to one
// translation unit, so no instantiation is compiled twice with different instruction sets (hence
// no non-template inline helpers here).
//
// transpose_plane's loop order: bands of kBand rows of dst; within a band, one block of columns
// after another. A band reads kBand consecutive elements of each source row it passes, and the
// callers hand this a plane of at most about kPlaneCols columns (source rows), so the source lines
// a band leaves half read are still in L2 when the next band reads their other half
// (transpose_band reads both halves at once, for planes whose source is not in L2), and the pages
// it touches stay within the TLB. Each band also prefetches the source lines kPrefetchLines ahead
// along the rows it passes, when the plane is too large to stay in cache: each of a block's loads
// moves kBand source rows per block (16 KiB for float32 rows of 2 KiB), past any stream the
// hardware's prefetchers follow, so the first band over each line waited on every line it read
// (bench/PROFILE.md, session 19).
//
// Alignment: a tensor's buffer is malloc's (16 bytes past a page for large ones), so 32-byte
// loads and stores at offsets counted from it would straddle cache lines every other time. Bands
// start where the source is aligned to a band and blocks where dst is aligned to a block; the
// first band or block before those starts, and the last one, sit at the plane's edges and overlap
// their neighbours. Blocks only move bits and src never overlaps dst, so writing an element twice
// leaves the same result as any order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tg::detail {

/// A cache line, in bytes.
constexpr std::size_t kLineBytes = 64;
/// Rows of dst per band.
constexpr std::ptrdiff_t kBand = 8;
/// The columns of dst (rows of src) a caller hands transpose_plane at once, give or take a cache
/// line (the slices start where dst is aligned to one).
constexpr std::ptrdiff_t kPlaneCols = 256;
/// How many cache lines ahead of a band, along each source row, transpose_plane prefetches; and
/// the least source a plane must span for it to prefetch at all: a smaller plane stays in L2 from
/// one band (or call) to the next, where the prefetches only cost (10-20% of a 300x100
/// transpose, bench/PROFILE.md, session 19).
constexpr std::ptrdiff_t kPrefetchLines = 2, kPrefetchMinBytes = std::ptrdiff_t{256} << 10;

/// Calls f(k) for the start of windows of `len` covering [0, n), n >= len: 0, then every multiple
/// of len past `first` (0 <= first < len), then n - len when those leave a remainder.
template <class F>
void each_window(std::ptrdiff_t n, std::ptrdiff_t len, std::ptrdiff_t first, const F& f) {
  if (first != 0) f(0);
  std::ptrdiff_t k = first;
  for (; k + len <= n; k += len) f(k);
  if (k < n) f(n - len);
}

/// Elements from p to the next multiple of n elements: the same for every row when the row
/// length is a multiple of n, else nothing to gain (0). (Block only keeps each instantiation in
/// its block's translation unit, see above.)
template <class Block, class T>
std::ptrdiff_t to_aligned(const T* p, std::ptrdiff_t row, std::ptrdiff_t n) {
  if (row % n != 0) return 0;
  const auto at =
      static_cast<std::ptrdiff_t>((reinterpret_cast<std::uintptr_t>(p) / sizeof(T)) % static_cast<std::uintptr_t>(n));
  return (n - at) % n;
}

/// Block::apply transposes a Block::kSize square (kSize divides kBand): dst[a * dst_row + b] =
/// src[a + b * src_row] for a, b < kSize; Block::apply_rows the same with row b of the source at
/// src + off[b]. (Block::move32 copies 32 bytes, for the runs of transpose_window.)
template <class Block, class T>
void transpose_plane(const T* src, std::ptrdiff_t src_row, T* dst, std::ptrdiff_t dst_row, std::ptrdiff_t rows,
                     std::ptrdiff_t cols) {
  constexpr std::ptrdiff_t B = Block::kSize;
  static_assert(kBand % B == 0, "a band is whole blocks");
  if (rows < kBand || cols < B) {
    for (std::ptrdiff_t i = 0; i < rows; ++i)
      for (std::ptrdiff_t j = 0; j < cols; ++j) dst[i * dst_row + j] = src[i + j * src_row];
    return;
  }
  // A line holds `bands` bands' worth of a row; each band prefetches every bands-th row of a
  // block, and bands in turn take the others, so every row's line ahead is asked for once.
  constexpr auto line = static_cast<std::ptrdiff_t>(kLineBytes / sizeof(T));
  constexpr std::ptrdiff_t ahead = kPrefetchLines * line;
  constexpr std::ptrdiff_t bands = line > kBand ? line / kBand : 1;
  const bool far =
      cols * (src_row < 0 ? -src_row : src_row) * static_cast<std::ptrdiff_t>(sizeof(T)) >= kPrefetchMinBytes;
  const std::ptrdiff_t first = to_aligned<Block>(src, src_row, kBand);
  each_window(rows, kBand, first, [&](std::ptrdiff_t i) {
    const bool prefetch = far && i + ahead < rows;  // within the plane: no pointer past the source
    const std::ptrdiff_t turn = ((i - first) / kBand % bands + bands) % bands;
    each_window(cols, B, to_aligned<Block>(dst, dst_row, B), [&](std::ptrdiff_t j) {
      for (std::ptrdiff_t h = 0; h < kBand; h += B)
        Block::apply(src + i + h + j * src_row, src_row, dst + (i + h) * dst_row + j, dst_row);
#if defined(__GNUC__)
      if (prefetch)
        for (std::ptrdiff_t k = turn; k < B; k += bands) __builtin_prefetch(src + i + ahead + (j + k) * src_row);
#endif
    });
  });
}

/// Copies one run of `bytes` bytes (at least 32) in Move32::move32's 32-byte moves, the last
/// overlapping the one before: the rows going out of transpose_band's and transpose_window's
/// buffers, and copy_run_batch's runs.
template <class Move32>
void move_run(const unsigned char* src, unsigned char* dst, std::size_t bytes) {
  const auto last = static_cast<std::ptrdiff_t>(bytes) - 32;
  for (std::ptrdiff_t o = 0; o < last; o += 32) Move32::move32(src + o, dst + o);
  Move32::move32(src + last, dst + last);
}

/// Copies `count` runs of `bytes` bytes (at least 32), run k from src + k * src_step to dst +
/// k * dst_step, with move_run: the runs of a permute that keeps the innermost axis, with no
/// dispatch per run (see copy_runs), and the rows of a transpose_band's band.
template <class Move32>
void copy_run_batch(const unsigned char* src, std::ptrdiff_t src_step, unsigned char* dst, std::ptrdiff_t dst_step,
                    std::size_t count, std::size_t bytes) {
  for (std::size_t k = 0; k < count; ++k, src += src_step, dst += dst_step) move_run<Move32>(src, dst, bytes);
}

/// The columns of dst a caller hands transpose_band at once (give or take a cache line, as for
/// transpose_plane), the row stride of its buffer (a line more: the longest slice fits, and the
/// stride is not a power of two, so the buffer's rows spread over the cache sets), and the least
/// source a copy must have for its planes to go through transpose_band.
constexpr std::ptrdiff_t kBandCols = 128;
template <class T>
constexpr std::ptrdiff_t band_stride = kBandCols + static_cast<std::ptrdiff_t>(kLineBytes / sizeof(T));
constexpr std::size_t kBandMinBytes = std::size_t{1} << 20;

/// Calls f(copy) with copy(from, to) copying `bytes` (at least 1) bytes in fixed-size moves, the
/// size picked once, so that loops copying many runs of one length pay no call or dispatch per
/// run (memmove's cost as much as a run of a few cache lines). With kAlignToDst the moves are
/// aligned to `to` (the first and last overlap their neighbours), else they start at the run's
/// start (only the last overlaps): for runs of a few lines from a buffer in L1, computing the
/// alignment of every run cost more than the lines the moves straddle (bench/PROFILE.md,
/// session 14).
/// Move32::move32(from, to) copies 32 bytes (GCC splits a 32-byte memcpy into two 16-byte moves
/// even with AVX, which costs the reversal's stores a third of their speed); with kAlignToDst,
/// in moves of Move32::kMoveBytes, to which the windows are aligned.
template <class Move32, bool kAlignToDst = true, class F>
void with_run_copy(std::size_t bytes, const F& f) {
  auto chunks = [&](auto size) {
    constexpr std::size_t k = decltype(size)::value;
    auto move = [](const unsigned char* from, unsigned char* to) {
      if constexpr (k == 32)
        Move32::move32(from, to);
      else
        std::memcpy(to, from, k);
    };
    f([bytes, move](const unsigned char* from, unsigned char* to) {
      const auto n = static_cast<std::ptrdiff_t>(bytes), len = static_cast<std::ptrdiff_t>(k);
      std::ptrdiff_t first = 0;
      if constexpr (kAlignToDst) {  // a store across two cache lines costs two
        constexpr std::size_t a = k < Move32::kMoveBytes ? k : Move32::kMoveBytes;
        first = static_cast<std::ptrdiff_t>((a - reinterpret_cast<std::uintptr_t>(to) % a) % a);
      }
      each_window(n, len, first, [&](std::ptrdiff_t i) { move(from + i, to + i); });
    });
  };
  if (bytes >= 32)
    chunks(std::integral_constant<std::size_t, 32>());
  else if (bytes >= 16)
    chunks(std::integral_constant<std::size_t, 16>());
  else if (bytes >= 8)
    chunks(std::integral_constant<std::size_t, 8>());
  else if (bytes >= 4)
    chunks(std::integral_constant<std::size_t, 4>());
  else
    f([bytes](const unsigned char* from, unsigned char* to) {
      for (std::size_t i = 0; i < bytes; ++i) to[i] = from[i];
    });
}

/// transpose_plane for planes whose source comes from L3 or memory: bands of two source lines
/// worth of dst rows (32 float32 rows), each transposed into buf (rows of band_stride<T>, 64-byte
/// aligned, cols <= band_stride<T>) and then copied out a row at a time. A band reads both halves
/// of every source line it passes in consecutive blocks, where transpose_plane's bands of 8 rows
/// read each line twice, 256 rows apart: source rows a power of two apart share two L1 sets, so
/// the second read came from L2 every time. The buffer keeps the 32 dst rows, which share one set
/// as well, out of L1 until they go out whole. Each band prefetches the next band's source lines
/// into L2 as it passes them (bench/PROFILE.md, session 21). Plain loops: captured by a lambda,
/// the pointers and strides were reloaded after every store (the blocks' stores may alias them).
template <class Block, class T>
void transpose_band(const T* src, std::ptrdiff_t src_row, T* dst, std::ptrdiff_t dst_row, std::ptrdiff_t rows,
                    std::ptrdiff_t cols, T* buf) {
  constexpr std::ptrdiff_t B = Block::kSize, S = band_stride<T>;
  constexpr auto line = static_cast<std::ptrdiff_t>(kLineBytes / sizeof(T));
  constexpr std::ptrdiff_t band = 2 * line;
  static_assert(band % B == 0, "a band is whole blocks");
  if (rows < band || cols < B || cols * static_cast<std::ptrdiff_t>(sizeof(T)) < 32)
    return transpose_plane<Block>(src, src_row, dst, dst_row, rows, cols);
  // Bands start on the source's lines (the first, from row 0, overlaps the second), and the last
  // ends at the last row (it overlaps the one before). Blocks only move bits, as in transpose_plane.
  const std::ptrdiff_t first = to_aligned<Block>(src, src_row, line), last_col = cols - B;
  for (std::ptrdiff_t i = 0;;) {
    const std::ptrdiff_t next = std::min(i == 0 && first != 0 ? first : i + band, rows - band);
    for (std::ptrdiff_t j = 0;; j = std::min(j + B, last_col)) {
      const T* s = src + i + j * src_row;
      for (std::ptrdiff_t h = 0; h < band; h += B) Block::apply(s + h, src_row, buf + h * S + j, S);
#if defined(__GNUC__)
      const T* ahead = src + next + j * src_row;  // the last band's next is itself: inside the plane
      for (std::ptrdiff_t k = 0; k < B; ++k) {
        __builtin_prefetch(ahead + k * src_row, 0, 2);
        __builtin_prefetch(ahead + line + k * src_row, 0, 2);
      }
#endif
      if (j == last_col) break;
    }
    copy_run_batch<Block>(reinterpret_cast<const unsigned char*>(buf), S * static_cast<std::ptrdiff_t>(sizeof(T)),
                          reinterpret_cast<unsigned char*>(dst + i * dst_row),
                          dst_row * static_cast<std::ptrdiff_t>(sizeof(T)), static_cast<std::size_t>(band),
                          sizeof(T) * static_cast<std::size_t>(cols));
    if (i == rows - band) break;
    i = next;
  }
}

/// The windows of transpose_window: runs of at most kWindowRunBytes by kWindowBytes in all (give or
/// take a cache line of rows: the callers start them on lines), in a buffer of rows of
/// window_stride<T> elements (a constant, so the block's stores need no registers for it; and a
/// line more than a run, not a power of two, so the buffer's lines spread over every cache set).
/// 32 rows of float32, two lines of each column, as transpose_band's bands and for the same reason;
/// with the prefetches below, runs of 512 bytes by 32 rows beat 384 by 64, 256 by 32 and 768 by 32
/// (bench/PROFILE.md, session 21).
constexpr std::size_t kWindowRunBytes = 512, kWindowBytes = std::size_t{16} << 10;
template <class T>
constexpr std::ptrdiff_t window_stride = static_cast<std::ptrdiff_t>((kWindowRunBytes + kLineBytes) / sizeof(T));

/// The dst rows of a window, in order: the next row starts `step` elements after a row, or `wrap`
/// after the last of a run of `run` rows (a window's rows may run along one axis and on along
/// another); the first row is number `at` of its run. Walked as the rows go out rather than read
/// from a table of offsets: the table's stores, made while the previous window's stores to dst
/// were still draining, held the next window's loads back (bench/PROFILE.md, session 16).
struct RowWalk {
  std::ptrdiff_t step, wrap, run, at;
};

/// Moves a position along `walk` (`at`, the row's number in its run, and `off`, its offset from
/// the first row) on to the next row. (Block only keeps each instantiation in its block's
/// translation unit.)
template <class Block>
void next_row(const RowWalk& walk, std::ptrdiff_t& at, std::ptrdiff_t& off) {
  off += ++at == walk.run ? walk.wrap : walk.step;
  if (at == walk.run) at = 0;
}

/// The window a transpose_window call prefetches the source lines of: its first row `offset`
/// elements past this window's, `rows` rows (0: none); the same columns, or with `src_off` the
/// `cols` columns at those offsets (the first window of the next column window).
struct NextWindow {
  std::ptrdiff_t offset = 0, rows = 0;
  const std::ptrdiff_t* src_off = nullptr;
  std::ptrdiff_t cols = 0;
};

/// How the rows of transpose_window's windows reach dst: plain stores (kStay), plain stores with
/// the rows' lines prefetched as the window is transposed (kFetch), or non-temporal stores where
/// the output is too large to stay in the cache (kStream, see stream_min_bytes in strided.hpp).
/// kFetch is for copies whose source and dst fill half the L3 or more: their dst lines come from
/// memory as often as not, and the rows going out waited on them a line at a time. Smaller copies
/// find dst in the L3, where the prefetches cost 7-10% (bench/PROFILE.md, session 22).
enum class DstMode { kStay, kFetch, kStream };

/// The columns of a transpose_window call: column j's source run starts at off[j]. `step` holds
/// one entry per block of columns (at most `cols`), each block's stride between its columns when
/// they are evenly spaced, or kUneven: transpose_window fills it when `fresh` (the first window of
/// these columns the caller hands it) and reads it in the windows after, which share the columns.
struct WindowColumns {
  const std::ptrdiff_t* off;
  std::ptrdiff_t* step;
  bool fresh;
};
constexpr std::ptrdiff_t kUneven = PTRDIFF_MIN;

/// The stride between the B columns whose source runs start at off[0..B), if it is one, else
/// kUneven. (Block only keeps each instantiation in its block's translation unit.)
template <class Block>
std::ptrdiff_t even_step(const std::ptrdiff_t* off) {
  constexpr std::ptrdiff_t B = Block::kSize;
  const std::ptrdiff_t step = B > 1 ? off[B > 1 ? 1 : 0] - off[0] : 0;
  std::ptrdiff_t odd = 0;  // nonzero when any column is off the stride
  for (std::ptrdiff_t k = 2; k < B; ++k) odd |= off[k] - off[0] - k * step;
  return odd == 0 ? step : kUneven;
}

/// One window of a transposing copy through a buffer: element (i, j), i < rows, j < cols <=
/// window_stride<T>, is src[i + columns.off[j]] and goes to row i of dst (rows as `walk` says, from
/// dst) at j. Each column is a source run and each row a dst run, wherever they lie, so a caller's
/// window may span two axes on either side (the reversal's planes, whose rows continue in the
/// next plane's). The window is transposed into buf (rows of window_stride<T>, 64-byte aligned),
/// a column's lines read whole before the other columns, which may share their cache set, push
/// them out; then each row goes out in one run. The blocks of rows fall on the grid of row
/// `first` (where the caller found the source's lines to start; the block at row 0 overlaps the
/// next).
///
/// Nothing else is aligned: the caller starts its windows on the source's and dst's lines, and the
/// buffer is in L1, where moves that straddle its lines cost less than aligning them would
/// (bench/PROFILE.md, session 14).
///
/// After each block of columns it prefetches the source lines of the same columns of `next` into
/// L2, so that the next window's transposes find them there instead of waiting on the L3 or memory
/// for one line of each column at a time (bench/PROFILE.md, sessions 20 and 21); and with
/// FetchDst a share of this window's dst lines, so that the rows going out find them in L2 too
/// (DstMode::kFetch; a template parameter: a runtime flag's bounds cost kStay 4%).
///
/// The loops are plain, not each_window's lambdas (captured, the offsets were reloaded after every
/// block's stores), and the common case takes the fewest instructions: the blocks' strides come
/// from `columns.step` rather than being checked in every window, evenly spaced blocks and their
/// prefetches need no offsets, and whole blocks of rows from row 0 take a loop with no bounds to
/// clamp. This loop is as much work for the core as the copy is for the caches; each of these cut
/// the reversal's time (bench/PROFILE.md, session 22).
///
/// Out::move32 makes the 32-byte moves of the rows going out: Block's own, or for outputs too
/// large to stay in the cache, a non-temporal store (see stream_min_bytes in strided.hpp).
template <class Block, bool FetchDst, class T, class Out = Block>
void transpose_window(const T* src, WindowColumns columns, T* dst, RowWalk walk, std::ptrdiff_t rows,
                      std::ptrdiff_t cols, std::ptrdiff_t first, T* buf, NextWindow next) {
  constexpr std::ptrdiff_t B = Block::kSize, S = window_stride<T>, line = kLineBytes / sizeof(T);
  const std::ptrdiff_t* src_off = columns.off;
  if (rows < B || cols < B) {  // no whole block
    for (std::ptrdiff_t i = 0; i < rows; ++i)
      for (std::ptrdiff_t j = 0; j < cols; ++j) buf[i * S + j] = src[i + src_off[j]];
  } else {
    // Blocks of rows on `first`'s grid (a line is a whole number of blocks): none straddles a
    // source line. `whole`: they are 0, B, 2B, ... up to rows.
    const std::ptrdiff_t grid = first % B, last_row = rows - B, last_col = cols - B;
    const bool whole = grid == 0 && rows % B == 0;
    const std::ptrdiff_t* next_off = next.src_off != nullptr ? next.src_off : src_off;
    const std::ptrdiff_t next_cols = next.rows == 0 ? 0 : next.src_off != nullptr ? next.cols : cols;
    // With FetchDst, this window's dst rows, `per` after each block of columns.
    const std::ptrdiff_t blocks = (cols + B - 1) / B, per = FetchDst ? (rows + blocks - 1) / blocks : 0;
    std::ptrdiff_t ahead = 0, ahead_at = walk.at, ahead_off = 0;  // the next dst row to prefetch
    for (std::ptrdiff_t j = 0, b = 0;; j = std::min(j + B, last_col), ++b) {
      if (columns.fresh) columns.step[b] = even_step<Block>(src_off + j);
      const std::ptrdiff_t step = columns.step[b];
      const T* col = src + src_off[j];
      T* out = buf + j;
      if (step != kUneven) {  // apply, which loads no offsets
        if (whole) {
          for (std::ptrdiff_t i = 0; i < rows; i += B) Block::apply(col + i, step, out + i * S, S);
        } else {
          for (std::ptrdiff_t i = 0;; i = std::min(i == 0 && grid != 0 ? grid : i + B, last_row)) {
            Block::apply(col + i, step, out + i * S, S);
            if (i == last_row) break;
          }
        }
      } else {  // the column's rows relative to its first, in locals the compiler keeps in registers
        std::ptrdiff_t off[B];
        for (std::ptrdiff_t k = 0; k < B; ++k) off[k] = src_off[j + k] - src_off[j];
        for (std::ptrdiff_t i = 0;; i = std::min(i == 0 && grid != 0 ? grid : i + B, last_row)) {
          Block::apply_rows(col + i, off, out + i * S, S);
          if (i == last_row) break;
        }
      }
#if defined(__GNUC__)
      if (step != kUneven && next.src_off == nullptr && next.rows <= 2 * line && j + B <= next_cols) {
        // The same columns, one or two lines each (the next row window's): no offsets to load.
        const T* p = col + next.offset;
        for (std::ptrdiff_t k = 0; k < B; ++k) {
          __builtin_prefetch(p + k * step, 0, 2);
          if (next.rows > line) __builtin_prefetch(p + k * step + line, 0, 2);
        }
      } else {
        for (std::ptrdiff_t k = 0; k < B && j + k < next_cols; ++k)
          for (std::ptrdiff_t l = 0; l < next.rows; l += line)
            __builtin_prefetch(src + next.offset + next_off[j + k] + l, 0, 2);
      }
      for (const std::ptrdiff_t end = FetchDst ? std::min(rows, ahead + per) : 0; ahead < end; ++ahead) {
        const T* row = dst + ahead_off;
        for (std::ptrdiff_t o = 0; o < cols; o += line) __builtin_prefetch(row + o, 0, 2);
        __builtin_prefetch(row + cols - 1, 0, 2);  // the last line, when the row does not start on one
        next_row<Block>(walk, ahead_at, ahead_off);
      }
#endif
      if (j == last_col) break;
    }
  }
  // The rows go out with move_run in plain loops, as above (runs shorter than a move through
  // with_run_copy).
  const std::size_t bytes = sizeof(T) * static_cast<std::size_t>(cols);
  if (bytes >= 32) {
    for (std::ptrdiff_t i = 0, at = walk.at, off = 0; i < rows; ++i) {  // off: not a pointer past dst's end
      move_run<Out>(reinterpret_cast<const unsigned char*>(buf + i * S), reinterpret_cast<unsigned char*>(dst + off),
                    bytes);
      next_row<Block>(walk, at, off);
    }
    return;
  }
  with_run_copy<Out, false>(bytes, [&](const auto& copy) {
    for (std::ptrdiff_t i = 0, at = walk.at, off = 0; i < rows; ++i) {
      copy(reinterpret_cast<const unsigned char*>(buf + i * S), reinterpret_cast<unsigned char*>(dst + off));
      next_row<Block>(walk, at, off);
    }
  });
}

/// The AVX planes (strided_avx.cpp): call these, and avx_planes_built(), only on a CPU with AVX.
/// With DstMode::kStream, transpose_window_avx writes dst with non-temporal stores where a move is
/// aligned to 32 bytes; the caller fences (_mm_sfence) before anything else may read dst.
/// transpose_plane_avx is transpose_band with a buffer (`buf`), else transpose_plane.
void transpose_plane_avx(const float* src, std::ptrdiff_t src_row, float* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols, float* buf);
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols, double* buf);
void transpose_window_avx(const float* src, WindowColumns columns, float* dst, RowWalk walk, std::ptrdiff_t rows,
                          std::ptrdiff_t cols, std::ptrdiff_t first, float* buf, NextWindow next, DstMode mode);
void transpose_window_avx(const double* src, WindowColumns columns, double* dst, RowWalk walk, std::ptrdiff_t rows,
                          std::ptrdiff_t cols, std::ptrdiff_t first, double* buf, NextWindow next, DstMode mode);
/// copy_run_batch in AVX moves.
void copy_run_batch_avx(const unsigned char* src, std::ptrdiff_t src_step, unsigned char* dst, std::ptrdiff_t dst_step,
                        std::size_t count, std::size_t bytes);
/// Fills `bytes` bytes from d with a value whose bytes repeat every sizeof(T) (dividing 32), from a
/// line of it at `pattern` (64 bytes); d and bytes are whole elements. The stores are 32 bytes
/// wide and aligned (a part at each end is copied as it falls), so none straddles a cache line.
void fill_avx(unsigned char* d, std::size_t bytes, const unsigned char* pattern);
/// Whether strided_avx.cpp was compiled with AVX (else its planes are empty stubs).
bool avx_planes_built();

}  // namespace tg::detail
