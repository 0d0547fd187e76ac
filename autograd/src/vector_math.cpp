// Float32 tanh, exp and sigmoid over arrays (see vector_math.hpp).
#include "vector_math.hpp"

#include <cmath>

#if TAPEGRAD_HAVE_LIBMVEC
#include <immintrin.h>

// glibc's x86-64 vector ABI names: 'b' = SSE (baseline x86-64), N4 = four lanes, v = one vector
// argument. glibc picks the implementation for the CPU when the library loads.
extern "C" __m128 _ZGVbN4v_tanhf(__m128 x);
extern "C" __m128 _ZGVbN4v_expf(__m128 x);
#endif

namespace tg::detail {

namespace {
#if TAPEGRAD_HAVE_LIBMVEC
template <__m128 (*vector_f)(__m128)>
void apply(const float* in, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, vector_f(_mm_loadu_ps(in + i)));
  if (i == n) return;
  float lanes[4] = {0, 0, 0, 0};
  for (std::size_t k = i; k < n; ++k) lanes[k - i] = in[k];
  _mm_storeu_ps(lanes, vector_f(_mm_loadu_ps(lanes)));
  for (std::size_t k = i; k < n; ++k) out[k] = lanes[k - i];
}
#endif
}  // namespace

void tanh_f32(const float* in, float* out, std::size_t n) {
#if TAPEGRAD_HAVE_LIBMVEC
  apply<_ZGVbN4v_tanhf>(in, out, n);
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
#endif
}

void exp_f32(const float* in, float* out, std::size_t n) {
#if TAPEGRAD_HAVE_LIBMVEC
  apply<_ZGVbN4v_expf>(in, out, n);
#else
  for (std::size_t i = 0; i < n; ++i) out[i] = std::exp(in[i]);
#endif
}

void sigmoid_f32(const float* in, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = -in[i];
  exp_f32(out, out, n);
  for (std::size_t i = 0; i < n; ++i) out[i] = 1.0f / (1.0f + out[i]);
}

}  // namespace tg::detail
