// Linking tapegrad changes nothing in the process (issue 14): glibc's allocator keeps its default
// thresholds and OpenBLAS its thread count, both before any tensor exists and after tapegrad has
// run products and a backward pass. CTest runs this with OPENBLAS_NUM_THREADS=2 (tests/CMakeLists.txt).
// Exits 1 naming each check that failed.
#include <cblas.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace {
int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

// AddressSanitizer replaces malloc, so glibc's counters say nothing there.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
/// An allocation the compiler cannot drop (it may elide a malloc/free pair it sees through).
void* kept_malloc(std::size_t bytes) {
  void* p = std::malloc(bytes);
  if (p != nullptr) std::memset(p, 1, bytes);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

/// glibc's defaults: a block of `bytes`, larger than any freed so far, comes from mmap (the
/// threshold starts at 128 KiB and only rises to the size of freed mmap blocks); tapegrad's old
/// policy (M_MMAP_THRESHOLD 32 MiB) served it from the heap.
void check_mmap_threshold(std::size_t bytes, const char* what) {
  const std::size_t before = mallinfo2().hblks;
  void* p = kept_malloc(bytes);
  check(mallinfo2().hblks == before + 1, what);
  std::free(p);
}

/// glibc's defaults: 16 MiB of freed 64 KiB heap blocks at the top of the heap go back to the
/// kernel (the trim threshold is twice the largest freed mmap block, here at most 2 MiB: run
/// before anything larger is freed); tapegrad's old policy (M_TRIM_THRESHOLD -1) kept them.
void check_heap_trimmed(const char* what) {
  std::vector<void*> blocks(256);
  for (auto& b : blocks) b = kept_malloc(64 * 1024);
  const std::size_t peak = mallinfo2().arena;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) std::free(*it);
  const std::size_t after = mallinfo2().arena;
  std::printf("  heap %zu bytes at the peak, %zu after freeing\n", peak, after);
  check(after + 8 * 1024 * 1024 <= peak, what);
}
#else
void check_mmap_threshold(std::size_t, const char*) {}
void check_heap_trimmed(const char*) {}
#endif
}  // namespace

int main() {
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  if (env == nullptr || std::atoi(env) < 2) {
    std::printf("FAILED: run with OPENBLAS_NUM_THREADS=2 or more (CTest sets it)\n");
    return 1;
  }
  const int blas_threads = std::atoi(env);

  // A program that links tapegrad and creates no tensor (default_dtype() is in tensor.cpp, whose
  // static initializer used to set glibc's policy, so that file is linked in).
  check(tg::default_dtype() == tg::kFloat32, "tapegrad is linked in");
  check(openblas_get_num_threads() == blas_threads, "no tensor: OpenBLAS runs OPENBLAS_NUM_THREADS threads");
  check_mmap_threshold(1024 * 1024, "no tensor: a fresh 1 MiB malloc comes from mmap");
  check_heap_trimmed("no tensor: freed heap at the top is trimmed");

  // After products (large enough to be split over tapegrad's pool) and a backward pass.
  {
    tg::Generator gen(1);
    tg::Tensor a = tg::randn({256, 256}, tg::kFloat32, &gen).requires_grad_();
    tg::Tensor b = tg::randn({256, 256}, tg::kFloat32, &gen);
    tg::Tensor loss = tg::sum(tg::mm(a, b));
    loss.backward();
    check(a.grad().defined(), "the backward pass ran");
  }
  check(openblas_get_num_threads() == blas_threads, "after products: OpenBLAS's thread count is the program's");
  check(tg::get_num_threads() == blas_threads,
        "tapegrad's thread count is OpenBLAS's default, read outside its products");
  check_heap_trimmed("after tensors: freed heap at the top is trimmed");
  check_mmap_threshold(4 * 1024 * 1024, "after tensors: a fresh 4 MiB malloc comes from mmap");

  // The program's own setting, changed after tapegrad's first use, is kept too.
  openblas_set_num_threads(1);
  {
    tg::Tensor x = tg::ones({300, 300});
    check(tg::sum(tg::mm(x, x)).item() == 300.0 * 300 * 300, "a product ran");
  }
  check(openblas_get_num_threads() == 1, "OpenBLAS set to 1 thread by the program stays at 1");
  return failures == 0 ? 0 : 1;
}
