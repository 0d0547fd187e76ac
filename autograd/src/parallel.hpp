// Private: tapegrad's own threads. The pool splits large matrix products (linalg.cpp) and long
// elementwise loops (optimizer updates, batch copies) over tg::get_num_threads() threads, so the
// work between products does not run on one core while the others wait for the next product.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

namespace tg::detail {

/// A loop body over the index range [begin, end). It must not throw: it may run on a worker.
using RangeFunction = void (*)(void* context, std::size_t begin, std::size_t end) noexcept;

/// The library's thread count (tg::get_num_threads without the public header).
int num_threads();

/// Runs body over [0, n) in chunks on up to num_threads() threads (the calling
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

/// Runs task(0), ..., task(tasks - 1) on up to num_threads() threads, the calling thread
/// included, and returns when all are done. Nested in a loop, or while another thread's loop
/// has the pool, they run in turn on this thread.
void parallel_tasks_range(std::size_t tasks, RangeFunction body, void* context);

template <class F>
void parallel_tasks(std::size_t tasks, F&& task) {
  parallel_tasks_range(
      tasks,
      [](void* context, std::size_t begin, std::size_t end) noexcept {
        for (std::size_t i = begin; i < end; ++i) (*static_cast<std::remove_reference_t<F>*>(context))(i);
      },
      const_cast<void*>(static_cast<const void*>(std::addressof(task))));
}

/// Elementwise loops of fewer than two chunks of this many elements run on one thread: a short
/// loop ends before a sleeping worker wakes (50-100 us here, bench/PROFILE.md, session 4). The
/// value was set, not tuned: on the mlp it splits the 200,704- and 32,768-element weights and
/// leaves the biases and the 1,280-element last layer.
constexpr std::size_t kParallelMinChunk = 16384;

}  // namespace tg::detail
