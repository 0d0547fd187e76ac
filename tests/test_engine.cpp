// The tape and the reverse sweep: accumulation, retain/create graph, freeing, grad(), threads.
#include <catch2/catch.hpp>

#include <thread>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"
#include "tape.hpp"

using namespace tg;

namespace {
Tensor leaf(const NestedList& v) {
  return tensor(v, TensorOptions(kFloat64).requires_grad());
}
double at(const Tensor& t, std::size_t i) { return t.to_double().data()[i]; }
}  // namespace

TEST_CASE("engine: gradients of a small expression, derived by hand") {
  // f = sum(x*y + x^2) -> df/dx = y + 2x, df/dy = x
  Tensor x = leaf({1, 2, 3}), y = leaf({4, 5, 6});
  Tensor f = sum(x * y + x * x);
  f.backward();
  CHECK(at(x.grad(), 0) == 6);
  CHECK(at(x.grad(), 2) == 12);
  CHECK(at(y.grad(), 1) == 2);
}

TEST_CASE("engine: gradients accumulate across backward calls") {
  Tensor x = leaf({2});
  (x * 3.0).sum().backward();
  (x * 3.0).sum().backward();
  CHECK(at(x.grad(), 0) == 6);
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("engine: a tensor used twice gets both contributions") {
  Tensor x = leaf({3});
  Tensor y = x * x * x;  // 3x^2 = 27
  y.backward();
  CHECK(at(x.grad(), 0) == 27);
}

TEST_CASE("engine: non-scalar outputs need an explicit gradient") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("(2)") && Catch::Contains("gradient"));
  y.backward(tensor({1.0, 10.0}, kFloat64));
  CHECK(at(x.grad(), 1) == 20);
}

TEST_CASE("engine: backward twice through a freed graph raises, retain_graph allows it") {
  Tensor x = leaf({1});
  Tensor y = exp(x).sum();
  y.backward();
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("freed") && Catch::Contains("retain_graph"));
  Tensor z = exp(x).sum();
  z.backward({}, true);
  z.backward();
  CHECK(at(x.grad(), 0) == Approx(3 * std::exp(1.0)));
}

