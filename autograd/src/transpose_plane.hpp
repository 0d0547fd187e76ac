// Private: the transposing copy of one plane, dst[i * dst_row + j] = src[i + j * src_row], written
// once over a register-transpose block, so strided.cpp (SSE2 and scalar blocks) and strided_avx.cpp
// (AVX blocks, compiled with -mavx, called only on CPUs that have it) share the loop order. Each
// instantiation's block type belongs to one translation unit, so no instantiation is compiled twice
// with different instruction sets (hence no non-template inline helpers here).
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

/// Block::apply transposes a Block::kSize square (kSize divides kBand): dst[a * dst_row + b] =
/// src[a + b * src_row] for a, b < kSize.
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
  // Elements from p to the next multiple of n elements: the same for every row when the row
  // length is a multiple of n, else nothing to gain (0).
  auto to_aligned = [](const T* p, std::ptrdiff_t row, std::ptrdiff_t n) -> std::ptrdiff_t {
    if (row % n != 0) return 0;
    const auto at =
        static_cast<std::ptrdiff_t>((reinterpret_cast<std::uintptr_t>(p) / sizeof(T)) % static_cast<std::uintptr_t>(n));
    return (n - at) % n;
  };
  each_window(rows, kBand, to_aligned(src, src_row, kBand), [&](std::ptrdiff_t i) {
    each_window(cols, B, to_aligned(dst, dst_row, B), [&](std::ptrdiff_t j) {
      for (std::ptrdiff_t h = 0; h < kBand; h += B)
        Block::apply(src + i + h + j * src_row, src_row, dst + (i + h) * dst_row + j, dst_row);
    });
  });
}

/// The AVX planes (strided_avx.cpp): call these, and avx_planes_built(), only on a CPU with AVX.
void transpose_plane_avx(const float* src, std::ptrdiff_t src_row, float* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
/// Whether strided_avx.cpp was compiled with AVX (else its planes are empty stubs).
bool avx_planes_built();

}  // namespace tg::detail
