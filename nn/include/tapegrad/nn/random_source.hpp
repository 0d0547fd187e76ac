// The random numbers nn draws (initialisers, Dropout), behind one narrow interface.
//
// Everything random in nn takes an `Engine&` and draws through `uniform01` / `standard_normal`
// below, so moving to tg::Generator (autograd/include/tapegrad/random.hpp, branch `rng`) once it
// is on main means changing the `Engine` alias, `default_engine()` and these two functions only.
// The draws are written out here (not std::uniform_real_distribution / std::normal_distribution,
// whose algorithms are implementation-defined) so a seed gives the same weights everywhere.
#pragma once

#include <cstdint>
#include <random>

namespace tg::nn {

/// The engine nn's random functions take. TODO(rng): becomes tg::Generator when it is merged.
using Engine = std::mt19937_64;

/// The calling thread's engine, used when no engine is passed (initially seeded with 0).
/// Thread-local, so threads building models concurrently never share (or race on) one engine.
Engine& default_engine();
/// Reseeds the calling thread's default_engine(). TODO(rng): forward to tg::manual_seed.
void seed(std::uint64_t seed);

namespace detail {
/// Uniform on [0, 1): the top 53 bits of one 64-bit word times 2^-53.
double uniform01(Engine& engine);
/// Standard normal by Box-Muller from two uniform01 draws (the sine partner is discarded, so a
/// draw never depends on a cached value).
double standard_normal(Engine& engine);
}  // namespace detail

}  // namespace tg::nn
