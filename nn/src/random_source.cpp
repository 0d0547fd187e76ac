// The random source of nn (see random_source.hpp).
#include "tapegrad/nn/random_source.hpp"

#include <cmath>

namespace tg::nn {

Engine& default_engine() {
  thread_local Engine engine(0);
  return engine;
}

void seed(std::uint64_t s) { default_engine().seed(s); }

namespace detail {

double uniform01(Engine& engine) {
  return static_cast<double>(engine() >> 11) * 0x1.0p-53;
}

double standard_normal(Engine& engine) {
  constexpr double two_pi = 6.283185307179586476925286766559;
  const double u1 = 1.0 - uniform01(engine);  // in (0, 1], so log(u1) is finite
  const double u2 = uniform01(engine);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
}

}  // namespace detail
}  // namespace tg::nn
