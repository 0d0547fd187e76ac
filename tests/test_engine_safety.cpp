// The engine in real programs: version counters on saved tensors, graphs crossing threads,
// re-entrant and concurrent sweeps, freeing by ownership, pruning, hooks, shape ops that never
// alias. Each case is a pattern that used to give a silent wrong gradient, a crash or a leak.
#include <catch2/catch.hpp>

#include <cmath>
#include <future>
#include <optional>
#include <thread>

#include "square_functions.hpp"
#include "tape.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {
Tensor leaf(const NestedList& v) { return tensor(v, TensorOptions(kFloat64).requires_grad()); }
double at(const Tensor& t, std::size_t i) { return t.to_double().data()[i]; }
}  // namespace

// ---- Version counters ----------------------------------------------------------------------------

TEST_CASE("engine safety: a saved input written in place before backward raises") {
  Tensor w = leaf({1, 2, 3});
  Tensor loss = sum(w * w);
  const std::uint32_t v0 = w.version();
  w.mutable_value<double>() *= 10.0;  // what optimizer.step() does between two backwards
  CHECK(w.version() == v0 + 1);
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("mul backward") &&
                                         Catch::Contains("modified by an in-place operation") &&
                                         Catch::Contains("input 1") && Catch::Contains("version 1") &&
                                         Catch::Contains("expected version 0"));
  CHECK(!w.grad().defined());
  // Recorded after the write: fine, and the gradient is 2w of the new values.
  sum(w * w).backward();
  CHECK(at(w.grad(), 2) == 60);
}

TEST_CASE("engine safety: two losses on shared weights with an optimizer step between backwards") {
  Tensor w = leaf({1, 2, 3});
  optim::SGD opt({w}, optim::SGDOptions(0.1));
  Tensor loss_a = sum(w * w);
  Tensor loss_b = sum(w * w * 3.0);
  loss_a.backward();
  opt.step();
  CHECK_THROWS_WITH(loss_b.backward(), Catch::Contains("modified by an in-place operation"));
}

TEST_CASE("engine safety: writing into a saved output before backward raises") {
  Tensor x = leaf({0.5});
  Tensor y = tanh(x);
  Tensor loss = sum(y);
  y.mutable_value<double>()(0) = 5.0;
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("tanh backward") && Catch::Contains("its output") &&
                                         Catch::Contains("in-place"));
  // The output dropped by the user is still checked: the node keeps it, with its version.
  Tensor x2 = leaf({0.5});
  Tensor l2 = sum(exp(x2));
  l2.backward();
  CHECK(at(x2.grad(), 0) == Approx(std::exp(0.5)).epsilon(1e-15));
}

TEST_CASE("engine safety: load_state_dict and Module::to bump versions") {
  nn::Linear layer(2, 1);
  layer.to(kFloat64);
  Tensor w = layer.weight;
  Tensor x = tensor({{1.0, 2.0}}, kFloat64);
  Tensor loss = sum(layer.forward(x) * layer.forward(x));
  nn::Linear other(2, 1);
  other.to(kFloat64);
  layer.load_state_dict(other.state_dict());
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("in-place"));
  Tensor loss2 = sum(layer.forward(x) * w);
  layer.to(kFloat32);
  CHECK_THROWS_WITH(loss2.backward(), Catch::Contains("in-place"));
}

TEST_CASE("engine safety: a custom Function's saved tensors are version-checked") {
  Tensor x = leaf({3});
  Tensor y = test::Square::apply(x);
  x.mutable_value<double>()(0) = 4.0;
  CHECK_THROWS_WITH(sum(y).backward(), Catch::Contains("square backward") && Catch::Contains("saved tensor 0"));
}

// ---- Threads -------------------------------------------------------------------------------------

TEST_CASE("engine safety: a graph built on a thread that has ended keeps its history") {
  Tensor w = leaf({1});
  Tensor y = std::async(std::launch::async, [w] { return sum(w * 2.0); }).get();
  sum(y + w).backward();
  CHECK(at(w.grad(), 0) == 3);
}

