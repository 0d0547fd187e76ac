// TAPEGRAD_MAX_ISA, read once (see isa.hpp).
#include "isa.hpp"

#include <strings.h>

#include <cstdio>
#include <cstdlib>

namespace tg::detail {
namespace {

/// The levels of tapegrad's kernels, lowest first.
enum class Isa { kSse2, kAvx, kAvx2 };

Isa read_cap() {
  const char* value = std::getenv("TAPEGRAD_MAX_ISA");
  if (!value || !*value) return Isa::kAvx2;
  if (strcasecmp(value, "sse2") == 0) return Isa::kSse2;
  if (strcasecmp(value, "avx") == 0) return Isa::kAvx;
  if (strcasecmp(value, "avx2") == 0) return Isa::kAvx2;
  // stdio, not iostream: this may run from another file's static initialiser, before std::cerr.
  std::fprintf(stderr, "tapegrad: TAPEGRAD_MAX_ISA=%s is not one of sse2, avx, avx2; ignored\n", value);
  return Isa::kAvx2;
}

bool isa_allowed(Isa isa) {
  static const Isa cap = read_cap();  // a function-local static: safe from any static initialiser
  return isa <= cap;
}

}  // namespace

bool use_avx() {
  __builtin_cpu_init();  // this may run before libgcc's own constructor has filled in the CPU model
  return __builtin_cpu_supports("avx") && isa_allowed(Isa::kAvx);
}

bool use_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && isa_allowed(Isa::kAvx2);
}

bool use_avx2_fma() { return use_avx2() && __builtin_cpu_supports("fma"); }

const char* kernel_isa() {
  if (use_avx2()) return use_avx2_fma() ? "AVX2" : "AVX2 (tanh SSE2: no FMA)";
  return use_avx() ? "AVX" : "SSE2";
}

}  // namespace tg::detail
