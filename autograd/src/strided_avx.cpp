// The AVX blocks of the transposing copies (see transpose_plane.hpp): 8x8 float32 and 4x4 float64
// register transposes, moves and shuffles only. CMakeLists.txt compiles this file with -mavx on
// x86-64; strided.cpp calls it only on CPUs with AVX (no function here runs before that check).
#include "transpose_plane.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace tg::detail {

#if defined(__AVX__)
namespace {

struct AvxFloat8 {
  static constexpr std::ptrdiff_t kSize = 8;
  static constexpr std::size_t kMoveBytes = 32;
  static void move32(const unsigned char* from, unsigned char* to) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from)));
  }
  static void apply(const float* s, std::ptrdiff_t sr, float* d, std::ptrdiff_t dr) {
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + sr), r2 = _mm256_loadu_ps(s + 2 * sr),
                 r3 = _mm256_loadu_ps(s + 3 * sr), r4 = _mm256_loadu_ps(s + 4 * sr), r5 = _mm256_loadu_ps(s + 5 * sr),
                 r6 = _mm256_loadu_ps(s + 6 * sr), r7 = _mm256_loadu_ps(s + 7 * sr);
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

struct AvxDouble4 {
  static constexpr std::ptrdiff_t kSize = 4;
  static constexpr std::size_t kMoveBytes = 32;
  static void move32(const unsigned char* from, unsigned char* to) { AvxFloat8::move32(from, to); }
  static void apply(const double* s, std::ptrdiff_t sr, double* d, std::ptrdiff_t dr) {
    const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + sr), r2 = _mm256_loadu_pd(s + 2 * sr),
                  r3 = _mm256_loadu_pd(s + 3 * sr);
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
                         std::ptrdiff_t rows, std::ptrdiff_t cols) {
  transpose_plane<AvxFloat8>(src, src_row, dst, dst_row, rows, cols);
}
void transpose_plane_avx(const double* src, std::ptrdiff_t src_row, double* dst, std::ptrdiff_t dst_row,
                         std::ptrdiff_t rows, std::ptrdiff_t cols) {
  transpose_plane<AvxDouble4>(src, src_row, dst, dst_row, rows, cols);
}
void transpose_group_avx(const float* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, float* dst,
                         std::ptrdiff_t dst_row, std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n,
                         float* buf) {
  transpose_group<AvxFloat8>(src, src_row, src_plane, dst, dst_row, rows, cols, n, buf);
}
void transpose_group_avx(const double* src, std::ptrdiff_t src_row, std::ptrdiff_t src_plane, double* dst,
                         std::ptrdiff_t dst_row, std::ptrdiff_t rows, std::ptrdiff_t cols, std::ptrdiff_t n,
                         double* buf) {
  transpose_group<AvxDouble4>(src, src_row, src_plane, dst, dst_row, rows, cols, n, buf);
}
bool avx_planes_built() { return true; }
#else
void transpose_plane_avx(const float*, std::ptrdiff_t, float*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t) {}
void transpose_plane_avx(const double*, std::ptrdiff_t, double*, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t) {}
void transpose_group_avx(const float*, std::ptrdiff_t, std::ptrdiff_t, float*, std::ptrdiff_t, std::ptrdiff_t,
                         std::ptrdiff_t, std::ptrdiff_t, float*) {}
void transpose_group_avx(const double*, std::ptrdiff_t, std::ptrdiff_t, double*, std::ptrdiff_t, std::ptrdiff_t,
                         std::ptrdiff_t, std::ptrdiff_t, double*) {}
bool avx_planes_built() { return false; }
#endif

}  // namespace tg::detail
