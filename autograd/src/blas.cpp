// Which kernels OpenBLAS runs, and replacing a generic fallback with the CPU's own.
//
// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels once, in its load-time
// constructor, from the CPU model, or from OPENBLAS_CORETYPE. A CPU model newer than the library
// can land on a generic branch: 0.3.21 maps Intel family 6 models it does not know to Prescott
// (SSE3), which runs an mnist epoch several times slower than the SkylakeX kernels on the same
// AVX-512 CPU. Its exported gotoblas_dynamic_quit()/gotoblas_dynamic_init() redo that choice
// (init reads OPENBLAS_CORETYPE again and initialises the chosen kernel table), so tapegrad redoes
// it before its first BLAS call with the variable set to the kernels the CPU's instruction sets
// allow. Later calls, from tapegrad or anyone else in the process, use the new table: the same
// BLAS, the same results up to the kernel's summation order, faster.
#include "tapegrad/blas.hpp"

#include <cblas.h>
#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>

#include "blas_core.hpp"
#include "isa.hpp"
#include "tapegrad/threads.hpp"

// Present in OpenBLAS built with DYNAMIC_ARCH only, hence weak: null elsewhere.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));

namespace tg {
namespace {

struct CoreCheck {
  std::string detected, warning;
};
CoreCheck core_check;
std::once_flag core_checked;
std::mutex select_mutex;

/// 3 for AVX-512 kernels, 2 for AVX2, 1 for AVX, 0 for everything older (OpenBLAS 0.3.21's names).
int core_level(const std::string& name) {
  for (const char* n : {"SkylakeX", "Cooperlake"})
    if (strcasecmp(name.c_str(), n) == 0) return 3;
  for (const char* n : {"Haswell", "Zen", "Excavator"})
    if (strcasecmp(name.c_str(), n) == 0) return 2;
  for (const char* n : {"SandyBridge", "Bulldozer", "Piledriver", "Steamroller"})
    if (strcasecmp(name.c_str(), n) == 0) return 1;
  return 0;
}

std::string cpu_features() {
  __builtin_cpu_init();
  std::string features;
  const auto add = [&](bool has, const char* name) {
    if (has) features += (features.empty() ? "" : " ") + std::string(name);
  };
  add(__builtin_cpu_supports("sse4.2"), "SSE4.2");
  add(__builtin_cpu_supports("avx"), "AVX");
  add(__builtin_cpu_supports("avx2"), "AVX2");
  add(__builtin_cpu_supports("fma"), "FMA");
  add(__builtin_cpu_supports("avx512f"), "AVX-512");
  return features.empty() ? "no SSE4.2" : features;
}

std::string openblas_version() {
  std::istringstream words(openblas_get_config());  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  std::string library, version;
  words >> library >> version;
  return version;
}

void check_core() {
  // For tests and measurements on a CPU OpenBLAS knows: behave as if it had chosen these kernels.
  const char* simulated = std::getenv("TAPEGRAD_SIMULATE_BLAS_FALLBACK");
  const bool simulating = simulated && *simulated && detail::select_blas_core(simulated);
  core_check.detected = detail::blas_core();
  const std::string best = detail::best_blas_core();
  const char* chosen = std::getenv("OPENBLAS_CORETYPE");
  // The user's explicit choice stands; kernels one level below the best (Zen on an AVX-512 AMD
  // CPU) are OpenBLAS's own judgement, so only a generic (SSE or AVX) fallback is replaced.
  if ((chosen && *chosen && !simulating) || core_level(core_check.detected) >= core_level(best) ||
      core_level(core_check.detected) > 1)
    return;
  if (detail::select_blas_core(best)) return;
  core_check.warning = "tapegrad: OpenBLAS " + openblas_version() + " runs its " + core_check.detected +
                       " kernels on a CPU with " + cpu_features() +
                       ", so matrix products run several times slower than they could. Fix: export "
                       "OPENBLAS_CORETYPE=" + best + " before starting the program.";
  std::cerr << core_check.warning << std::endl;
}

}  // namespace

namespace detail {

void ensure_blas_core() { std::call_once(core_checked, check_core); }

std::string blas_core() { return openblas_get_corename(); }

std::string best_blas_core() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "SandyBridge";
  return "";
}

bool select_blas_core(const std::string& name) {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || name.empty()) return false;
  std::lock_guard<std::mutex> lock(select_mutex);
  const std::string before = blas_core();
  // init reads the variable: set it for that call only, then put back whatever was there.
  const char* old = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = old ? old : "";
  setenv("OPENBLAS_CORETYPE", name.c_str(), 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();  // an unknown name: OpenBLAS warns and detects the CPU again
  if (old) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else unsetenv("OPENBLAS_CORETYPE");
  if (strcasecmp(blas_core().c_str(), name.c_str()) == 0) return true;
  if (blas_core() != before) {  // undo whatever detection chose instead
    setenv("OPENBLAS_CORETYPE", before.c_str(), 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (old) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
    else unsetenv("OPENBLAS_CORETYPE");
  }
  return false;
}

}  // namespace detail

BlasInfo blas_info() {
  detail::ensure_blas_core();
  BlasInfo info;
  info.library = "OpenBLAS";
  info.version = openblas_version();
  info.config = openblas_get_config();
  info.core = detail::blas_core();
  info.detected_core = core_check.detected;
  info.best_core = detail::best_blas_core();
  info.cpu_features = cpu_features();
  info.tapegrad_kernels = detail::kernel_isa();
  info.threads = get_num_threads();
  info.warning = core_check.warning;
  return info;
}

std::string to_string(const BlasInfo& info) {
  std::string line = info.library + " " + info.version + ", " + info.core + " kernels";
  if (info.detected_core != info.core) line += " (OpenBLAS chose " + info.detected_core + "; tapegrad switched)";
  line += ", CPU: " + info.cpu_features + ", tapegrad's kernels " + info.tapegrad_kernels + "; " +
          std::to_string(info.threads) + " thread(s)";
  return line;
}

}  // namespace tg
