// Float32 tanh, exp, sigmoid and log over whole arrays.
//
// tanh goes four lanes per call through glibc's vector math library (libmvec) where the build
// found it (eight lanes on CPUs with AVX2: the same bits), else libm one element at a time:
// libmvec's tanhf is ~5x faster than libm's scalar tanhf and within 1 ulp of the exact result.
// exp (and so sigmoid) and log are tapegrad's own kernels (vector_math.cpp), within 1 ulp on every
// float, in plain IEEE arithmetic with no FMA, so their bits do not depend on the CPU: glibc's
// scalar logf and expf take FMA variants on CPUs with FMA, its vector expf is 3 ulp off and its
// vector logf 4. Every element, the tail included, goes through the same operations, so a value's
// result does not depend on its position. float64 keeps libm: examples/xor must match NumPy to
// the byte.
#pragma once

#include <cstddef>

namespace tg::detail {

/// out[i] = tanh(in[i]) for i < n; in and out may be the same array.
void tanh_f32(const float* in, float* out, std::size_t n);
/// out[i] = exp(in[i]) for i < n; in and out may be the same array.
void exp_f32(const float* in, float* out, std::size_t n);
/// out[i] = exp(in[i] - shift) for i < n, the difference rounded to float first (softmax's
/// shift by the maximum in the same pass); in and out may be the same array.
void exp_shifted_f32(const float* in, float shift, float* out, std::size_t n);
/// out[i] = exp(in[i] - shifts[i % width]) for i < n (a multiple of width: rows of width
/// elements, each shifted by the same row of shifts), the difference rounded to float first; out
/// may be in. Each result is also added to sums[i % width], row after row (softmax's column sums).
void exp_minus_f32(const float* in, const float* shifts, std::size_t width, float* out, std::size_t n, float* sums);
/// x[i] /= d for i < n (IEEE division: the same bits at any vector width).
void divide_f32(float* x, std::size_t n, float d);
/// x[i] /= d[i] for i < n.
void divide_f32(float* x, std::size_t n, const float* d);
/// out[i] = 1 / (1 + exp(-in[i])) for i < n (exactly 0 where exp overflows); in and out may alias.
void sigmoid_f32(const float* in, float* out, std::size_t n);
/// out[i] = log(in[i]) for i < n; in and out may be the same array.
void log_f32(const float* in, float* out, std::size_t n);

}  // namespace tg::detail
