// TAPEGRAD_MAX_ISA, read once (see isa.hpp).
#include "isa.hpp"

#include <strings.h>

#include <cstdio>
#include <cstdlib>

namespace tg::detail {
namespace {

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

}  // namespace

bool isa_allowed(Isa isa) {
  static const Isa cap = read_cap();  // a function-local static: safe from any static initialiser
  return isa <= cap;
}

const char* kernel_isa() {
  __builtin_cpu_init();
  // exp and sigmoid need AVX2 only; tanh (glibc's AVX2 tanhf) needs FMA too, or runs its SSE2 version.
  if (__builtin_cpu_supports("avx2") && isa_allowed(Isa::kAvx2))
    return __builtin_cpu_supports("fma") ? "AVX2" : "AVX2 (tanh SSE2: no FMA)";
  if (__builtin_cpu_supports("avx") && isa_allowed(Isa::kAvx)) return "AVX";
  return "SSE2";
}

}  // namespace tg::detail
