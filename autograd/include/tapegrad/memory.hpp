/// \file
/// How tapegrad asks the C allocator to treat freed tensor memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg {

/// Releases the tensor buffers tapegrad keeps for reuse: the calling thread's cache and the
/// shared pool (where the caches of threads that have ended go). Other running threads keep
/// their own caches (each may call this itself).
///
/// A tensor buffer of 64 KiB or more that a thread's op allocated is kept by that thread when
/// freed there (its last tensor gone), up to 1 GiB per thread, and the next tensor of the same
/// dtype and element count created on that thread takes it, so the cache holds at most what the
/// thread had live at once: a training loop allocates the same sizes every step, and a
/// fresh block would cost a page fault per 4 KiB on first touch. Smaller buffers are left to
/// malloc. The cost is what the caches hold; memory_stats() says how much. Nothing is cached in
/// builds with AddressSanitizer, so it still sees every use after free.
void empty_cache();

/// What the caches of empty_cache() hold, and how the calling thread's tensors were served.
struct MemoryStats {
  std::size_t cached_bytes = 0;         ///< in the calling thread's cache
  std::size_t cached_blocks = 0;        ///< in the calling thread's cache
  std::size_t shared_cached_bytes = 0;  ///< in the shared pool (from threads that have ended)
  std::uint64_t reused_blocks = 0;      ///< buffers of 64 KiB or more this thread took from a cache
  std::uint64_t fresh_blocks = 0;       ///< ... and allocated fresh (none cached of that size)
  bool caching = true;                  ///< false in AddressSanitizer builds
};
/// The caches' figures now, for the calling thread (see MemoryStats).
MemoryStats memory_stats();

/// Opt-in, for the whole process: whether glibc keeps freed memory for the next allocations.
///
/// tapegrad changes nothing in the C allocator by itself. glibc's default already keeps most of
/// a training loop's freed tensors: a block over its 128 KiB threshold comes from mmap and goes
/// back to the kernel when freed, but freeing one raises the threshold to that block's size, so
/// from the second step on blocks of that size come from the heap and are reused (the heap top is
/// still trimmed when more than twice that size is free there). A program whose later tensors
/// are larger than any freed so far, or whose heap top gets trimmed between steps, pays a page
/// fault per 4 KiB on the first touch of the fresh pages. It may call this at its start:
/// on, blocks up to 32 MiB come from the heap (mallopt M_MMAP_THRESHOLD) and the heap is never
/// trimmed (M_TRIM_THRESHOLD = -1), for every allocation of the process, at the cost of keeping
/// the peak heap (the resident set does not fall after a peak); off sets glibc's initial fixed
/// 128 KiB thresholds (without glibc's dynamic raise, which mallopt turns off for good).
/// Does nothing on other C libraries.
void set_keep_freed_memory(bool on);

namespace detail {
/// Asks the kernel to back the 2 MiB-aligned part of [data, data + bytes) with transparent huge
/// pages when bytes >= 4 MiB (NumPy does the same for its large arrays). Call before the first
/// write. Does nothing elsewhere than Linux or for smaller blocks. Why: a freshly written array
/// in 4 KiB pages reads far slower on its first pass than in huge pages (MNIST's training images;
/// figures in bench/PROFILE.md).
void advise_huge_pages(void* data, std::size_t bytes);
/// Smaller blocks are not advised (callers on hot paths test this before calling).
inline constexpr std::size_t kHugePageAdviceBytes = std::size_t{4} << 20;
}  // namespace detail

}  // namespace tg
