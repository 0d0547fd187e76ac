// The C allocator's policy for freed tensor memory (see tapegrad/memory.hpp).
#include "tapegrad/memory.hpp"

#include <cstdint>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tg {

void set_keep_freed_memory(bool on) {
#if defined(__GLIBC__)
  constexpr int kGlibcDefault = 128 * 1024;
  constexpr int kLargestHeapBlock = 32 * 1024 * 1024;  // glibc's maximum mmap threshold on 64-bit
  mallopt(M_MMAP_THRESHOLD, on ? kLargestHeapBlock : kGlibcDefault);
  mallopt(M_TRIM_THRESHOLD, on ? -1 : kGlibcDefault);  // -1: never trim
#else
  (void)on;
#endif
}

namespace detail {
void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__)
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  if (bytes < kHugePageAdviceBytes) return;  // also keeps the syscall off the many small tensors
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice only
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace detail

}  // namespace tg
