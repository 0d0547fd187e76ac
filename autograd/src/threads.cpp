// The one thread count of the library: the pool of parallel.cpp splits long elementwise loops and
// large matrix products over it, and tapegrad's own BLAS calls run OpenBLAS on one thread (two
// pools spinning on the same cores slow each other down; see bench/PROFILE.md, session 4).
//
// OpenBLAS's thread count is process-wide and belongs to the program: tapegrad sets it to one
// only while its own products run (BlasOnOneThread) and puts the program's value back after them,
// so a program that also calls BLAS itself finds OpenBLAS as it left it. Setting and restoring
// costs a few tens of nanoseconds per product (bench/PROFILE.md, session 8), against the
// microseconds of the smallest product.
#include "tapegrad/threads.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "blas_core.hpp"
#include "parallel.hpp"
#include "tapegrad/error.hpp"

namespace tg {
namespace {
constexpr int kMaxThreads = 1024;  // the pool's claim word counts up to 65,535 chunks of a loop
std::atomic<int> thread_count{0};
std::once_flag taken_from_openblas;

// The products running now under a BlasOnOneThread, and the program's OpenBLAS thread count
// they put back when the last one ends (nested and concurrent products share one save).
std::mutex blas_threads_mutex;
int blas_products_running = 0;
int blas_threads_saved = 1;

/// On first use the count is OpenBLAS's (OPENBLAS_NUM_THREADS, else one per core), as the
/// program has it: the saved value while tapegrad's products hold OpenBLAS at one thread.
/// OpenBLAS's own setting is left as it is.
void take_count_from_openblas() {
  std::call_once(taken_from_openblas, [] {
    detail::ensure_blas_core();
    std::lock_guard<std::mutex> lock(blas_threads_mutex);
    const int program_threads = blas_products_running > 0 ? blas_threads_saved : openblas_get_num_threads();
    thread_count.store(std::clamp(program_threads, 1, kMaxThreads));
  });
}
}  // namespace

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads) fail("set_num_threads: need 1 to ", kMaxThreads, " threads, got ", n);
  take_count_from_openblas();
  thread_count.store(n);
}

int get_num_threads() { return detail::num_threads(); }

namespace detail {
BlasOnOneThread::BlasOnOneThread() {
  ensure_blas_core();
  std::lock_guard<std::mutex> lock(blas_threads_mutex);
  if (blas_products_running++ > 0) return;
  blas_threads_saved = openblas_get_num_threads();
  if (blas_threads_saved != 1) openblas_set_num_threads(1);
}

BlasOnOneThread::~BlasOnOneThread() {
  std::lock_guard<std::mutex> lock(blas_threads_mutex);
  if (--blas_products_running > 0) return;
  if (blas_threads_saved != 1) openblas_set_num_threads(blas_threads_saved);
}

int num_threads() {
  const int n = thread_count.load(std::memory_order_relaxed);
  if (n > 0) return n;
  take_count_from_openblas();
  return thread_count.load();
}
}  // namespace detail

}  // namespace tg
