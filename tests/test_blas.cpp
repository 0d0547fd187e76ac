// tg::blas_info() and the kernel check: what it reports, and that a generic OpenBLAS fallback on
// a CPU with AVX2 or AVX-512 is replaced by the CPU's kernels unless OPENBLAS_CORETYPE says otherwise.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "blas_core.hpp"
#include "python.hpp"
#include "tapegrad/tapegrad.hpp"

namespace {

/// Restores the kernels a test found, so that the rest of the suite runs on the ones chosen for it.
struct KeepKernels {
  std::string core = tg::detail::blas_core();
  ~KeepKernels() { tg::detail::select_blas_core(core); }
};

/// A product large enough for the gemm kernels, as float64 values.
std::vector<double> product() {
  const tg::Tensor a = tg::arange(0, 64 * 48, 1, tg::kFloat64).reshape({64, 48}) / 1000.0;
  const tg::Tensor b = tg::cos(tg::arange(0, 48 * 40, 1, tg::kFloat64)).reshape({48, 40});
  return tg::matmul(a, b).to_vector();
}

bool looks_like_version(const std::string& v) {
  std::size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0 && (i >= v.size() || v[i++] != '.')) return false;
    const std::size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    if (i == start) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("blas_info: library, version, kernels, CPU and threads") {
  const tg::BlasInfo info = tg::blas_info();
  CHECK(info.library == "OpenBLAS");
  // "major.minor.patch" then anything (<regex> is avoided: GCC 12 warns inside it under ASan).
  CHECK(looks_like_version(info.version));
  CHECK(info.config.find(info.version) != std::string::npos);
  CHECK(info.core == tg::detail::blas_core());
  CHECK(!info.detected_core.empty());
  __builtin_cpu_init();
  CHECK((info.cpu_features.find("AVX2") != std::string::npos) == bool(__builtin_cpu_supports("avx2")));
  CHECK((info.cpu_features.find("AVX-512") != std::string::npos) == bool(__builtin_cpu_supports("avx512f")));
  CHECK(info.best_core == tg::detail::best_blas_core());
  CHECK(info.threads == tg::get_num_threads());
  CHECK(info.warning.empty());  // this OpenBLAS can always switch its kernels
  const std::string line = tg::to_string(info);
  INFO(line);
  CHECK(line.find("OpenBLAS " + info.version) != std::string::npos);
  CHECK(line.find(info.core + " kernels") != std::string::npos);
}

TEST_CASE("blas: OpenBLAS's kernels can be switched at run time, and the products stay right") {
  const std::string best = tg::detail::best_blas_core();
  if (best.empty()) {
    WARN("SKIPPED: this CPU has no AVX, so there are no better kernels than the generic ones");
    return;
  }
  KeepKernels keep;
  REQUIRE(tg::detail::select_blas_core("Prescott"));
  CHECK(tg::detail::blas_core() == "Prescott");
  const std::vector<double> generic = product();
  REQUIRE(tg::detail::select_blas_core(best));
  CHECK(tg::detail::blas_core() == best);
  const std::vector<double> fast = product();
  REQUIRE(fast.size() == generic.size());
  double worst = 0;  // the kernels sum in different orders: a few ulp apart, no more
  for (std::size_t i = 0; i < fast.size(); ++i)
    worst = std::max(worst, std::abs(fast[i] - generic[i]) / std::max(1.0, std::abs(generic[i])));
  CHECK(worst < 1e-13);
  // A name OpenBLAS does not know changes nothing.
  CHECK_FALSE(tg::detail::select_blas_core("NoSuchCore"));
  CHECK(tg::detail::blas_core() == best);
}

TEST_CASE("blas: a generic fallback is replaced at first use, an explicit OPENBLAS_CORETYPE is kept") {
  const std::string best = tg::detail::best_blas_core();
  if (best.empty()) {
    WARN("SKIPPED: this CPU has no AVX, so there are no better kernels than the generic ones");
    return;
  }
  const std::string child = TAPEGRAD_BLAS_INFO_CHILD;
  // OpenBLAS's own choice replaced by Prescott, as 0.3.21 does on Intel models it does not know.
  const tg::testing::CommandOutput fallback =
      tg::testing::run_command("env -u OPENBLAS_CORETYPE TAPEGRAD_SIMULATE_BLAS_FALLBACK=Prescott " + child);
  REQUIRE(fallback.status == 0);
  CHECK(fallback.out == "core " + best + "\ndetected Prescott\nbest " + best + "\nwarning \n");
  // The user's choice stands, even a slow one.
  const tg::testing::CommandOutput chosen = tg::testing::run_command("OPENBLAS_CORETYPE=Prescott " + child);
  REQUIRE(chosen.status == 0);
  CHECK(chosen.out == "core Prescott\ndetected Prescott\nbest " + best + "\nwarning \n");
}
