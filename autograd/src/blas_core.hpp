// OpenBLAS's kernel choice (private): the first-use check behind tg::blas_info(), and the switch
// the white-box tests drive.
#pragma once

#include <string>

namespace tg::detail {

/// Runs once, before tapegrad's first BLAS call: when OpenBLAS fell back to generic kernels on
/// a CPU that has AVX2 or AVX-512 and OPENBLAS_CORETYPE is unset, switches it to the CPU's best
/// kernels; where it cannot, prints the fix on stderr. Cheap after the first call.
void ensure_blas_core();

/// The kernels OpenBLAS uses now (openblas_get_corename()).
std::string blas_core();

/// The best OpenBLAS kernels for this CPU's instruction sets: "SkylakeX", "Haswell", "SandyBridge"
/// or "" (nothing beyond SSE).
std::string best_blas_core();

/// Makes OpenBLAS use the kernels named (an OPENBLAS_CORETYPE value) from its next call on, as if
/// it had chosen them when it loaded; no other BLAS call may be running. False when this OpenBLAS
/// cannot (not built with DYNAMIC_ARCH, or an unknown name), with the kernels unchanged.
bool select_blas_core(const std::string& name);

}  // namespace tg::detail
