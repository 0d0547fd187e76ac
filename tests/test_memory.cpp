// Steady state: a training loop neither keeps nodes nor grows the resident set after warm-up.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tape.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {
/// Resident set size in bytes, from /proc/self/statm.
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}
}  // namespace

TEST_CASE("memory: 1,000 training steps grow neither the live nodes nor the resident set") {
  Generator gen(3);
  Tensor w1 = randn({64, 32}, kFloat32, &gen) * 0.1;
  Tensor b1 = zeros({64});
  Tensor w2 = randn({10, 64}, kFloat32, &gen) * 0.1;
  Tensor b2 = zeros({10});
  std::vector<Tensor> params{w1.detach(), b1, w2.detach(), b2};
  for (auto& p : params) p.requires_grad_();
  const Tensor x = randn({128, 32}, kFloat32, &gen);
  const Tensor y = randint(0, 10, {128}, &gen);
  const std::size_t nodes_before = detail::live_nodes();
  std::size_t rss_after_warmup = 0;
  for (int step = 1; step <= 1000; ++step) {
    {
      Tensor h = relu(linear(x, params[0], params[1]));
      Tensor loss = nn::functional::cross_entropy(linear(h, params[2], params[3]), y);
      loss.backward();
      // Released by backward but still reachable from h and loss: their nodes only.
      CHECK(detail::live_nodes() - nodes_before <= 4);
    }
    CHECK(detail::live_nodes() == nodes_before);
    {
      NoGradGuard no_grad;
      for (auto& p : params) {
        p.mutable_value<float>() -= 0.01f * p.grad().value<float>();
        p.zero_grad();
      }
    }
    if (step == 100) rss_after_warmup = resident_bytes();
  }
  const std::size_t rss_end = resident_bytes();
  INFO("RSS after 100 steps " << rss_after_warmup << " bytes, after 1000 steps " << rss_end);
#ifdef __SANITIZE_ADDRESS__
  // AddressSanitizer quarantines freed memory (up to 256 MiB), so the resident set says nothing
  // here; the node checks still hold.
  (void)rss_end;
#else
  CHECK(rss_end <= rss_after_warmup + 1024 * 1024);
#endif
}

TEST_CASE("memory: dropped graphs are freed at once (an evaluation loop without NoGradGuard)") {
  Generator gen(5);
  auto model = std::make_shared<nn::MLP>(std::vector<std::size_t>{784, 256, 128, 10}, nn::ReLU());
  const Tensor images = rand({1000, 784}, kFloat32, &gen);
  const std::size_t nodes = detail::live_nodes();
  const std::size_t rss0 = resident_bytes();
  for (int i = 0; i < 200; ++i) {
    Tensor logits = (*model)(images);  // each forward holds ~3 MB of activations in its graph
    CHECK(detail::live_nodes() > nodes);
  }
  CHECK(detail::live_nodes() == nodes);
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine holds freed memory
  CHECK(resident_bytes() < rss0 + 100u * 1024 * 1024);
#else
  (void)rss0;
#endif
}

TEST_CASE("memory: a freed tensor buffer of 64 KiB or more serves the next tensor of its size") {
  empty_cache();
  const MemoryStats start = memory_stats();
  REQUIRE(start.cached_bytes == 0);
  const Shape shape{64, 256};  // 64 KiB of float32
  const float* first = nullptr;
  {
    Tensor a = full(shape, 1.0);
    first = a.value<float>().data();
  }
  const MemoryStats freed = memory_stats();
  if (!freed.caching) {  // AddressSanitizer build: nothing is kept, so ASan sees every use after free
    CHECK(freed.cached_bytes == 0);
    return;
  }
  CHECK(freed.cached_bytes == std::size_t{64} * 1024);
  CHECK(freed.cached_blocks == 1);
  Tensor b = full({256, 64}, 2.0);  // another shape, the same element count and dtype
  CHECK(b.value<float>().data() == first);
  CHECK(memory_stats().reused_blocks == start.reused_blocks + 1);
  CHECK(memory_stats().cached_bytes == 0);
  // The array built around the reused buffer is a normal row-major array of its shape.
  const auto& v = b.value<float>();
  CHECK(v.shape()[0] == 256);
  CHECK(v.shape()[1] == 64);
  CHECK(v.strides()[0] == 64);
  CHECK(v.strides()[1] == 1);
  CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 2.0f; }));
  // Another dtype or element count does not take it; a buffer under 64 KiB is not cached.
  b = Tensor();
  Tensor c = full(shape, 1.0, TensorOptions(kFloat64));
  Tensor d = full({64, 255}, 1.0);
  { Tensor below = full({63, 256}, 1.0); }
  CHECK(memory_stats().cached_bytes == std::size_t{64} * 1024);
  CHECK(static_cast<const void*>(c.value<double>().data()) != static_cast<const void*>(first));
  CHECK(d.value<float>().data() != first);
}

