// Private: the transposing copy of one plane, dst[i * dst_row + j] = src[i + j * src_row], and of a
// group of planes through a buffer (transpose_group), written once over a register-transpose
// block, so strided.cpp (SSE2 and scalar blocks) and strided_avx.cpp (AVX blocks, compiled with
// -mavx, called only on CPUs that have it) share the loop order. Each instantiation's block type
// belongs to one translation unit, so no instantiation is compiled twice with different
// instruction sets (hence no non-template inline helpers here).
//
// Loop order: bands of kBand rows of dst; within a band, one block of columns after another. A band
// reads kBand consecutive elements of each source row it passes, and the callers hand this a plane
// of at most about kPlaneCols columns (source rows), so the source lines a band leaves half read
// are still cached when the next band reads their other half, and the pages it touches stay
// within the TLB.
//
// Alignment: a tensor's buffer is malloc's (16 bytes past a page for large ones), so 32-byte
// loads and stores at offsets counted from it would straddle cache lines every other time. Bands
// start where the source is aligned to a band and blocks where dst is aligned to a block; the
// first band or block before those starts, and the last one, sit at the plane's edges and overlap
// their neighbours. Blocks only move bits and src never overlaps dst, so writing an element twice
// leaves the same result as any order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tg::detail {

/// Rows of dst per band.
constexpr std::ptrdiff_t kBand = 8;
/// The columns of dst (rows of src) a caller hands transpose_plane at once, give or take a cache
/// line (the slices start where dst is aligned to one).
constexpr std::ptrdiff_t kPlaneCols = 256;

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
/// src[a + b * src_row] for a, b < kSize. (Block::move32 copies 32 bytes, for transpose_group.)
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
  each_window(rows, kBand, to_aligned<Block>(src, src_row, kBand), [&](std::ptrdiff_t i) {
    each_window(cols, B, to_aligned<Block>(dst, dst_row, B), [&](std::ptrdiff_t j) {
      for (std::ptrdiff_t h = 0; h < kBand; h += B)
        Block::apply(src + i + h + j * src_row, src_row, dst + (i + h) * dst_row + j, dst_row);
    });
  });
}

/// Calls f(copy) with copy(from, to) copying `bytes` (1 to 512) bytes in fixed-size moves, the
/// size picked once, so that loops copying many runs of one length pay no call or dispatch per
/// run (memmove's cost as much as a run of a few cache lines). With kAlignToDst the moves are
/// aligned to `to` (the first and last overlap their neighbours), else they start at the run's
/// start (only the last overlaps): for runs of a few lines from a buffer in L1, computing the
/// alignment of every run cost more than the lines the moves straddle (bench/PROFILE.md,
/// session 14).
/// Move32::move32(from, to) copies 32 bytes in moves of Move32::kMoveBytes (GCC splits a 32-byte
/// memcpy into two 16-byte moves even with AVX, which costs the reversal's stores a third of
/// their speed); aligned windows are aligned to that width.
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

/// A group of n planes (plane k at src + k * src_plane, otherwise as transpose_plane) whose dst
/// rows follow each other: row i of the group, n * cols contiguous elements at dst + i * dst_row,
/// is plane 0's row i, then plane 1's, and so on. The planes are transposed into buf (n * rows *
/// cols elements, 64-byte aligned; plane k's rows of `cols` at buf + k * rows * cols), then the
/// group's rows are copied out, so dst is written in runs of n * cols. Within a plane, blocks of
/// columns (source rows) are outermost: a source row's lines are read whole before the plane's
/// other rows, which may share their cache set, push them out.
///
/// Unlike transpose_plane and copy_run, nothing here is aligned: the buffer is small (the caller
/// keeps it in L1) and its runs short (a few lines), so the per-window arithmetic of aligning each
/// plane and each run cost more than the lines their unaligned moves straddle (bench/PROFILE.md,
/// session 14).
template <class Block, class T>
void transpose_group(const T* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, T* dst, std::ptrdiff_t dst_row,
                     std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n, T* buf) {
  constexpr std::ptrdiff_t B = Block::kSize;
  for (std::ptrdiff_t k = 0; k < n; ++k) {
    const T* s = src + k * src_plane;
    T* b = buf + k * rows * cols;
    if (rows < B || cols < B) {  // no whole block: transpose_plane's element loop
      transpose_plane<Block>(s, src_row, b, cols, rows, cols);
      continue;
    }
    each_window(cols, B, 0, [&](std::ptrdiff_t j) {
      each_window(rows, B, 0,
                  [&](std::ptrdiff_t i) { Block::apply(s + i + j * src_row, src_row, b + i * cols + j, cols); });
    });
  }
  const auto run = static_cast<std::ptrdiff_t>(sizeof(T)) * cols,
             dst_bytes = static_cast<std::ptrdiff_t>(sizeof(T)) * dst_row;
  const auto* from = reinterpret_cast<const unsigned char*>(buf);
  auto* to = reinterpret_cast<unsigned char*>(dst);
  with_run_copy<Block, false>(static_cast<std::size_t>(run), [&](const auto& copy) {
    for (std::ptrdiff_t i = 0; i < rows; ++i)
      for (std::ptrdiff_t k = 0; k < n; ++k) copy(from + (k * rows + i) * run, to + i * dst_bytes + k * run);
  });
}

/// The AVX planes (strided_avx.cpp): call these, and avx_planes_built(), only on a CPU with AVX.
void transpose_plane_avx(const float* src, std::ptrdiff_t src_row, float* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
void transpose_group_avx(const float* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, float* dst,
                         std::ptrdiff_t dst_row, std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n,
                         float* buf);
void transpose_group_avx(const double* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, double* dst,
                         std::ptrdiff_t dst_row, std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n,
                         double* buf);
/// Whether strided_avx.cpp was compiled with AVX (else its planes are empty stubs).
bool avx_planes_built();

}  // namespace tg::detail
