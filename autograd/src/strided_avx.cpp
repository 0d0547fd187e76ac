// The AVX blocks of the transposing copies (see transpose_plane.hpp): 8x8 float32 and 4x4 float64
// register transposes, moves and shuffles only. CMakeLists.txt compiles this file with -mavx on
// x86-64; strided.cpp calls it only on CPUs with AVX (no function here runs before that check).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "transpose_plane.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace tg::detail {

#if defined(__AVX__)
namespace {

struct AvxFloat8 {
  static constexpr std::ptrdiff_t kSize = 8;
  static void move32(const unsigned char* from, unsigned char* to) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from)));
  }
  static void apply(const float* s, std::ptrdiff_t sr, float* d, std::ptrdiff_t dr) {
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + sr), r2 = _mm256_loadu_ps(s + 2 * sr),
                 r3 = _mm256_loadu_ps(s + 3 * sr), r4 = _mm256_loadu_ps(s + 4 * sr), r5 = _mm256_loadu_ps(s + 5 * sr),
                 r6 = _mm256_loadu_ps(s + 6 * sr), r7 = _mm256_loadu_ps(s + 7 * sr);
    transpose(r0, r1, r2, r3, r4, r5, r6, r7, d, dr);
  }
  static void apply_rows(const float* s, const std::ptrdiff_t* off, float* d, std::ptrdiff_t dr) {
    transpose(_mm256_loadu_ps(s + off[0]), _mm256_loadu_ps(s + off[1]), _mm256_loadu_ps(s + off[2]),
              _mm256_loadu_ps(s + off[3]), _mm256_loadu_ps(s + off[4]), _mm256_loadu_ps(s + off[5]),
              _mm256_loadu_ps(s + off[6]), _mm256_loadu_ps(s + off[7]), d, dr);
  }
  /// Stores the transpose of the rows r0..r7 at d, d + dr, ...
  static void transpose(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5, __m256 r6, __m256 r7,
                        float* d, std::ptrdiff_t dr) {
    // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves exchanged.
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                 t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + dr, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * dr, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * dr, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * dr, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * dr, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * dr, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * dr, _mm256_permute2f128_ps(u3, u7, 0x31));
  }
};

/// The copy-out's moves for outputs past the cache: a non-temporal store where the move is aligned
/// (the windows' rows start on lines; only a row's last, overlapping move may not be).
struct AvxStream {
  static void move32(const unsigned char* from, unsigned char* to) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from));
    if (reinterpret_cast<std::uintptr_t>(to) % 32 == 0)
      _mm256_stream_si256(reinterpret_cast<__m256i*>(to), v);
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), v);
  }
};

struct AvxDouble4 {
  static constexpr std::ptrdiff_t kSize = 4;
  static void move32(const unsigned char* from, unsigned char* to) { AvxFloat8::move32(from, to); }
  static void apply(const double* s, std::ptrdiff_t sr, double* d, std::ptrdiff_t dr) {
    transpose(_mm256_loadu_pd(s), _mm256_loadu_pd(s + sr), _mm256_loadu_pd(s + 2 * sr), _mm256_loadu_pd(s + 3 * sr), d,
              dr);
  }
  static void apply_rows(const double* s, const std::ptrdiff_t* off, double* d, std::ptrdiff_t dr) {
    transpose(_mm256_loadu_pd(s + off[0]), _mm256_loadu_pd(s + off[1]), _mm256_loadu_pd(s + off[2]),
              _mm256_loadu_pd(s + off[3]), d, dr);
  }
  static void transpose(__m256d r0, __m256d r1, __m256d r2, __m256d r3, double* d, std::ptrdiff_t dr) {
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1), t2 = _mm256_unpacklo_pd(r2, r3),
                  t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + dr, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * dr, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * dr, _mm256_permute2f128_pd(t1, t3, 0x31));
  }
};

}  // namespace

void transpose_plane_avx(const float* src, std::ptrdiff_t src_row, float* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols, float* buf) {
  if (buf != nullptr) return transpose_band<AvxFloat8>(src, src_row, dst, dst_row, rows, cols, buf);
  transpose_plane<AvxFloat8>(src, src_row, dst, dst_row, rows, cols);
}
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols, double* buf) {
  if (buf != nullptr) return transpose_band<AvxDouble4>(src, src_row, dst, dst_row, rows, cols, buf);
  transpose_plane<AvxDouble4>(src, src_row, dst, dst_row, rows, cols);
}
void transpose_window_avx(const float* src, WindowColumns columns, float* dst, RowWalk walk, std::ptrdiff_t rows,
                          std::ptrdiff_t cols, std::ptrdiff_t first, float* buf, NextWindow next, DstMode mode) {
  if (mode == DstMode::kStream)
    return transpose_window<AvxFloat8, false, float, AvxStream>(src, columns, dst, walk, rows, cols, first, buf, next);
  if (mode == DstMode::kFetch)
    return transpose_window<AvxFloat8, true>(src, columns, dst, walk, rows, cols, first, buf, next);
  transpose_window<AvxFloat8, false>(src, columns, dst, walk, rows, cols, first, buf, next);
}
void transpose_window_avx(const double* src, WindowColumns columns, double* dst, RowWalk walk, std::ptrdiff_t rows,
                          std::ptrdiff_t cols, std::ptrdiff_t first, double* buf, NextWindow next, DstMode mode) {
  if (mode == DstMode::kStream)
    return transpose_window<AvxDouble4, false, double, AvxStream>(src, columns, dst, walk, rows, cols, first, buf,
                                                                  next);
  if (mode == DstMode::kFetch)
    return transpose_window<AvxDouble4, true>(src, columns, dst, walk, rows, cols, first, buf, next);
  transpose_window<AvxDouble4, false>(src, columns, dst, walk, rows, cols, first, buf, next);
}
void copy_run_batch_avx(const unsigned char* src, std::ptrdiff_t src_step, unsigned char* dst, std::ptrdiff_t dst_step,
                        std::size_t count, std::size_t bytes) {
  copy_run_batch<AvxFloat8>(src, src_step, dst, dst_step, count, bytes);
}
void fill_avx(unsigned char* d, std::size_t bytes, const unsigned char* pattern) {
  // The head up to a 32-byte boundary is whole elements (d is at one and sizeof(T) divides 32),
  // so the pattern continues there from its start, as it does at every 32 bytes after.
  const std::size_t head = std::min<std::size_t>(bytes, (32 - reinterpret_cast<std::uintptr_t>(d) % 32) % 32);
  std::memcpy(d, pattern, head);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pattern));
  std::size_t i = head;
  for (; i + 32 <= bytes; i += 32) _mm256_store_si256(reinterpret_cast<__m256i*>(d + i), v);
  std::memcpy(d + i, pattern, bytes - i);
}
bool avx_planes_built() { return true; }
#else
void transpose_plane_avx(const float*, std::ptrdiff_t, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, float*) {
}
void transpose_plane_avx(const double*, std::ptrdiff_t, double*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t,
                         double*) {}
void transpose_window_avx(const float*, WindowColumns, float*, RowWalk, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t,
                          float*, NextWindow, DstMode) {}
void transpose_window_avx(const double*, WindowColumns, double*, RowWalk, std::ptrdiff_t, std::ptrdiff_t,
                          std::ptrdiff_t, double*, NextWindow, DstMode) {}
void copy_run_batch_avx(const unsigned char*, std::ptrdiff_t, unsigned char*, std::ptrdiff_t, std::size_t,
                        std::size_t) {}
void fill_avx(unsigned char*, std::size_t, const unsigned char*) {}
bool avx_planes_built() { return false; }
#endif

}  // namespace tg::detail
