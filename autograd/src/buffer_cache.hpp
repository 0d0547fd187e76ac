// tapegrad's cache of tensor buffers (private; tg::empty_cache() and tg::memory_stats() in
// tapegrad/memory.hpp are its public side).
//
// Why: a training loop allocates the same sizes every step. glibc returns blocks over its mmap
// threshold to the kernel when they are freed and trims the top of its heap, so without a cache
// the next step's tensors start on fresh pages and pay a page fault per 4 KiB on first touch.
// tapegrad used to change glibc's thresholds for the whole process instead (issue 14).
//
// How: a tensor's array is an xt::xarray<T> with the standard allocator (the public type), so
// the cache keeps whole storages (xt::uvector<T>): when a tensor lets go of its array
// (~TensorImpl), a storage of at least kCachedBlockBytes goes to the calling thread's cache,
// and empty_array() builds its next array of exactly that element count around it. A uvector
// has no capacity beyond its size, hence one size class per element count and dtype (a training
// loop repeats exact sizes). Smaller blocks stay with malloc, whose per-thread caches serve them
// from the heap without page faults.
//
// Invariants:
// - A thread's cache is its own (thread_local, no lock). A buffer freed on another thread than
//   the one that allocated it simply joins the freeing thread's cache: it is plain malloc memory.
// - A thread's cache keeps only blocks its own empty_array() gave out (a set of their addresses).
//   Blocks made elsewhere (an xtensor expression's result, a copy, another thread's tensors) go
//   back to malloc: a cache that kept them would grow by every such block that nothing takes
//   again, and the process's memory with it (activation checkpointing's recomputed segments
//   piled up this way, as did a loader's batches made on its worker threads). So a thread's
//   cache never holds more blocks of a size than its empty_array() had out at once.
// - A thread's cache holds at most kThreadCacheBytes; a block that would pass that is freed.
// - When a thread ends, its blocks move to one shared pool (a mutex; at most kSharedPoolBytes),
//   which any thread's miss consults; empty_cache() frees the calling thread's cache and the pool.
// - Under AddressSanitizer nothing is cached, so a use after free of a tensor's buffer is still
//   reported.
#pragma once

#include <cstddef>
#include <xtensor/xstorage.hpp>

namespace tg::detail {

/// Buffers smaller than this are not cached. From 64 KiB on, glibc's free() consolidates its heap
/// and returns the top of it to the kernel past its trim threshold (128 KiB until the program
/// frees a block over the mmap threshold, which tapegrad's cache keeps from happening), so
/// blocks of 64-128 KiB left to malloc could start every step on fresh pages: the GMM gradient
/// at d=2, K=5, n=1000 took 39 page faults per call and 2-3x the time (bench/PROFILE.md,
/// session 11). Smaller blocks never trigger the trim.
inline constexpr std::size_t kCachedBlockBytes = std::size_t{64} << 10;
inline constexpr std::size_t kThreadCacheBytes = std::size_t{1} << 30;
inline constexpr std::size_t kSharedPoolBytes = std::size_t{256} << 20;

/// Moves a cached storage of exactly `count` elements into `out` (the calling thread's cache,
/// else the shared pool) and returns true; false when there is none. count * sizeof(T) must be
/// at least kCachedBlockBytes.
template <class T>
bool take_cached_storage(std::size_t count, xt::uvector<T>& storage);

/// Records that empty_array() gave out the block at `data` (of at least kCachedBlockBytes) on
/// the calling thread: only such blocks return to this thread's cache when freed.
void note_handed_out(const void* data) noexcept;

/// Keeps `storage` (left empty) in the calling thread's cache when this thread's empty_array()
/// gave it out (note_handed_out) and the cache has room; else leaves it to be freed with its
/// array.
template <class T>
void recycle_storage(xt::uvector<T>& storage) noexcept;

}  // namespace tg::detail
