// Float32 tanh, exp, sigmoid and log over whole arrays. tanh and exp go four lanes per call
// through glibc's vector math library (libmvec) where the build found it (tanh eight lanes on CPUs
// with AVX2), else libm one element at a time; log is tapegrad's own (vector_math.cpp), because
// glibc's scalar logf rounds differently on CPUs with FMA and its vector logf is up to 4 ulp off.
//
// libmvec's tanhf is ~5x faster than libm's scalar tanhf here and within 1 ulp of the exact
// result (libm: 2 ulp); its expf within 3 ulp (measured on 44 million inputs, every 97th float).
// Every element, the tail included, goes through the same vector function (or, for log, the same
// operations), so a value's result does not depend on its position. float64 keeps libm:
// examples/xor must match NumPy to the byte.
#pragma once

#include <cstddef>

namespace tg::detail {

/// out[i] = tanh(in[i]) for i < n; in and out may be the same array.
void tanh_f32(const float* in, float* out, std::size_t n);
/// out[i] = exp(in[i]) for i < n; in and out may be the same array.
void exp_f32(const float* in, float* out, std::size_t n);
/// out[i] = 1 / (1 + exp(-in[i])) for i < n (exactly 0 where exp overflows); in and out may alias.
void sigmoid_f32(const float* in, float* out, std::size_t n);
/// out[i] = log(in[i]) for i < n, within 1 ulp, the same bits on every x86-64 CPU (tapegrad's own
/// kernel, not libm's); in and out may be the same array.
void log_f32(const float* in, float* out, std::size_t n);

}  // namespace tg::detail
