// Thread safety as documented: each thread records on its own tape, so two threads training
// their own models get exactly the results of the same runs done one after the other. And the
// pool that splits long elementwise loops (autograd/src/parallel.hpp) covers every element once
// and changes no bits.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "parallel.hpp"

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {
/// A small MLP trained with Adam for 200 steps from `seed`; returns the final parameters.
std::vector<xt::xarray<float>> train(std::uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> p{randn({16, 8}, kFloat32, &gen) * 0.3, zeros({16}), randn({3, 16}, kFloat32, &gen) * 0.3,
                        zeros({3})};
  for (auto& t : p) t = t.detach().requires_grad_();
  const Tensor x = randn({32, 8}, kFloat32, &gen);
  const Tensor y = randint(0, 3, {32}, &gen);
  optim::Adam opt(p, optim::AdamOptions(1e-2));
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(linear(tanh(linear(x, p[0], p[1])), p[2], p[3]), y);
    loss.backward();
    opt.step();
  }
  std::vector<xt::xarray<float>> out;
  for (const auto& t : p) out.push_back(t.value<float>());
  return out;
}
}  // namespace

TEST_CASE("threads: concurrent training is bit-identical to sequential training") {
  const auto a_seq = train(11), b_seq = train(12);
  std::vector<xt::xarray<float>> a_par, b_par;
  std::thread ta([&] { a_par = train(11); });
  std::thread tb([&] { b_par = train(12); });
  ta.join();
  tb.join();
  REQUIRE(a_par.size() == a_seq.size());
  for (std::size_t i = 0; i < a_seq.size(); ++i) {
    CHECK(bool(a_par[i] == a_seq[i]));
    CHECK(bool(b_par[i] == b_seq[i]));
  }
  CHECK(bool(a_seq[0] != b_seq[0]));  // the two runs really differ
}

namespace {
/// Sets the thread count for one scope and restores the previous one.
struct ThreadCount {
  int before = get_num_threads();
  explicit ThreadCount(int n) { set_num_threads(n); }
  ~ThreadCount() { set_num_threads(before); }
};

/// How many times parallel_for ran each index of [0, n), and the chunks it used.
struct Coverage {
  std::vector<std::atomic<int>> runs;
  std::mutex mutex;
  std::vector<std::pair<std::size_t, std::size_t>> chunks;
  std::set<std::thread::id> threads;
  explicit Coverage(std::size_t n) : runs(n) {}
  void run(std::size_t min_chunk, const std::function<void()>& inside = {}) {
    detail::parallel_for(runs.size(), min_chunk, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) runs[i].fetch_add(1, std::memory_order_relaxed);
      if (inside) inside();
      std::lock_guard<std::mutex> lock(mutex);
      chunks.emplace_back(begin, end);
      threads.insert(std::this_thread::get_id());
    });
  }
  bool each_once() const {
    return std::all_of(runs.begin(), runs.end(), [](const std::atomic<int>& r) { return r.load() == 1; });
  }
};
}  // namespace

TEST_CASE("threads: set_num_threads takes 1 to 1024 and says so otherwise") {
  const ThreadCount keep(get_num_threads());
  CHECK_THROWS_WITH(set_num_threads(0), Catch::Contains("set_num_threads: need 1 to 1024 threads, got 0"));
  CHECK_THROWS_WITH(set_num_threads(1025), Catch::Contains("got 1025"));
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
}

TEST_CASE("threads: parallel_for runs every index once, in chunks on 16-element boundaries") {
  const ThreadCount two(2);
  const std::size_t min_chunk = 1000;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1999}, std::size_t{2000},
                              std::size_t{2017}, std::size_t{100003}}) {
    INFO("n = " << n);
    Coverage c(n);
    c.run(min_chunk);
    CHECK(c.each_once());
    if (n < 2 * min_chunk) {
      CHECK(c.chunks.size() == 1);  // inline: the whole range at once
      continue;
    }
    CHECK(c.chunks.size() > 1);
    for (const auto& [begin, end] : c.chunks) {
      CHECK(begin % 16 == 0);
      CHECK((end == n || end % 16 == 0));
      CHECK(end - begin >= std::min<std::size_t>(min_chunk, n - begin));
    }
  }
}

TEST_CASE("threads: with 2 threads a worker really takes chunks; with 1 the caller runs alone") {
  const std::size_t n = 1 << 16;
  const auto slow = [] { std::this_thread::sleep_for(std::chrono::microseconds(200)); };
  {
    const ThreadCount two(2);
    bool worker_helped = false;
    for (int attempt = 0; attempt < 100 && !worker_helped; ++attempt) {  // a worker may wake late
      Coverage c(n);
      c.run(1024, slow);
      REQUIRE(c.each_once());
      worker_helped = c.threads.size() > 1;
    }
    CHECK(worker_helped);
  }
  const ThreadCount one(1);
  Coverage c(n);
  c.run(1024, slow);
  CHECK(c.each_once());
  CHECK(c.chunks.size() == 1);
}

