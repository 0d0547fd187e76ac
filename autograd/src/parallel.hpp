// Private: splits a long elementwise loop over the threads OpenBLAS may use, so the work between
// matrix products (optimizer updates, batch copies) does not run on one core while the others
// wait for the next product.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

namespace tg::detail {

/// A loop body over the index range [begin, end). It must not throw: it may run on a worker.
using RangeFunction = void (*)(void* context, std::size_t begin, std::size_t end) noexcept;

/// Runs body over [0, n) in chunks on up to openblas_get_num_threads() threads (the calling
/// thread takes chunks too) and returns when all are done. Loops shorter than two chunks of
/// `min_chunk` run inline. Chunk boundaries are multiples of 16 elements, so threads never
/// write one 64-byte cache line of float32 data together. The calling thread claims chunks like
/// the workers do, so a worker that is slow to wake costs nothing but its share of the speed-up.
void parallel_for_range(std::size_t n, std::size_t min_chunk, RangeFunction body, void* context);

/// parallel_for_range for a callable f(begin, end) (which must not throw).
template <class F>
void parallel_for(std::size_t n, std::size_t min_chunk, F&& f) {
  parallel_for_range(
      n, min_chunk,
      [](void* context, std::size_t begin, std::size_t end) noexcept {
        (*static_cast<std::remove_reference_t<F>*>(context))(begin, end);
      },
      const_cast<void*>(static_cast<const void*>(std::addressof(f))));
}

/// Elementwise loops shorter than this run on one thread: waking a worker and sharing cache
/// lines costs more than the loop (measured on the mlp step: see bench/PROFILE.md).
constexpr std::size_t kParallelMinChunk = 16384;

}  // namespace tg::detail
