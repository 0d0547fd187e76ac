// A small pool of worker threads for long elementwise loops and large matrix products (see
// parallel.hpp).
//
// One loop runs at a time. Its chunks are claimed through one atomic word that holds the loop's
// generation, its chunk count and the next free chunk, so a worker that wakes late cannot claim a
// chunk of a loop that has already moved on. The calling thread claims chunks as well and then
// waits only for chunks already being worked on. Idle workers poll with sched_yield for a while
// (so a short loop or product soon after finds them awake), then sleep.
#include "parallel.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace tg::detail {
namespace {

constexpr std::size_t kAlign = 16;  // elements per chunk boundary (64 bytes of float32)
constexpr std::size_t kChunksPerThread = 4;
// Idle workers poll this long before they sleep: waking a sleeping thread takes 50-100 us on
// the benchmark VM, longer than most loops. With OpenBLAS on one thread (threads.cpp) the pool's
// workers are the only threads polling, and sched_yield hands the core to any other thread that
// wants it (OpenBLAS's own threads poll the same way, for about 0.1 s).
constexpr auto kPollBeforeSleep = std::chrono::milliseconds(10);

// The claim word: generation (32 bits) | chunk count (16 bits) | next unclaimed chunk (16 bits).
constexpr std::uint64_t generation_of(std::uint64_t word) { return word >> 32; }
constexpr std::uint64_t count_of(std::uint64_t word) { return (word >> 16) & 0xffff; }
constexpr std::uint64_t next_of(std::uint64_t word) { return word & 0xffff; }

// True on the pool's workers and on a thread while it runs a loop: a loop started from inside a
// chunk runs inline (the pool is busy with the outer loop).
thread_local bool inside_loop = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class Pool {
 public:
  void run(std::size_t n, std::size_t min_chunk, RangeFunction body, void* context) {
    const int threads = num_threads();
    min_chunk = std::max(min_chunk, kAlign);
    if (threads < 2 || n < 2 * min_chunk) {
      body(context, 0, n);
      return;
    }
    std::size_t chunks = std::min<std::size_t>(kChunksPerThread * static_cast<std::size_t>(threads), n / min_chunk);
    std::size_t chunk = (n + chunks - 1) / chunks;
    chunk = (chunk + kAlign - 1) / kAlign * kAlign;
    dispatch(threads, n, chunk, body, context);
  }

  void run_tasks(std::size_t tasks, RangeFunction body, void* context) {
    const int threads = num_threads();
    if (threads < 2 || tasks < 2) {
      body(context, 0, tasks);
      return;
    }
    dispatch(threads, tasks, 1, body, context);
  }

 private:
  /// Runs body over [0, n) in chunks of `chunk` on `threads` threads, this one included.
  void dispatch(int threads, std::size_t n, std::size_t chunk, RangeFunction body, void* context) {
    const std::size_t chunks = (n + chunk - 1) / chunk;
    std::unique_lock<std::mutex> one_loop(dispatch_, std::try_to_lock);
    if (inside_loop || !one_loop.owns_lock()) {  // nested, or another thread's loop has the workers
      body(context, 0, n);
      return;
    }
    inside_loop = true;
    grow(static_cast<std::size_t>(threads) - 1);
    n_ = n, chunk_ = chunk, body_ = body, context_ = context;
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t generation = (generation_of(claim_.load(std::memory_order_relaxed)) + 1) & 0xffffffff;
    claim_.store((generation << 32) | (chunks << 16), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      wake_.notify_all();
    }
    work_on(generation);
    while (done_.load(std::memory_order_acquire) < chunks) cpu_relax();
    inside_loop = false;
  }

  /// Runs unclaimed chunks of loop `generation` until none is left.
  void work_on(std::uint64_t generation) {
    std::uint64_t word = claim_.load(std::memory_order_acquire);
    for (;;) {
      if (generation_of(word) != generation || next_of(word) >= count_of(word)) return;
      if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel)) continue;
      // The loop cannot finish while this chunk is unfinished, so its fields are stable here.
      const std::size_t begin = next_of(word) * chunk_;
      body_(context_, begin, std::min(n_, begin + chunk_));
      done_.fetch_add(1, std::memory_order_release);
      word = claim_.load(std::memory_order_acquire);
    }
  }

  /// Starts workers up to `workers`. If the system refuses a thread, the loop runs on the threads
  /// there are (the caller alone at worst): chunks go to whoever claims them.
  void grow(std::size_t workers) noexcept {
    try {
      while (started_ < workers) {
        std::thread([this] { worker(); }).detach();
        ++started_;
      }
    } catch (const std::system_error&) {
    }
  }

  void worker() {
    inside_loop = true;
    std::uint64_t seen = generation_of(claim_.load(std::memory_order_acquire));
    for (;;) {
      wait_for_loop_after(seen);
      seen = generation_of(claim_.load(std::memory_order_acquire));
      work_on(seen);
    }
  }

  void wait_for_loop_after(std::uint64_t seen) {
    const auto give_up = std::chrono::steady_clock::now() + kPollBeforeSleep;
    for (unsigned polls = 0;; ++polls) {
      if (generation_of(claim_.load(std::memory_order_acquire)) != seen) return;
      sched_yield();
      if (polls % 64 == 63 && std::chrono::steady_clock::now() > give_up) break;
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] { return generation_of(claim_.load(std::memory_order_seq_cst)) != seen; });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }

  std::mutex dispatch_;  // held by the thread running a loop
  std::size_t started_ = 0;
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<std::size_t> done_{0};
  std::size_t n_ = 0, chunk_ = 0;
  RangeFunction body_ = nullptr;
  void* context_ = nullptr;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

// Never destroyed: detached workers may still be polling it while the process exits. A child
// made by fork() has none of the parent's workers (and maybe a mutex a worker held), so it
// starts a pool of its own; the parent's copy stays referenced so leak checkers stay quiet.
std::atomic<Pool*> current_pool{nullptr};
Pool* pool_before_fork = nullptr;

Pool* the_pool() {
  static const bool created = [] {
    current_pool.store(new Pool);
    pthread_atfork(nullptr, nullptr, [] {
      pool_before_fork = current_pool.load();
      current_pool.store(new Pool);
    });
    return true;
  }();
  (void)created;
  return current_pool.load(std::memory_order_acquire);
}

}  // namespace

void parallel_for_range(std::size_t n, std::size_t min_chunk, RangeFunction body, void* context) {
  the_pool()->run(n, min_chunk, body, context);
}

void parallel_tasks_range(std::size_t tasks, RangeFunction body, void* context) {
  the_pool()->run_tasks(tasks, body, context);
}

}  // namespace tg::detail
