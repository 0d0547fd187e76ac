/// \file
/// How tapegrad asks the C allocator to treat freed tensor memory.
#pragma once

#include <cstddef>

namespace tg {

/// Whether memory freed by tensors stays in the process for the next tensors (default: on).
///
/// glibc returns every block over 128 KiB to the kernel when it is freed (and trims the top of
/// the heap), so the next tensor of that size starts on fresh pages and pays a page fault per
/// 4 KiB on first touch (10-100 µs per page on a VM): a 256x256 float32 op spent most of its
/// time there. Training loops allocate the same sizes every step, so tapegrad keeps freed memory,
/// as a caching allocator would: on, blocks up to 32 MiB come from the heap
/// (mallopt M_MMAP_THRESHOLD) and the heap is never trimmed (M_TRIM_THRESHOLD = -1); off restores
/// glibc's 128 KiB thresholds. Applies to the whole process, is set when the library loads unless
/// the environment has TAPEGRAD_KEEP_FREED_MEMORY=0, and does nothing on other C libraries.
/// The cost: the process keeps its peak heap size (RSS does not fall after a peak).
void set_keep_freed_memory(bool on);

namespace detail {
/// Asks the kernel to back the 2 MiB-aligned part of [data, data + bytes) with transparent huge
/// pages when bytes >= 4 MiB (NumPy does the same for its large arrays). Call before the first
/// write. Does nothing elsewhere than Linux or for smaller blocks. Why: on the development VM a
/// freshly written array in 4 KiB pages read at ~1.7 GB/s on its first pass (MNIST's 188 MB
/// training images: 0.11 s, then 0.006 s), in huge pages at full speed from the start.
void advise_huge_pages(void* data, std::size_t bytes);
/// Smaller blocks are not advised (callers on hot paths test this before calling).
inline constexpr std::size_t kHugePageAdviceBytes = std::size_t{4} << 20;
}  // namespace detail

}  // namespace tg
