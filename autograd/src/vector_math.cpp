// Float32 tanh, exp, sigmoid and log over arrays (see vector_math.hpp).
#include "vector_math.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "isa.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if TAPEGRAD_HAVE_LIBMVEC
#include <immintrin.h>

// glibc's x86-64 vector ABI names: 'b' = SSE (baseline x86-64), N4 = four lanes, v = one vector
// argument. glibc picks the implementation for the CPU when the library loads.
// NOLINTBEGIN(bugprone-reserved-identifier): these are glibc's names for its vector functions.
extern "C" __m128 _ZGVbN4v_tanhf(__m128 x);
// 'd' = AVX2, eight lanes: called only from code compiled for AVX2, run only on CPUs that have it.
extern "C" __m256 _ZGVdN8v_tanhf(__m256 x);
// NOLINTEND(bugprone-reserved-identifier)
#endif

namespace tg::detail {

namespace {
#if defined(__SSE2__)
/// out[k] = f(in[k]) for k in [i, n), four lanes per call of f. The last call's lanes past n are
/// 1, a value every kernel here takes its plain path on, so that every element, the tail's too,
/// goes through the same operations.
template <class F>
void by_fours(const float* in, float* out, std::size_t i, std::size_t n, F f) {
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, f(_mm_loadu_ps(in + i)));
  if (i == n) return;
  float lanes[4] = {1, 1, 1, 1};
  for (std::size_t k = i; k < n; ++k) lanes[k - i] = in[k];
  _mm_storeu_ps(lanes, f(_mm_loadu_ps(lanes)));
  for (std::size_t k = i; k < n; ++k) out[k] = lanes[k - i];
}
#endif

#if TAPEGRAD_HAVE_LIBMVEC
/// tanh_f32 eight lanes at a time, through glibc's AVX2 tanhf: the same bits as its SSE version
/// on every one of the 2^32 floats (compared exhaustively with glibc 2.36; its AVX-512 version
/// differs on 1.5% of them, its AVX2 expf on 0.4%), in about half the time.
__attribute__((target("avx2,fma"))) void tanh_avx2(const float* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(in + i)));
  if (i == n) return;
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t k = i; k < n; ++k) lanes[k - i] = in[k];
  _mm256_storeu_ps(lanes, _ZGVdN8v_tanhf(_mm256_loadu_ps(lanes)));
  for (std::size_t k = i; k < n; ++k) out[k] = lanes[k - i];
}

const bool kHaveAvx2 = use_avx2_fma();
#endif
}  // namespace

void tanh_f32(const float* in, float* out, std::size_t n) {
#if TAPEGRAD_HAVE_LIBMVEC
  if (kHaveAvx2) return tanh_avx2(in, out, n);
  by_fours(in, out, 0, n, _ZGVbN4v_tanhf);
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
#endif
}

#if defined(__SSE2__)
namespace {

// exp of floats: exp x = 2^q exp(r), q the nearest integer to x log2(e), r = x - q ln2 with ln 2
// split in two (q ln2hi is exact, so r is exact to about 1e-11), |r| <= ln2/2, exp(r) from its
// degree-7 Taylor polynomial (truncation 5e-9), and 2^q applied as two exact powers of two so that
// the only rounding of the scaling is the last one (subnormal results included). x is clamped to
// [-104, 89] first, beyond which the result is 0 or inf anyway. On all 2^32 floats within 1 ulp
// of the double exp rounded to float (libmvec's expf: 3 ulp). Float arithmetic with no FMA, the
// same operations in exp4 and exp8: the same bits on every x86-64 CPU.
constexpr float kLog2e = 0x1.715476p+0f;
constexpr float kLn2Hi = 0x1.62e4p-1f;     // 15 significant bits: q kLn2Hi is exact for |q| <= 512
constexpr float kLn2Lo = 0x1.7f7d1cp-20f;  // ln 2 - kLn2Hi
constexpr float kRoundF = 0x1.8p23f;       // adding and subtracting this rounds to the nearest integer

inline __m128 exp4(__m128 x) {
  const __m128i ix = _mm_castps_si128(x);
  // NaN lanes by their bits (raising nothing), zeroed before the clamp and given back at the end.
  const __m128i nan = _mm_cmpgt_epi32(_mm_andnot_si128(_mm_set1_epi32(INT32_MIN), ix), _mm_set1_epi32(0x7f800000));
  const __m128 clean = _mm_castsi128_ps(_mm_andnot_si128(nan, ix));
  const __m128 xc = _mm_min_ps(_mm_max_ps(clean, _mm_set1_ps(-104.0f)), _mm_set1_ps(89.0f));
  const __m128 shifted = _mm_add_ps(_mm_mul_ps(xc, _mm_set1_ps(kLog2e)), _mm_set1_ps(kRoundF));
  const __m128 q = _mm_sub_ps(shifted, _mm_set1_ps(kRoundF));
  const __m128 r = _mm_sub_ps(_mm_sub_ps(xc, _mm_mul_ps(q, _mm_set1_ps(kLn2Hi))), _mm_mul_ps(q, _mm_set1_ps(kLn2Lo)));
  __m128 p = _mm_add_ps(_mm_mul_ps(r, _mm_set1_ps(1.0f / 5040)), _mm_set1_ps(1.0f / 720));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 120));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 24));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0f / 6));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(0.5f));
  p = _mm_add_ps(_mm_set1_ps(1.0f), _mm_add_ps(r, _mm_mul_ps(_mm_mul_ps(r, r), p)));
  const __m128i qi = _mm_sub_epi32(_mm_castps_si128(shifted), _mm_castps_si128(_mm_set1_ps(kRoundF)));
  const __m128i q1 = _mm_srai_epi32(qi, 1), q2 = _mm_sub_epi32(qi, q1);
  const __m128 s1 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(q1, _mm_set1_epi32(127)), 23));
  const __m128 s2 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(q2, _mm_set1_epi32(127)), 23));
  const __m128i y = _mm_castps_si128(_mm_mul_ps(_mm_mul_ps(p, s1), s2));
  const __m128i quiet = _mm_or_si128(ix, _mm_set1_epi32(0x00400000));
  return _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(nan, quiet), _mm_andnot_si128(nan, y)));
}

