// The number of threads tapegrad uses: OpenBLAS's thread count, for matrix products and for the
// long elementwise loops (optimizer updates, batch copies) that tapegrad splits itself.
#pragma once

namespace tg {

/// Sets how many threads OpenBLAS uses for matrix products (openblas_set_num_threads); n >= 1.
/// tapegrad's own pool splits optimizer updates and contiguous copies of at least 32,768
/// elements over the same number of threads (results are the same bits on any count).
/// Applies to the whole process. Without a call, OpenBLAS decides (OPENBLAS_NUM_THREADS, else
/// one per core). Throws tg::Error for n < 1.
void set_num_threads(int n);
/// The number of threads OpenBLAS currently uses (openblas_get_num_threads).
int get_num_threads();

}  // namespace tg