TEST_CASE("engine safety: two threads differentiate through one shared leaf, 2 x 20,000 grad calls") {
  Tensor w = leaf({0.5, -1.5});
  auto work = [&w](double k, int* wrong) {
    for (int i = 0; i < 20000; ++i) {
      auto g = grad({sum(w * w * k)}, {w});
      if (at(g[0], 0) != 2 * k * 0.5 || at(g[0], 1) != 2 * k * -1.5) ++*wrong;
    }
  };
  int wrong_a = 0, wrong_b = 0;
  std::thread a(work, 1.0, &wrong_a), b(work, 3.0, &wrong_b);
  a.join();
  b.join();
  CHECK(wrong_a == 0);
  CHECK(wrong_b == 0);
  CHECK(!w.grad().defined());
}

TEST_CASE("engine safety: two threads backward into one leaf's grad at once") {
  Tensor w = leaf({1});
  auto work = [&w] {
    for (int i = 0; i < 5000; ++i) sum(w * 2.0).backward();
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(at(w.grad(), 0) == 20000);
}

// ---- Re-entrant sweeps ---------------------------------------------------------------------------

namespace {
/// The block a checkpoint recomputes: tanh(x * w) * w.
Tensor block(const Tensor& x, const Tensor& w) { return tanh(x * w) * w; }

/// Activation checkpointing by hand: forward keeps only the inputs; backward recomputes the
/// block with grad mode on and differentiates it with grad(), inside the outer backward.
struct Checkpoint : Function<Checkpoint> {
  static const char* name() { return "checkpoint"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x, const Tensor& w) {
    ctx.save_for_backward({x, w});
    return block(x, w);
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) {
    EnableGradGuard grad_on;
    Tensor x = ctx.saved()[0].detach().requires_grad_();
    Tensor w = ctx.saved()[1].detach().requires_grad_();
    auto d = grad({block(x, w)}, {x, w}, {g});
    return {d[0], d[1]};
  }
};

/// Two levels: its backward differentiates a graph that contains a Checkpoint node.
struct Nested : Function<Nested> {
  static const char* name() { return "nested"; }
  static Tensor forward(FunctionContext& ctx, const Tensor& x, const Tensor& w) {
    ctx.save_for_backward({x, w});
    return block(x, w) * 2.0;
  }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& g) {
    EnableGradGuard grad_on;
    Tensor x = ctx.saved()[0].detach().requires_grad_();
    Tensor w = ctx.saved()[1].detach().requires_grad_();
    Tensor y = Checkpoint::apply(x, w) * 2.0;
    y.backward(g);  // a backward inside a backward, into x.grad and w.grad
    return {x.grad(), w.grad()};
  }
};
}  // namespace

TEST_CASE("engine safety: grad() inside a custom backward (checkpointing) gives the right gradient") {
  Tensor x = leaf({0.3, -0.7}), w = leaf({1.5, 0.5});
  Tensor h = x * 2.0;
  sum(Checkpoint::apply(h, w) * h).backward();
  Tensor x2 = leaf({0.3, -0.7}), w2 = leaf({1.5, 0.5});
  Tensor h2 = x2 * 2.0;
  sum(block(h2, w2) * h2).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(at(x.grad(), i) == Approx(at(x2.grad(), i)).epsilon(1e-15));
    CHECK(at(w.grad(), i) == Approx(at(w2.grad(), i)).epsilon(1e-15));
  }
  // Two levels deep: sum(Nested(2 x, w) / 2) = sum(block(2 x, w)).
  Tensor x3 = leaf({0.3, -0.7}), w3 = leaf({1.5, 0.5});
  sum(Nested::apply(x3 * 2.0, w3) * 0.5).backward();
  Tensor xr = leaf({0.3, -0.7}), wr = leaf({1.5, 0.5});
  sum(block(xr * 2.0, wr)).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(at(x3.grad(), i) == Approx(at(xr.grad(), i)).epsilon(1e-15));
    CHECK(at(w3.grad(), i) == Approx(at(wr.grad(), i)).epsilon(1e-15));
  }
}

