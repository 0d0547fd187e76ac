// OpenBLAS's kernel choice (private): the first-use check behind tg::blas_info(), and the switch
// the white-box tests drive.
#pragma once

#include <string>

namespace tg::detail {

/// Runs once, before tapegrad's first BLAS call: when OpenBLAS fell back to generic kernels on
/// a CPU that has AVX2 or AVX-512 and OPENBLAS_CORETYPE is unset, switches it to the CPU's best
/// kernels; where it cannot, prints the fix on stderr. Cheap after the first call.
void ensure_blas_core();

/// Held around tapegrad's own BLAS calls (threads.cpp): runs ensure_blas_core(), then keeps
/// OpenBLAS on one thread until the last holder is gone, when the program's own thread count
/// (openblas_get_num_threads() before the first holder) is put back. tapegrad splits large
/// products over its own pool instead; with OpenBLAS's pool running as well, the two would spin
/// against each other on the same cores. A program that calls openblas_set_num_threads while
/// tapegrad's products run on another thread may find it overwritten when they end.
class BlasOnOneThread {
 public:
  BlasOnOneThread();
  ~BlasOnOneThread();
  BlasOnOneThread(const BlasOnOneThread&) = delete;
  BlasOnOneThread& operator=(const BlasOnOneThread&) = delete;
};

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
