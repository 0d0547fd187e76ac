// The C allocator's policy for freed tensor memory (see tapegrad/memory.hpp).
#include "tapegrad/memory.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
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
/// Applies the default (on) unless TAPEGRAD_KEEP_FREED_MEMORY=0; run once at load by tensor.cpp.
bool apply_memory_policy() {
  const char* env = std::getenv("TAPEGRAD_KEEP_FREED_MEMORY");
  const bool on = env == nullptr || std::strcmp(env, "0") != 0;
  if (on) set_keep_freed_memory(true);
  return on;
}
}  // namespace detail

}  // namespace tg
