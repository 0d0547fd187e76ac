/// \file
/// The number of threads tapegrad uses, for matrix products and for long elementwise loops.
#pragma once

namespace tg {

/// Sets how many threads tapegrad uses (1 to 1024; throws tg::Error otherwise). Applies to the whole
/// process. tapegrad's own pool splits large matrix products (one single-threaded OpenBLAS call
/// per thread), optimizer updates and contiguous copies of at least 32,768 elements over them.
/// OpenBLAS itself is set to one thread when tapegrad first reads the count and again by every
/// call of set_num_threads, so that two pools do not spin against each other; a program that
/// also calls BLAS directly and wants it threaded sets openblas_set_num_threads after those.
/// Without a call, the count is OpenBLAS's default at that moment: OPENBLAS_NUM_THREADS if set,
/// else one per core. Elementwise results are the same bits on any count; products may differ in
/// the last bits, as with OpenBLAS's own threads.
void set_num_threads(int n);
/// The number of threads tapegrad uses.
int get_num_threads();

}  // namespace tg
