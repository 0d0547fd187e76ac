/// \file
/// The number of threads tapegrad uses, for matrix products and for long elementwise loops.
#pragma once

namespace tg {

/// Sets how many threads tapegrad uses (1 to 1024; throws tg::Error otherwise). Applies to the whole
/// process. tapegrad's own pool splits large matrix products (one single-threaded OpenBLAS call
/// per thread), optimizer updates and contiguous copies of at least 32,768 elements over them.
/// tapegrad's own BLAS calls run OpenBLAS on one thread, so that two pools do not spin against
/// each other; OpenBLAS's thread count is set to one only while they run and put back after
/// them, so a program that calls BLAS itself keeps its own setting (openblas_set_num_threads,
/// OPENBLAS_NUM_THREADS). Without a call, tapegrad's count is OpenBLAS's thread count when
/// tapegrad first needs it: OPENBLAS_NUM_THREADS if set, else one per core. Elementwise results are the same bits on
/// any count; products may differ in the last bits, as with OpenBLAS's own threads.
void set_num_threads(int n);
/// The number of threads tapegrad uses.
int get_num_threads();

}  // namespace tg