/// exp4, eight lanes (AVX2): the same operations in the same order.
__attribute__((target("avx2"))) inline __m256 exp8(__m256 x) {
  const __m256i ix = _mm256_castps_si256(x);
  const __m256i nan =
      _mm256_cmpgt_epi32(_mm256_andnot_si256(_mm256_set1_epi32(INT32_MIN), ix), _mm256_set1_epi32(0x7f800000));
  const __m256 clean = _mm256_castsi256_ps(_mm256_andnot_si256(nan, ix));
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(clean, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
  const __m256 shifted = _mm256_add_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _mm256_set1_ps(kRoundF));
  const __m256 q = _mm256_sub_ps(shifted, _mm256_set1_ps(kRoundF));
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(xc, _mm256_mul_ps(q, _mm256_set1_ps(kLn2Hi))),
                                 _mm256_mul_ps(q, _mm256_set1_ps(kLn2Lo)));
  __m256 p = _mm256_add_ps(_mm256_mul_ps(r, _mm256_set1_ps(1.0f / 5040)), _mm256_set1_ps(1.0f / 720));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 120));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 24));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 6));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
  p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(r, _mm256_mul_ps(_mm256_mul_ps(r, r), p)));
  const __m256i qi = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(_mm256_set1_ps(kRoundF)));
  const __m256i q1 = _mm256_srai_epi32(qi, 1), q2 = _mm256_sub_epi32(qi, q1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(q2, _mm256_set1_epi32(127)), 23));
  const __m256i y = _mm256_castps_si256(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2));
  const __m256i quiet = _mm256_or_si256(ix, _mm256_set1_epi32(0x00400000));
  return _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(nan, quiet), _mm256_andnot_si256(nan, y)));
}

/// What exp_avx2 subtracts from its input before exp8: nothing (plain exp, compute-bound, skips
/// the subtraction), one value, or one per element (then the results are also added to sums).
enum class Shift { kNone, kOne, kEach };

template <Shift kShift>
__attribute__((target("avx2"))) std::size_t exp_avx2(const float* in, float shift, const float* shifts, float* out,
                                                     std::size_t n, float* sums = nullptr) {
  const __m256 s = _mm256_set1_ps(shift);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(in + i);
    if constexpr (kShift == Shift::kOne) x = _mm256_sub_ps(x, s);
    if constexpr (kShift == Shift::kEach) x = _mm256_sub_ps(x, _mm256_loadu_ps(shifts + i));
    const __m256 e = exp8(x);
    _mm256_storeu_ps(out + i, e);
    if constexpr (kShift == Shift::kEach) _mm256_storeu_ps(sums + i, _mm256_add_ps(_mm256_loadu_ps(sums + i), e));
  }
  return i;
}

const bool kHaveAvx2Only = use_avx2();

}  // namespace
#endif

