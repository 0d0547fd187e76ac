// Private: the transposing copy of one plane, dst[i * dst_row + j] = src[i + j * src_row], written
// once over a register-transpose block, so strided.cpp (SSE2 and scalar blocks) and strided_avx.cpp
// (AVX blocks, compiled with -mavx, called only on CPUs that have it) share the loop order. Each
// instantiation's block type belongs to one translation unit, so no instantiation is compiled twice
// with different instruction sets.
//
// Loop order: bands of kBand rows of dst; within a band, one block of columns after another. A band
// reads kBand consecutive elements of each source row it passes, and the callers hand this a plane
// of at most kPlaneCols columns (source rows), so the source lines a band leaves half read are still
// cached when the next band reads their other half, and the pages it touches stay within the TLB.
// Blocks only move bits, so every order gives the same result.
#pragma once

#include <cstddef>

namespace tg::detail {

/// Rows of dst per band.
constexpr std::ptrdiff_t kBand = 8;
/// The most columns of dst (rows of src) a caller hands transpose_plane at once.
constexpr std::ptrdiff_t kPlaneCols = 256;

/// Block::apply transposes a Block::kSize square (kSize divides kBand): dst[a * dst_row + b] =
/// src[a + b * src_row] for a, b < kSize.
template <class Block, class T>
void transpose_plane(const T* src, std::ptrdiff_t src_row, T* dst, std::ptrdiff_t dst_row, std::ptrdiff_t rows,
                     std::ptrdiff_t cols) {
  constexpr std::ptrdiff_t B = Block::kSize;
  static_assert(kBand % B == 0, "a band is whole blocks");
  std::ptrdiff_t i = 0;
  for (; i + kBand <= rows; i += kBand) {
    std::ptrdiff_t j = 0;
    for (; j + B <= cols; j += B)
      for (std::ptrdiff_t h = 0; h < kBand; h += B)
        Block::apply(src + i + h + j * src_row, src_row, dst + (i + h) * dst_row + j, dst_row);
    for (; j < cols; ++j)
      for (std::ptrdiff_t h = i; h < i + kBand; ++h) dst[h * dst_row + j] = src[h + j * src_row];
  }
  for (; i < rows; ++i)
    for (std::ptrdiff_t j = 0; j < cols; ++j) dst[i * dst_row + j] = src[i + j * src_row];
}

/// The AVX planes (strided_avx.cpp): call these, and avx_planes_built(), only on a CPU with AVX.
void transpose_plane_avx(const float* src, std::ptrdiff_t src_row, float* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols);
/// Whether strided_avx.cpp was compiled with AVX (else its planes are empty stubs).
bool avx_planes_built();

}  // namespace tg::detail
