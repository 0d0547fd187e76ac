// The number of threads tapegrad's matrix products use (OpenBLAS's thread pool).
#pragma once

namespace tg {

/// Sets how many threads OpenBLAS uses for matrix products (openblas_set_num_threads); n >= 1.
/// Applies to the whole process. Without a call, OpenBLAS decides (OPENBLAS_NUM_THREADS, else
/// one per core). Throws tg::Error for n < 1.
void set_num_threads(int n);
/// The number of threads OpenBLAS currently uses (openblas_get_num_threads).
int get_num_threads();

}  // namespace tg