void exp_f32(const float* in, float* out, std::size_t n) {
#if defined(__SSE2__)
  by_fours(in, out, kHaveAvx2Only ? exp_avx2<Shift::kNone>(in, 0, nullptr, out, n) : 0, n,
           [](__m128 v) { return exp4(v); });
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::exp(in[i]);
#endif
}

void exp_shifted_f32(const float* in, float shift, float* out, std::size_t n) {
#if defined(__SSE2__)
  const __m128 s = _mm_set1_ps(shift);
  by_fours(in, out, kHaveAvx2Only ? exp_avx2<Shift::kOne>(in, shift, nullptr, out, n) : 0, n,
           [s](__m128 v) { return exp4(_mm_sub_ps(v, s)); });
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::exp(in[i] - shift);
#endif
}

#if defined(__SSE2__)
namespace {
/// 1 / (1 + exp(-x)), eight lanes: -x by its sign bit, exp8, a float add and divide.
__attribute__((target("avx2"))) std::size_t sigmoid_avx2(const float* in, float* out, std::size_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i,
                     _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(_mm256_loadu_ps(in + i), sign)))));
  return i;
}
}  // namespace
#endif

void sigmoid_f32(const float* in, float* out, std::size_t n) {
  // One pass: the same operations as negating, exp_f32 and 1 / (1 + e), lane by lane.
  std::size_t i = 0;
#if defined(__SSE2__)
  if (kHaveAvx2Only) i = sigmoid_avx2(in, out, n);
  const __m128 one = _mm_set1_ps(1.0f), sign = _mm_set1_ps(-0.0f);
  for (; i + 4 <= n; i += 4)
    _mm_storeu_ps(out + i, _mm_div_ps(one, _mm_add_ps(one, exp4(_mm_xor_ps(_mm_loadu_ps(in + i), sign)))));
#endif
  for (; i < n; ++i) {
    float e = -in[i];
    exp_f32(&e, &e, 1);
    out[i] = 1.0f / (1.0f + e);
  }
}

#if defined(__SSE2__)
namespace {

/// {1/c, -log(1/c)} per interval of z (scripts/gen-logf-table).
alignas(16) constexpr double kLogTable[128][2] = {
#include "logf_table.inc"
};

constexpr double kLn2 = 0x1.62e42fefa39efp-1;

/// Four positive normal floats, given their bits, as x = 2^k z with z in [kOff, 2 kOff), and the
/// table entries {1/c, log c} of z's intervals.
struct LogSplit {
  __m128 z;
  __m128i k;
  const double* entry[4];
};
inline LogSplit log_split(__m128i ix) {
  constexpr std::int32_t kOff = 0x3f330000;
  const __m128i tmp = _mm_sub_epi32(ix, _mm_set1_epi32(kOff));
  const __m128i interval = _mm_and_si128(_mm_srli_epi32(tmp, 23 - 7), _mm_set1_epi32(127));
  alignas(16) std::int32_t at[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(at), interval);
  return {
      _mm_castsi128_ps(_mm_sub_epi32(ix, _mm_and_si128(tmp, _mm_set1_epi32(static_cast<std::int32_t>(0xff800000u))))),
      _mm_srai_epi32(tmp, 23),
      {kLogTable[at[0]], kLogTable[at[1]], kLogTable[at[2]], kLogTable[at[3]]}};
}

/// log of four positive normal floats, given their bits. z's interval (the top 7 bits of its
/// offset from kOff) gives c near z, and log x = k ln2 + log c + log1p(z/c - 1), in double: z/c - 1
/// is at most 2^-8 in size, so the degree-5 Taylor polynomial of log1p is exact to about 1e-16 and
/// the result, rounded once to float, is within 1 ulp of log x (compared with the double log
/// rounded to float on all 2^32 floats: 9 differ, by 1 ulp). IEEE double arithmetic in a fixed
/// order and no FMA: the same bits on every x86-64 CPU, unlike glibc's logf, which uses FMA where
/// the CPU has it (and differs from this on 416,908 floats).
inline __m128 log4_normal(__m128i ix) {
  const LogSplit s = log_split(ix);
  const __m128d t0 = _mm_load_pd(s.entry[0]), t1 = _mm_load_pd(s.entry[1]), t2 = _mm_load_pd(s.entry[2]),
                t3 = _mm_load_pd(s.entry[3]);
  auto half = [](__m128d zd, __m128d kd, __m128d invc, __m128d logc) {
    const __m128d r = _mm_sub_pd(_mm_mul_pd(zd, invc), _mm_set1_pd(1.0));
    const __m128d y0 = _mm_add_pd(logc, _mm_mul_pd(kd, _mm_set1_pd(kLn2)));
    const __m128d r2 = _mm_mul_pd(r, r);
    __m128d p = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(1.0 / 5), r), _mm_set1_pd(-1.0 / 4));
    p = _mm_add_pd(_mm_mul_pd(p, r), _mm_set1_pd(1.0 / 3));
    p = _mm_add_pd(_mm_mul_pd(p, r), _mm_set1_pd(-1.0 / 2));
    return _mm_cvtpd_ps(_mm_add_pd(_mm_add_pd(y0, r), _mm_mul_pd(r2, p)));
  };
  const __m128 low = half(_mm_cvtps_pd(s.z), _mm_cvtepi32_pd(s.k), _mm_unpacklo_pd(t0, t1), _mm_unpackhi_pd(t0, t1));
  const __m128 high = half(_mm_cvtps_pd(_mm_movehl_ps(s.z, s.z)), _mm_cvtepi32_pd(_mm_shuffle_epi32(s.k, 0xEE)),
                           _mm_unpacklo_pd(t2, t3), _mm_unpackhi_pd(t2, t3));
  return _mm_movelh_ps(low, high);
}

