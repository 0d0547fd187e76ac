// The one thread count of the library: the pool of parallel.cpp splits long elementwise loops and
// large matrix products over it, and OpenBLAS itself runs on one thread (two pools spinning on
// the same cores slow each other down; see bench/PROFILE.md, session 4).
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

/// On first use the count is OpenBLAS's (OPENBLAS_NUM_THREADS, else one per core), and OpenBLAS
/// is set to one thread from then on.
void take_count_from_openblas() {
  std::call_once(taken_from_openblas, [] {
    detail::ensure_blas_core();
    thread_count.store(std::clamp(openblas_get_num_threads(), 1, kMaxThreads));
    openblas_set_num_threads(1);
  });
}
}  // namespace

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads) fail("set_num_threads: need 1 to ", kMaxThreads, " threads, got ", n);
  take_count_from_openblas();
  thread_count.store(n);
  openblas_set_num_threads(1);  // again: the program may have threaded OpenBLAS since first use
}

int get_num_threads() { return detail::num_threads(); }

namespace detail {
int num_threads() {
  const int n = thread_count.load(std::memory_order_relaxed);
  if (n > 0) return n;
  take_count_from_openblas();
  return thread_count.load();
}
}  // namespace detail

}  // namespace tg