TEST_CASE("memory: empty_cache releases the cached buffers") {
  { Tensor a = full({300, 300}, 1.0), b = full({400, 400}, 1.0); }
  if (!memory_stats().caching) return;
  CHECK(memory_stats().cached_bytes >= (300u * 300 + 400u * 400) * 4);
  empty_cache();
  CHECK(memory_stats().cached_bytes == 0);
  CHECK(memory_stats().cached_blocks == 0);
  CHECK(memory_stats().shared_cached_bytes == 0);
}

TEST_CASE("memory: a buffer freed on another thread goes back to malloc, not into that thread's cache") {
  // A loader's worker makes batches that the training thread frees; the training thread never
  // allocates that size, so caching them there would only pile them up.
  empty_cache();
  if (!memory_stats().caching) return;
  Tensor made_here = full({256, 256}, 3.0);
  std::size_t other_cached = 1;
  std::thread other([&] {
    Tensor t = std::move(made_here);
    CHECK(t.value<float>()(255, 255) == 3.0f);
    t = Tensor();
    other_cached = memory_stats().cached_bytes;
  });
  other.join();
  CHECK(other_cached == 0);
  CHECK(memory_stats().cached_bytes == 0);
  CHECK(memory_stats().shared_cached_bytes == 0);
}

TEST_CASE("memory: an ended thread's cache goes to the shared pool, which serves other threads") {
  empty_cache();
  if (!memory_stats().caching) return;
  const float* data = nullptr;
  std::thread other([&] {
    Tensor t = full({256, 256}, 3.0);
    data = t.value<float>().data();
    t = Tensor();  // made and freed on this thread: cached here, then pooled when it ends
    CHECK(memory_stats().cached_bytes == std::size_t{256} * 256 * 4);
  });
  other.join();
  CHECK(memory_stats().cached_bytes == 0);
  CHECK(memory_stats().shared_cached_bytes == std::size_t{256} * 256 * 4);
  Tensor again = full({256, 256}, 4.0);  // taken from the shared pool
  CHECK(again.value<float>().data() == data);
  CHECK(again.value<float>()(0, 0) == 4.0f);
  CHECK(memory_stats().shared_cached_bytes == 0);
  // Taken here, it is this thread's now: freed, it stays in this thread's cache.
  again = Tensor();
  CHECK(memory_stats().cached_bytes == std::size_t{256} * 256 * 4);
  empty_cache();
}

TEST_CASE("memory: only buffers tapegrad's ops allocated are cached, so the cache cannot outgrow them") {
  if (!memory_stats().caching) return;
  // On a new thread: its cache starts empty, and no earlier test's block can be at an address
  // this thread's ops gave out.
  std::size_t mine_cached = 1;
  std::vector<std::size_t> cached;
  std::thread fresh([&] {
    // A tensor around an array the caller built: freed, it goes back to malloc.
    { Tensor mine(xt::xarray<float>(xt::ones<float>({256, 256}))); }
    mine_cached = memory_stats().cached_bytes;
    // Activation checkpointing frees the recomputed segments' blocks, made by many ops.
    manual_seed(3);
    nn::Sequential seq;
    for (int l = 0; l < 8; ++l) {
      seq.push_back(std::make_shared<nn::Linear>(512, 512));
      seq.push_back(std::make_shared<nn::Tanh>());
    }
    const Tensor x = randn({512, 512});
    for (int step = 0; step < 5; ++step) {
      Tensor y = nn::checkpoint_sequential(seq, 4, x);
      (y * y).mean().backward();
      seq.zero_grad();
      cached.push_back(memory_stats().cached_bytes);
    }
    empty_cache();
  });
  fresh.join();
  CHECK(mine_cached == 0);
  // Every step allocates and frees the same blocks, so the cache stays as the first step left
  // it, about what was live at once (8 layers of two 1 MiB activations in 4 segments, their
  // gradients and the 1 MiB weight gradients: 24 MiB is ample). When it kept every freed block,
  // it grew by the recomputed segments' blocks at every step, up to its 1 GiB limit.
  REQUIRE(cached.size() == 5);
  CHECK(cached.back() == cached[1]);
  CHECK(cached.back() <= std::size_t{24} << 20);
}