TEST_CASE("engine safety: a hook may run grad() on another graph while backward runs") {
  Tensor w = leaf({2});
  Tensor other = leaf({3});
  double inner = 0;
  Tensor h = w * w;
  h.register_hook([&](const Tensor& g) {
    EnableGradGuard grad_on;  // backward runs hooks with grad mode off, as PyTorch
    inner = at(grad({sum(other * other * other)}, {other})[0], 0);  // 3 * 3^2
    return g;
  });
  sum(h * 5.0).backward();
  CHECK(inner == 27);
  CHECK(at(w.grad(), 0) == 20);
}

// ---- Ownership -----------------------------------------------------------------------------------

TEST_CASE("engine safety: keeping every step's loss does not make later backwards longer") {
  Tensor w = leaf({0.5, -0.25});
  std::vector<Tensor> history;
  detail::SweepStats first, last;
  for (int step = 0; step < 20000; ++step) {
    Tensor loss = sum(tanh(w * 2.0) * w);
    loss.backward();
    history.push_back(loss);
    if (step == 0) first = detail::last_sweep_stats();
    last = detail::last_sweep_stats();
    w.zero_grad();
  }
  CHECK(first.reached == 4);
  CHECK(last.reached == first.reached);
  CHECK(last.run == first.run);
  // A kept loss pins only its own node: backward released the rest of its graph.
  CHECK(history.back().grad_fn_name() == "sum");
}

TEST_CASE("engine safety: grad() runs only what the requested inputs need") {
  Generator gen(2);
  Tensor x = randn({8, 16}, kFloat64, &gen);
  std::vector<Tensor> ws;
  Tensor h = x;
  std::vector<Tensor> hidden;
  for (int layer = 0; layer < 4; ++layer) {
    ws.push_back((randn({16, 16}, kFloat64, &gen) * 0.25).requires_grad_());
    h = tanh(matmul(h, ws.back()));
    hidden.push_back(h);
  }
  Tensor loss = sum(h * h);
  grad({loss}, ws, {}, true);
  const auto full = detail::last_sweep_stats();
  auto g = grad({loss}, {hidden[2]}, {}, true);
  const auto pruned = detail::last_sweep_stats();
  CHECK(full.run == 10);   // mul, sum, and 4 x (tanh, mm)
  CHECK(pruned.run == 4);  // sum, mul, tanh and mm of the last layer only
  // Nodes recorded before hidden[2]'s cannot lead to it: discovery does not even visit them.
  CHECK(full.reached == 10);
  CHECK(pruned.reached == 5);  // the four above and hidden[2]'s own tanh
  // The pruned result is the same gradient.
  Tensor h3 = hidden[2].detach().requires_grad_();
  auto direct = grad({sum(tanh(matmul(h3, ws[3])) * tanh(matmul(h3, ws[3])))}, {h3});
  CHECK(max(abs(g[0] - direct[0])).item() < 1e-14);
}

TEST_CASE("engine safety: backward frees the graph as it goes, except when asked to keep it") {
  for (const int mode : {0, 1, 2}) {  // plain, retain_graph, anomaly detection
    std::optional<DetectAnomalyGuard> anomaly;
    if (mode == 2) anomaly.emplace();
    Tensor x = leaf({0.5, 1.0});
    Tensor h = x * 2.0;
    std::size_t live_in_hook = 0;
    h.register_hook([&](const Tensor& g) {
      live_in_hook = detail::live_nodes();
      return g;
    });
    Tensor loss = sum(tanh(tanh(tanh(h))));
    h = Tensor();
    const std::size_t before = detail::live_nodes();
    loss.backward({}, mode == 1);
    // When mul's turn comes, the three tanh nodes have run: freed (the loss holds sum), unless
    // the graph is retained, or kept whole until the sweep completes under anomaly detection.
    CHECK(before - live_in_hook == (mode == 0 ? 3u : 0u));
    const double t1 = std::tanh(1.0), t2 = std::tanh(t1), t3 = std::tanh(t2);
    CHECK(at(x.grad(), 0) == Approx(2 * (1 - t3 * t3) * (1 - t2 * t2) * (1 - t1 * t1)).epsilon(1e-12));
  }
}