// log4_normal for eight floats, with the double arithmetic four lanes wide (AVX; the same
// operations in the same order, so the same bits). Called only on CPUs with AVX.

/// z, k, 1/c and log c of four floats' bits, as doubles.
__attribute__((target("avx"))) inline void log4_parts(__m128i ix, __m256d& zd, __m256d& kd, __m256d& invc,
                                                      __m256d& logc) {
  const LogSplit s = log_split(ix);
  const __m256d t02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_load_pd(s.entry[0])), _mm_load_pd(s.entry[2]), 1);
  const __m256d t13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_load_pd(s.entry[1])), _mm_load_pd(s.entry[3]), 1);
  invc = _mm256_unpacklo_pd(t02, t13);  // lanes 0, 1 | 2, 3
  logc = _mm256_unpackhi_pd(t02, t13);
  zd = _mm256_cvtps_pd(s.z);
  kd = _mm256_cvtepi32_pd(s.k);
}

/// log4_normal's double arithmetic, four lanes at once.
__attribute__((target("avx"))) inline __m128 log4_finish(__m256d zd, __m256d kd, __m256d invc, __m256d logc) {
  const __m256d r = _mm256_sub_pd(_mm256_mul_pd(zd, invc), _mm256_set1_pd(1.0));
  const __m256d y0 = _mm256_add_pd(logc, _mm256_mul_pd(kd, _mm256_set1_pd(kLn2)));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d p = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(1.0 / 5), r), _mm256_set1_pd(-1.0 / 4));
  p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(1.0 / 3));
  p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(-1.0 / 2));
  return _mm256_cvtpd_ps(_mm256_add_pd(_mm256_add_pd(y0, r), _mm256_mul_pd(r2, p)));
}

/// bits where mask is set, else b.
inline __m128i select(__m128i mask, __m128i a, __m128i b) {
  return _mm_or_si128(_mm_and_si128(mask, a), _mm_andnot_si128(mask, b));
}

/// The lanes that are not positive normal floats (zero, subnormal, negative, inf, NaN), given
/// their bits: ix - 2^23 >= 0x7f000000 as unsigned numbers (compared as signed ones with their
/// sign bits flipped).
inline __m128i not_positive_normal(__m128i ix) {
  return _mm_cmpgt_epi32(_mm_xor_si128(_mm_sub_epi32(ix, _mm_set1_epi32(0x00800000)), _mm_set1_epi32(INT32_MIN)),
                         _mm_set1_epi32(static_cast<std::int32_t>(0xfeffffffu)));
}