TEST_CASE("threads: parallel_for from two threads at once, and nested in its own body") {
  const ThreadCount two(2);
  const std::size_t n = 50000;
  std::atomic<int> failures{0};
  auto hammer = [&] {
    for (int i = 0; i < 50; ++i) {
      Coverage c(n);
      c.run(1024);
      if (!c.each_once()) ++failures;
    }
  };
  std::thread a(hammer), b(hammer);
  a.join();
  b.join();
  CHECK(failures.load() == 0);

  std::atomic<int> inner_failures{0};
  Coverage outer(n);
  outer.run(1024, [&] {  // a loop started inside a chunk runs inline instead of waiting on the pool
    Coverage inner(5000);
    inner.run(100);
    if (!inner.each_once()) ++inner_failures;
  });
  CHECK(outer.each_once());
  CHECK(inner_failures.load() == 0);
}

TEST_CASE("threads: a forked child can run parallel loops") {
  const ThreadCount two(2);
  Coverage warm(100000);  // the parent's workers exist before the fork
  warm.run(1024);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(20);  // a hang fails the test instead of stalling the suite
    Coverage c(100000);
    c.run(1024);
    ::_exit(c.each_once() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

namespace {
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

/// Three steps of `make`'s optimizer on a 70,000-element parameter (long enough to be split
/// across threads) with `threads` threads; returns the parameter.
xt::xarray<float> optimize(int threads, const MakeOptimizer& make) {
  const ThreadCount count(threads);
  Generator gen(3);
  Tensor p = randn({70000}, kFloat32, &gen).requires_grad_();
  const Tensor c = randn({70000}, kFloat32, &gen);
  auto opt = make({p});
  for (int step = 0; step < 3; ++step) {
    opt->zero_grad();
    sum(p * p * c).backward();
    opt->step();
  }
  return p.value<float>();
}
}  // namespace

TEST_CASE("threads: every optimizer's update gives the same bits on 1 and 2 threads") {
  const std::vector<std::pair<const char*, MakeOptimizer>> optimizers = {
      {"Adam amsgrad",
       [](auto p) {
         return std::make_unique<optim::Adam>(p, optim::AdamOptions(1e-2).amsgrad(true).weight_decay(0.1));
       }},
      {"AdamW", [](auto p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(1e-2)); }},
      {"SGD nesterov",
       [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions(1e-2).momentum(0.9).nesterov(true)); }},
      {"RMSprop centered",
       [](auto p) {
         return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(1e-2).centered(true).momentum(0.5));
       }},
      {"Adagrad",
       [](auto p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions(1e-2).lr_decay(0.1)); }},
      {"Adadelta",
       [](auto p) { return std::make_unique<optim::Adadelta>(p, optim::AdadeltaOptions(1.0).weight_decay(0.1)); }},
      {"Adamax", [](auto p) { return std::make_unique<optim::Adamax>(p, optim::AdamaxOptions(1e-2)); }},
      {"NAdam", [](auto p) { return std::make_unique<optim::NAdam>(p, optim::NAdamOptions(1e-2)); }},
  };
  Generator gen(3);
  const xt::xarray<float> start = randn({70000}, kFloat32, &gen).value<float>();
  for (const auto& [name, make] : optimizers) {
    INFO(name);
    const xt::xarray<float> one = optimize(1, make), two = optimize(2, make);
    CHECK(bool(one == two));
    CHECK(bool(one != start));  // the steps did something
  }
}

TEST_CASE("threads: parallel_tasks runs every task once, on a worker too") {
  const ThreadCount two(2);
  bool worker_helped = false;
  for (int attempt = 0; attempt < 100 && !worker_helped; ++attempt) {
    std::vector<std::atomic<int>> runs(5);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    detail::parallel_tasks(runs.size(), [&](std::size_t task) {
      runs[task].fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
    });
    for (const auto& r : runs) REQUIRE(r.load() == 1);
    worker_helped = threads.size() > 1;
  }
  CHECK(worker_helped);
}

TEST_CASE("threads: matrix products split over 2 threads agree with 1 thread") {
  // Large enough to be split: by columns of the result when it is at least as wide as tall, by
  // rows otherwise; widths that are not a multiple of the 64-byte part boundary; every transpose.
  // The parts may round differently from one call (OpenBLAS's kernels treat the edge tiles of a
  // call in their own order), so agreement is to float rounding, not bit for bit; a misplaced
  // part would differ by the size of the entries.
  const std::vector<std::array<std::size_t, 3>> shapes = {{128, 256, 784}, {300, 37, 200}, {70, 130, 90}};
  Generator gen(5);
  for (const DType dtype : {kFloat32, kFloat64}) {
    for (const auto& [m, n, k] : shapes) {
      for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
          INFO(to_string(dtype) << " m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb);
          const Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, dtype, &gen);
          const Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, dtype, &gen);
          Tensor one, two;
          {
            const ThreadCount count(1);
            one = mm(a, b, ta, tb);
          }
          {
            const ThreadCount count(2);
            two = mm(a, b, ta, tb);
          }
          const double tolerance = (dtype == kFloat32 ? 1e-5 : 1e-13) * std::sqrt(static_cast<double>(k));
          CHECK(max(abs(one - two)).item() <= tolerance);
        }
      }
    }
  }
}