TEST_CASE("engine safety: create_graph does not keep the graph unless asked") {
  Tensor x = leaf({2});
  Tensor f = sum(x * x * x);
  f.backward({}, false, true);  // create_graph, retain_graph explicitly false
  CHECK(at(x.grad(), 0) == 12);
  CHECK_THROWS_WITH(f.backward(), Catch::Contains("freed"));
  Tensor g = sum(x * x * x);
  g.backward({}, std::nullopt, true);  // retain_graph defaults to create_graph, as PyTorch
  CHECK_NOTHROW(g.backward());
}

// ---- Hooks ---------------------------------------------------------------------------------------

TEST_CASE("engine safety: register_hook sees and may replace a gradient; the handle removes it") {
  Tensor w = leaf({1, 2});
  std::vector<double> seen;
  HookHandle double_it = w.register_hook([&](const Tensor& g) {
    seen.push_back(at(g, 1));
    return g * 2.0;
  });
  sum(w * 3.0).backward();
  CHECK(seen == std::vector<double>{3});
  CHECK(at(w.grad(), 1) == 6);
  double_it.remove();
  double_it.remove();  // twice: nothing
  w.zero_grad();
  sum(w * 3.0).backward();
  CHECK(at(w.grad(), 1) == 3);
  // On an intermediate: the gradient flowing into it, before it reaches its inputs.
  Tensor x = leaf({1});
  Tensor h = x * 4.0;
  h.register_hook([](const Tensor& g) { return g * 10.0; });
  sum(h * h).backward();  // d/dh = 2h = 8, x 10, x 4
  CHECK(at(x.grad(), 0) == 320);
  CHECK_THROWS_WITH(ones({1}).register_hook([](const Tensor& g) { return g; }),
                    Catch::Contains("does not require grad"));
}

TEST_CASE("engine safety: the post-accumulate hook fires once per backward with the whole gradient") {
  Tensor w = leaf({1, 2});
  std::vector<double> seen;
  HookHandle handle = w.register_post_accumulate_grad_hook([&](const Tensor& p) {
    seen.push_back(at(p.grad(), 0));
  });
  Tensor a = w * 2.0, b = w * w;  // two paths into w
  sum(a + b).backward();
  CHECK(seen == std::vector<double>{4});  // 2 + 2w, both contributions in
  sum(w * 1.0).backward();
  CHECK(seen == std::vector<double>{4, 5});  // accumulated
  handle.remove();
  sum(w * 1.0).backward();
  CHECK(seen.size() == 2);
  CHECK_THROWS_WITH((w * 2.0).register_post_accumulate_grad_hook([](const Tensor&) {}),
                    Catch::Contains("only leaves"));
}

// ---- Shape ops copy ------------------------------------------------------------------------------

TEST_CASE("engine safety: shape ops return new tensors, never their input") {
  Tensor b = ones({1, 3}, kFloat64);
  CHECK(!reshape(b, {1, 3}).is_same(b));
  CHECK(!squeeze(b, 1).is_same(b));
  CHECK(!expand(b, {1, 3}).is_same(b));
  CHECK(!permute(b, {0, 1}).is_same(b));
  Tensor s = squeeze(b, 1);
  s.requires_grad_();
  CHECK(!b.requires_grad());
  Tensor r = reshape(b, {1, 3});
  r.mutable_value<double>()(0, 0) = 7.0;
  CHECK(b.value<double>()(0, 0) == 1.0);
}