/// log of four floats, any values. Raises no floating-point exception for finite positive x.
inline __m128 log4(__m128 x) {
  const __m128i ix = _mm_castps_si128(x);
  const __m128i sign = _mm_set1_epi32(INT32_MIN);
  const __m128i special = not_positive_normal(ix);
  if (_mm_movemask_epi8(special) == 0) return log4_normal(ix);
  // Positive subnormals: scaled by 2^23 (only those lanes, so nothing overflows), exponent back down.
  const __m128i subnormal =
      _mm_and_si128(_mm_cmpgt_epi32(ix, _mm_setzero_si128()), _mm_cmplt_epi32(ix, _mm_set1_epi32(0x00800000)));
  const __m128 scaled = _mm_mul_ps(_mm_and_ps(x, _mm_castsi128_ps(subnormal)), _mm_set1_ps(0x1p23f));
  const __m128i normal = _mm_andnot_si128(special, ix);  // the other specials' lanes computed on +0's bits:
  const __m128i adjusted = select(subnormal, _mm_sub_epi32(_mm_castps_si128(scaled), _mm_set1_epi32(23 << 23)),
                                  _mm_or_si128(normal, _mm_and_si128(special, _mm_set1_epi32(0x3f800000))));
  const __m128i y = _mm_castps_si128(log4_normal(adjusted));
  // The other specials, as glibc's logf gives them: log(+-0) = -inf, log(inf) = inf, a NaN stays
  // that NaN (quieted), a negative x gives the default NaN.
  const __m128i zero = _mm_cmpeq_epi32(_mm_add_epi32(ix, ix), _mm_setzero_si128());
  const __m128i inf = _mm_cmpeq_epi32(ix, _mm_set1_epi32(0x7f800000));
  const __m128i nan = _mm_cmpgt_epi32(_mm_andnot_si128(sign, ix), _mm_set1_epi32(0x7f800000));
  __m128i other =
      select(nan, _mm_or_si128(ix, _mm_set1_epi32(0x00400000)), _mm_set1_epi32(static_cast<std::int32_t>(0xffc00000u)));
  other = select(inf, ix, other);
  other = select(zero, _mm_set1_epi32(static_cast<std::int32_t>(0xff800000u)), other);
  return _mm_castsi128_ps(select(_mm_andnot_si128(subnormal, special), other, y));
}

__attribute__((target("avx"))) std::size_t log_avx(const float* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)),
                  b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 4));
    if (_mm_movemask_epi8(_mm_or_si128(not_positive_normal(a), not_positive_normal(b))) == 0) {
      __m256d z0, k0, c0, l0, z1, k1, c1, l1;
      log4_parts(a, z0, k0, c0, l0);
      log4_parts(b, z1, k1, c1, l1);
      _mm_storeu_ps(out + i, log4_finish(z0, k0, c0, l0));
      _mm_storeu_ps(out + i + 4, log4_finish(z1, k1, c1, l1));
    } else {
      _mm_storeu_ps(out + i, log4(_mm_castsi128_ps(a)));
      _mm_storeu_ps(out + i + 4, log4(_mm_castsi128_ps(b)));
    }
  }
  return i;
}

const bool kHaveAvx = use_avx();
}  // namespace
#endif

void exp_minus_f32(const float* in, const float* shifts, std::size_t width, float* out, std::size_t n, float* sums) {
  for (std::size_t r = 0; r < n; r += width, in += width, out += width) {
    std::size_t i = 0;
#if defined(__SSE2__)
    if (kHaveAvx2Only) i = exp_avx2<Shift::kEach>(in, 0, shifts, out, width, sums);
    for (; i + 4 <= width; i += 4) {
      const __m128 e = exp4(_mm_sub_ps(_mm_loadu_ps(in + i), _mm_loadu_ps(shifts + i)));
      _mm_storeu_ps(out + i, e);
      _mm_storeu_ps(sums + i, _mm_add_ps(_mm_loadu_ps(sums + i), e));
    }
#endif
    // The tail one element at a time, through exp_f32's own tail: the same operations.
    for (; i < width; ++i) {
      const float d = in[i] - shifts[i];
      exp_f32(&d, out + i, 1);
      sums[i] += out[i];
    }
  }
}

#if defined(__SSE2__)
namespace {
__attribute__((target("avx"))) std::size_t divide_avx(float* x, std::size_t n, float d) {
  const __m256 v = _mm256_set1_ps(d);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), v));
  return i;
}
__attribute__((target("avx"))) std::size_t divide_avx(float* x, std::size_t n, const float* d) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(d + i)));
  return i;
}
}  // namespace
#endif

void divide_f32(float* x, std::size_t n, float d) {
  std::size_t i = 0;
#if defined(__SSE2__)
  if (kHaveAvx) i = divide_avx(x, n, d);
#endif
  for (; i < n; ++i) x[i] /= d;
}

void divide_f32(float* x, std::size_t n, const float* d) {
  std::size_t i = 0;
#if defined(__SSE2__)
  if (kHaveAvx) i = divide_avx(x, n, d);
#endif
  for (; i < n; ++i) x[i] /= d[i];
}

void log_f32(const float* in, float* out, std::size_t n) {
#if defined(__SSE2__)
  by_fours(in, out, kHaveAvx ? log_avx(in, out, n) : 0, n, [](__m128 v) { return log4(v); });
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::log(in[i]);
#endif
}

}  // namespace tg::detail
