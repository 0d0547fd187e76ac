// Private: the sampling steps tg::Generator and tg::NumpyRandomState share. Include it after the
// including file's fp-contract pragma: the bit-exact streams need separately rounded products.
#pragma once

#include <cmath>
#include <cstdint>

namespace tg::detail {

/// One standard normal by Marsaglia's polar method, as NumPy's legacy_gauss: u = 2 uniform() - 1,
/// v likewise, redrawn while s = u^2 + v^2 is >= 1 or 0; f = sqrt(-2 log(s) / s). Returns f v
/// and keeps f u in `cached` for the next call (normals come in pairs).
template <class Uniform>
double polar_normal(Uniform&& uniform, double& cached, bool& has_cached) {
  if (has_cached) {
    has_cached = false;
    return cached;
  }
  double u, v, s;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  cached = f * u;
  has_cached = true;
  return f * v;
}

/// The smallest 2^k - 1 that is >= bound: the mask of masked-rejection integer sampling.
inline std::uint64_t mask_covering(std::uint64_t bound) {
  std::uint64_t mask = bound;
  for (int shift = 1; shift < 64; shift *= 2) mask |= mask >> shift;
  return mask;
}

}  // namespace tg::detail
