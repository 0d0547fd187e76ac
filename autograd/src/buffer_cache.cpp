// The cache of tensor buffers (see buffer_cache.hpp) and tg::empty_cache() / tg::memory_stats().
#include "buffer_cache.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tapegrad/memory.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define TG_CACHE_BUFFERS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_CACHE_BUFFERS 0
#endif
#endif
#ifndef TG_CACHE_BUFFERS
#define TG_CACHE_BUFFERS 1
#endif

namespace tg::detail {
namespace {

/// Cached storages of one element type, by element count.
template <class T>
using Shelf = std::unordered_map<std::size_t, std::vector<xt::uvector<T>>>;

/// Cached storages of the four element types, and their total size in bytes.
struct Shelves {
  std::tuple<Shelf<float>, Shelf<double>, Shelf<std::int64_t>, Shelf<bool>> shelves;
  std::size_t bytes = 0;
  std::size_t blocks = 0;

  template <class T>
  Shelf<T>& of() {
    return std::get<Shelf<T>>(shelves);
  }

  template <class T>
  bool take(std::size_t count, xt::uvector<T>& storage) {
    auto& shelf = of<T>();
    const auto it = shelf.find(count);
    if (it == shelf.end() || it->second.empty()) return false;
    storage = std::move(it->second.back());
    it->second.pop_back();
    bytes -= count * sizeof(T);
    --blocks;
    return true;
  }

  /// Keeps storage (emptied) unless that would pass `limit` bytes; false when it did not.
  template <class T>
  bool keep(xt::uvector<T>& storage, std::size_t limit) {
    const std::size_t size = storage.size() * sizeof(T);
    if (bytes + size > limit) return false;
    auto& list = of<T>()[storage.size()];
    list.emplace_back(std::move(storage));
    bytes += size;
    ++blocks;
    return true;
  }

  /// Moves every block into `to` while it has room (the rest is freed), leaving this empty.
  void move_into(Shelves& to, std::size_t limit) {
    std::apply([&](auto&... shelf) { (move_shelf(shelf, to, limit), ...); }, shelves);
    bytes = 0;
    blocks = 0;
  }

  void clear() {
    std::apply([](auto&... shelf) { (shelf.clear(), ...); }, shelves);
    bytes = 0;
    blocks = 0;
  }

 private:
  template <class T>
  static void move_shelf(Shelf<T>& shelf, Shelves& to, std::size_t limit) {
    for (auto& [count, list] : shelf)
      for (auto& storage : list) to.keep(storage, limit);
    shelf.clear();
  }
};

/// Blocks of threads that have ended. Never destroyed: threads may end during static
/// destruction.
struct SharedPool {
  std::mutex mutex;
  Shelves shelves;
  std::atomic<std::size_t> bytes{0};  // shelves.bytes, readable without the lock
};
SharedPool& shared_pool() {
  static SharedPool* pool = new SharedPool;
  return *pool;
}

/// True once this thread's cache has been destroyed (thread exit): later frees bypass it.
thread_local bool thread_cache_gone = false;

/// Addresses of blocks empty_array() gave out on a thread and not yet freed there. Blocks freed
/// on another thread leave their address behind; past this many entries the set starts over
/// (the live blocks it forgets are then freed rather than cached: a lost reuse, nothing worse).
inline constexpr std::size_t kMaxHandedOut = std::size_t{1} << 16;

struct ThreadCache {
  Shelves shelves;
  std::unordered_set<const void*> handed_out;
  std::uint64_t reused = 0, allocated = 0;

  ~ThreadCache() {
    thread_cache_gone = true;
    if (shelves.blocks == 0) return;
    SharedPool& pool = shared_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    shelves.move_into(pool.shelves, kSharedPoolBytes);
    pool.bytes.store(pool.shelves.bytes, std::memory_order_relaxed);
  }
};

ThreadCache* thread_cache() {
  if (thread_cache_gone) return nullptr;
  thread_local ThreadCache cache;
  return &cache;
}

}  // namespace

template <class T>
bool take_cached_storage(std::size_t count, xt::uvector<T>& storage) {
  if (!TG_CACHE_BUFFERS) return false;
  ThreadCache* cache = thread_cache();
  if (cache == nullptr) return false;
  bool hit = cache->shelves.take(count, storage);
  if (!hit) {
    SharedPool& pool = shared_pool();
    if (pool.bytes.load(std::memory_order_relaxed) >= count * sizeof(T)) {
      std::lock_guard<std::mutex> lock(pool.mutex);
      hit = pool.shelves.take(count, storage);
      pool.bytes.store(pool.shelves.bytes, std::memory_order_relaxed);
    }
  }
  ++(hit ? cache->reused : cache->allocated);
  return hit;
}

void note_handed_out(const void* data) noexcept {
  if (!TG_CACHE_BUFFERS) return;
  ThreadCache* cache = thread_cache();
  if (cache == nullptr) return;
  try {
    if (cache->handed_out.size() >= kMaxHandedOut) cache->handed_out.clear();
    cache->handed_out.insert(data);
  } catch (...) {  // no memory for the set: the block will be freed rather than cached
  }
}

template <class T>
void recycle_storage(xt::uvector<T>& storage) noexcept {
  if (!TG_CACHE_BUFFERS || storage.size() * sizeof(T) < kCachedBlockBytes) return;
  ThreadCache* cache = thread_cache();
  if (cache == nullptr || cache->handed_out.erase(storage.data()) == 0) return;
  try {
    cache->shelves.keep(storage, kThreadCacheBytes);
  } catch (...) {  // no memory for the cache's own lists: the storage is freed as without a cache
  }
}

template bool take_cached_storage(std::size_t, xt::uvector<float>&);
template bool take_cached_storage(std::size_t, xt::uvector<double>&);
template bool take_cached_storage(std::size_t, xt::uvector<std::int64_t>&);
template bool take_cached_storage(std::size_t, xt::uvector<bool>&);
template void recycle_storage(xt::uvector<float>&) noexcept;
template void recycle_storage(xt::uvector<double>&) noexcept;
template void recycle_storage(xt::uvector<std::int64_t>&) noexcept;
template void recycle_storage(xt::uvector<bool>&) noexcept;

}  // namespace tg::detail

namespace tg {

void empty_cache() {
  if (detail::ThreadCache* cache = detail::thread_cache()) cache->shelves.clear();
  detail::SharedPool& pool = detail::shared_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  pool.shelves.clear();
  pool.bytes.store(0, std::memory_order_relaxed);
}

MemoryStats memory_stats() {
  MemoryStats stats;
  if (const detail::ThreadCache* cache = detail::thread_cache()) {
    stats.cached_bytes = cache->shelves.bytes;
    stats.cached_blocks = cache->shelves.blocks;
    stats.reused_blocks = cache->reused;
    stats.fresh_blocks = cache->allocated;
  }
  detail::SharedPool& pool = detail::shared_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  stats.shared_cached_bytes = pool.shelves.bytes;
  stats.caching = TG_CACHE_BUFFERS != 0;
  return stats;
}

}  // namespace tg