TEST_CASE("engine: backward on a tensor that does not require grad") {
  Tensor x = ones({2}, kFloat64);
  CHECK_THROWS_WITH(x.sum().backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("engine: no-grad mode records nothing") {
  Tensor x = leaf({1, 2});
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    CHECK(!y.requires_grad());
    CHECK(y.is_leaf());
    {
      EnableGradGuard on;
      CHECK((x * 2.0).requires_grad());
    }
  }
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("engine: detach cuts the graph") {
  Tensor x = leaf({2});
  Tensor y = (x * x).detach();
  CHECK(!y.requires_grad());
  Tensor z = (y * x).sum();
  z.backward();
  CHECK(at(x.grad(), 0) == 4);
}

TEST_CASE("engine: grad() returns gradients without touching .grad()") {
  Tensor x = leaf({1, 2}), y = leaf({3, 4});
  Tensor f = sum(x * y);
  auto g = grad({f}, {x, y});
  CHECK(at(g[0], 1) == 4);
  CHECK(at(g[1], 0) == 1);
  CHECK(!x.grad().defined());
  CHECK(!y.grad().defined());
}

TEST_CASE("engine: grad() of an unused input") {
  Tensor x = leaf({1}), y = leaf({2});
  Tensor f = sum(x * 2.0);
  CHECK_THROWS_WITH(grad({f}, {x, y}, {}, true), Catch::Contains("not used"));
  auto g = grad({f}, {x, y}, {}, false, false, true);
  CHECK(g[0].defined());
  CHECK(!g[1].defined());
}

TEST_CASE("engine: grad() with respect to an intermediate") {
  Tensor x = leaf({2});
  Tensor h = x * 3.0;
  Tensor f = sum(h * h);
  auto g = grad({f}, {h});
  CHECK(at(g[0], 0) == 12);
}

TEST_CASE("engine: second derivative through create_graph") {
  // f = x^3: f' = 3x^2, f'' = 6x
  Tensor x = leaf({2});
  Tensor f = sum(x * x * x);
  auto g = grad({f}, {x}, {}, std::nullopt, true);
  CHECK(at(g[0], 0) == 12);
  CHECK(g[0].requires_grad());
  auto h = grad({sum(g[0])}, {x});
  CHECK(at(h[0], 0) == 12);
}

TEST_CASE("engine: third derivative of tanh") {
  // tanh''' = -2 sech^2 (1 - 3 tanh^2) ... checked against the closed form
  const double v = 0.3;
  Tensor x = leaf({v});
  Tensor y = tanh(x).sum();
  auto g1 = grad({y}, {x}, {}, std::nullopt, true);
  auto g2 = grad({g1[0].sum()}, {x}, {}, std::nullopt, true);
  auto g3 = grad({g2[0].sum()}, {x});
  const double t = std::tanh(v), s2 = 1 - t * t;
  CHECK(at(g1[0], 0) == Approx(s2).epsilon(1e-14));
  CHECK(at(g2[0], 0) == Approx(-2 * t * s2).epsilon(1e-14));
  CHECK(at(g3[0], 0) == Approx(-2 * s2 * s2 + 4 * t * t * s2).epsilon(1e-13));
}

TEST_CASE("engine: nodes are freed with the last tensor that reaches them") {
  const std::size_t before = detail::live_nodes();
  Tensor w = leaf({0.5, -0.25});
  for (int step = 0; step < 100; ++step) {
    Tensor loss = sum(tanh(w * 2.0) * w);
    loss.backward();
  }
  CHECK(detail::live_nodes() == before);
  {
    Tensor h = tanh(w * 2.0);
    Tensor loss = sum(h * w);
    CHECK(detail::live_nodes() == before + 4);
    loss = Tensor();
    CHECK(detail::live_nodes() == before + 2);  // h still reaches tanh and mul_scalar
  }
  CHECK(detail::live_nodes() == before);
}

TEST_CASE("engine: graphs never backwarded are freed at once") {
  const std::size_t before = detail::live_nodes();
  Tensor w = leaf({0.5});
  for (int step = 0; step < 20000; ++step) {
    Tensor unused = sum(exp(w) * 2.0);
    CHECK(detail::live_nodes() == before + 3);
  }
  CHECK(detail::live_nodes() == before);
}

TEST_CASE("engine: a chain of 200,000 ops is freed without recursion") {
  const std::size_t before = detail::live_nodes();
  Tensor w = leaf({0.5});
  Tensor x = w;
  for (int i = 0; i < 200000; ++i) x = x + 1.0;
  CHECK(detail::live_nodes() == before + 200000);
  x = Tensor();
  CHECK(detail::live_nodes() == before);
}

TEST_CASE("engine: two threads record and differentiate at once") {
  auto work = [](double v, double* out) {
    Tensor x = tensor({v}, TensorOptions(kFloat64).requires_grad());
    for (int i = 0; i < 200; ++i) {
      Tensor y = sum(sin(x) * x);
      y.backward();
    }
    *out = x.grad().item();
  };
  double a = 0, b = 0;
  std::thread t1(work, 0.5, &a), t2(work, 1.5, &b);
  t1.join();
  t2.join();
  CHECK(a == Approx(200 * (std::cos(0.5) * 0.5 + std::sin(0.5))));
  CHECK(b == Approx(200 * (std::cos(1.5) * 1.5 + std::sin(1.5))));
}

TEST_CASE("engine: a graph may continue and be differentiated on another thread") {
  Tensor x = leaf({1});
  Tensor y = x * 2.0;
  Tensor z;
  std::thread t([&] { z = sum(y * 3.0); });
  t.join();
  z.backward();
  CHECK(at(x.grad(), 0) == 6);
}

TEST_CASE("engine: anomaly detection names the op") {
  Tensor x = leaf({-1});
  {
    DetectAnomalyGuard guard;
    CHECK_THROWS_WITH(log(x), Catch::Contains("'log'") && Catch::Contains("NaN"));
  }
  CHECK_NOTHROW(log(x));
  Tensor z = leaf({0});
  {
    DetectAnomalyGuard guard;
    Tensor y = sqrt(z).sum();  // forward fine (0), backward 1/(2*0) = inf
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("'sqrt'") && Catch::Contains("gradient"));
  }
}

TEST_CASE("queue_callback: runs once the sweep has delivered every gradient, in order") {
  Tensor a = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  Tensor b = tensor({3.0}, kFloat64).requires_grad_();
  std::vector<std::string> events;
  HookHandle ha = a.register_post_accumulate_grad_hook([&](const Tensor&) {
    events.push_back("a");
    queue_callback([&] {
      // Both leaves have their gradients by now; a callback may queue another.
      events.push_back(b.grad().defined() && a.grad().defined() ? "end" : "early");
      queue_callback([&] { events.push_back("nested"); });
    });
  });
  HookHandle hb = b.register_post_accumulate_grad_hook([&](const Tensor&) {
    events.push_back("b");
    queue_callback([&] { events.push_back("end-b"); });
  });
  ((a * 2.0).sum() * b.sum()).backward();
  ha.remove();
  hb.remove();
  REQUIRE(events.size() == 5);
  CHECK(events[2] == (events[0] == "a" ? "end" : "end-b"));
  CHECK(events.back() == "nested");
  CHECK(std::count(events.begin(), events.end(), "end") == 1);
  // A second backward starts with no callbacks left over.
  events.clear();
  ((a * 2.0).sum()).backward();
  CHECK(events.empty());
  CHECK_THROWS_WITH(queue_callback([] {}), Catch::Contains("queue_callback") && Catch::Contains("no backward"));
  Tensor c = tensor({1.0}, kFloat64).requires_grad_();
  HookHandle hc =
      c.register_post_accumulate_grad_hook([](const Tensor&) { queue_callback([] { fail("callback: boom"); }); });
  CHECK_THROWS_WITH((c * 3.0).sum().backward(), Catch::Contains("boom"));
  hc.remove();
}
