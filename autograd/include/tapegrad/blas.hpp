/// \file
/// Which BLAS runs tapegrad's matrix products: the library, its kernels and the CPU under them.
#pragma once

#include <string>

namespace tg {

/// What blas_info() reports. Core names are OpenBLAS's (OPENBLAS_CORETYPE values).
struct BlasInfo {
  std::string library;        ///< "OpenBLAS"
  std::string version;        ///< e.g. "0.3.21"
  std::string config;         ///< openblas_get_config(), e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  std::string core;           ///< the kernels in use (openblas_get_corename()), e.g. "SkylakeX"
  /// the kernels OpenBLAS chose when it loaded; differs from core when tapegrad replaced them
  std::string detected_core;
  /// the kernels for this CPU's instruction sets: "SkylakeX", "Haswell", "SandyBridge", or "" (SSE only)
  std::string best_core;
  std::string cpu_features;   ///< the CPU's vector instruction sets, e.g. "SSE4.2 AVX AVX2 FMA AVX-512"
  /// what tapegrad's own vector kernels (float32 exp, tanh, sigmoid, log; the transposing copies)
  /// run: "AVX2", "AVX" or "SSE2", the CPU's widest unless the environment variable
  /// TAPEGRAD_MAX_ISA (sse2, avx or avx2) caps it ("AVX2 (tanh SSE2: no FMA)" on a CPU with AVX2
  /// but not FMA, as some virtual machines report)
  std::string tapegrad_kernels;
  int threads = 1;            ///< tapegrad's thread count (get_num_threads()); each BLAS call runs on one of them
  std::string warning;        ///< non-empty when the kernels are slower than the CPU allows: what to do about it
};

/// The BLAS tapegrad uses, after its first-use check: when OpenBLAS fell back to kernels older
/// than the CPU (a CPU newer than the library, e.g. OpenBLAS 0.3.21 picks Prescott on Intel
/// family 6 models it does not know) and OPENBLAS_CORETYPE is not set, tapegrad switches OpenBLAS
/// to the best kernels for the CPU's instruction sets (this applies to the whole process, which
/// runs the same arithmetic faster). Where it cannot, it prints the fix once on stderr
/// (`export OPENBLAS_CORETYPE=...`) and `warning` holds it.
BlasInfo blas_info();

/// One line for logs and banners: "OpenBLAS 0.3.21, SkylakeX kernels, CPU: SSE4.2 AVX AVX2 FMA
/// AVX-512, tapegrad's kernels AVX2; 2 thread(s)", plus what OpenBLAS first chose when tapegrad
/// replaced it.
std::string to_string(const BlasInfo& info);

}  // namespace tg