TEST_CASE("memory: threads freeing each other's buffers concurrently") {
  // Two threads hand tensors to each other through a slot; each frees what the other made.
  std::vector<Tensor> from_a(200), from_b(200);
  auto make = [](std::vector<Tensor>& out, double value) {
    for (auto& t : out) t = full({128, 128}, value);
  };
  std::thread a([&] { make(from_a, 1.0); });
  std::thread b([&] { make(from_b, 2.0); });
  a.join();
  b.join();
  std::thread free_a([&] {
    for (auto& t : from_b) t = full({128, 128}, 5.0);  // frees b's buffer, maybe takes it back
  });
  std::thread free_b([&] {
    for (auto& t : from_a) t = full({128, 128}, 6.0);
  });
  free_a.join();
  free_b.join();
  for (const auto& t : from_a) CHECK(t.value<float>()(127, 127) == 6.0f);
  for (const auto& t : from_b) CHECK(t.value<float>()(127, 127) == 5.0f);
  empty_cache();
}

#ifdef __SANITIZE_ADDRESS__
TEST_CASE("memory: AddressSanitizer still reports a use of a freed tensor's buffer") {
  CHECK_FALSE(memory_stats().caching);
  const std::string log = "/tmp/tapegrad-use-after-free-" + std::to_string(::getpid()) + ".log";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stderr) == nullptr) ::_exit(126);
    ::execl("/proc/self/exe", "tapegrad_tests", "memory child: use after free", "--out", "/dev/null",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(log.c_str());
  INFO(text.str());
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(text.str().find("heap-use-after-free") != std::string::npos);
}

TEST_CASE("memory child: use after free", "[.]") {
  const float* data = nullptr;
  {
    Tensor t = full({256, 256}, 1.0);
    data = t.value<float>().data();
  }
  { Tensor next = full({256, 256}, 2.0); }
  volatile float read = data[7];
  (void)read;
}
#endif

// AddressSanitizer brings its own allocator, which mallopt does not steer.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
namespace {
/// Minor page faults of this process so far (first touches of fresh pages).
long minor_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

/// Runs the hidden test case `name` of this binary in a fresh process and checks it passed.
/// glibc serves a request from free heap chunks before it considers mmap, so in this process
/// what earlier tests left in the heap (and any mallopt) would decide what is measured.
void run_alone(const char* name) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl("/proc/self/exe", "tapegrad_tests", name, "--out", "/dev/null", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("the child running \"" << name << "\" exited with status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace

TEST_CASE("memory: a training loop's 1 MiB tensors take no fresh pages (tapegrad's cache)") {
  run_alone("memory child: 1 MiB tensors");
}

TEST_CASE("memory child: 1 MiB tensors", "[.]") {
  const Shape shape{512, 512};  // 1 MiB of float32, over glibc's initial 128 KiB mmap threshold
  { Tensor warm = full(shape, 1.0); }
  const MemoryStats before_stats = memory_stats();
  const long before = minor_faults();
  for (int i = 0; i < 10; ++i) {
    Tensor t = full(shape, static_cast<double>(i));
    CHECK(t.value<float>()(511, 511) == static_cast<float>(i));
  }
  CHECK(minor_faults() - before < 100);  // fresh pages every time would be 2,560 faults
  CHECK(memory_stats().reused_blocks == before_stats.reused_blocks + 10);
}

namespace {
/// Allocates, writes and frees `bytes` with malloc (the compiler may not drop the pair).
void malloc_touch_free(std::size_t bytes) {
  void* p = std::malloc(bytes);
  REQUIRE(p != nullptr);
  std::memset(p, 1, bytes);
  asm volatile("" : : "r"(p) : "memory");
  std::free(p);
}
}  // namespace

// set_keep_freed_memory is glibc's policy, for every allocation of the process: measured here on
// plain malloc blocks (tensors of this size come from tapegrad's own cache).
TEST_CASE("memory: set_keep_freed_memory(true) keeps freed 1 MiB blocks in the heap") {
  run_alone("memory child: 1 MiB blocks with the policy on");
}

TEST_CASE("memory child: 1 MiB blocks with the policy on", "[.]") {
  set_keep_freed_memory(true);
  malloc_touch_free(std::size_t{1} << 20);
  const long before = minor_faults();
  for (int i = 0; i < 10; ++i) malloc_touch_free(std::size_t{1} << 20);
  CHECK(minor_faults() - before < 100);
  set_keep_freed_memory(false);
}

TEST_CASE("memory: set_keep_freed_memory(false) takes fresh pages for every 1 MiB block") {
  run_alone("memory child: 1 MiB blocks with the policy off");
}

TEST_CASE("memory child: 1 MiB blocks with the policy off", "[.]") {
  set_keep_freed_memory(false);  // fixed 128 KiB thresholds, without glibc's dynamic raise
  for (int i = 0; i < 2; ++i) malloc_touch_free(std::size_t{1} << 20);
  const long before = minor_faults();
  for (int i = 0; i < 10; ++i) malloc_touch_free(std::size_t{1} << 20);
  CHECK(minor_faults() - before > 1000);  // 256 fresh pages for each
}
#endif
