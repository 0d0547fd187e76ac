// In-place ops (Tensor::add_, sub_, mul_, div_, clamp_, zero_, fill_ and += -= *= /=): values,
// the leaf refusal, version counting against saved tensors, and gradients through a write to a
// tensor in a graph (PyTorch's rebase), first and second order.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "op_check.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using namespace tg;
using tg::testing::param;
using tg::testing::random_leaf;

std::vector<double> values(const Tensor& t) { return t.to_vector(); }

TEST_CASE("in-place ops: values, broadcasting, scalars and the compound assignments", "[inplace]") {
  Tensor x = tensor({{1, 2, 3}, {4, 5, 6}}, kFloat64);
  const Tensor row = tensor({10, 20, 30}, kFloat64);
  const double* before = x.data_ptr<double>();
  x += row;  // broadcasts into x's shape
  CHECK(values(x) == std::vector<double>{11, 22, 33, 14, 25, 36});
  x -= 1;
  x *= 2.0;
  CHECK(values(x) == std::vector<double>{20, 42, 64, 26, 48, 70});
  x /= row;
  CHECK(values(x) == std::vector<double>{2, 2.1, 64.0 / 30, 2.6, 2.4, 70.0 / 30});
  x.fill_(3).mul_(row).sub_(row, 2.0).add_(5).div_(5);
  CHECK(values(x) == std::vector<double>{3, 5, 7, 3, 5, 7});
  x.clamp_(4, 6);
  CHECK(values(x) == std::vector<double>{4, 5, 6, 4, 5, 6});
  x.clamp_min_(4.5).clamp_max_(5.5);
  CHECK(values(x) == std::vector<double>{4.5, 5, 5.5, 4.5, 5, 5.5});
  x.clamp_(std::nullopt, 5.0);
  CHECK(values(x) == std::vector<double>{4.5, 5, 5, 4.5, 5, 5});
  CHECK(x.data_ptr<double>() == before);  // written into the tensor's own array
  CHECK(x.dtype() == kFloat64);

  // x += x + 1 (the spelling from issue 18) and x += x read x's values before the write.
  Tensor c = tensor({1.0, 2.0}, kFloat32);
  c += c + 1;
  CHECK(values(c) == std::vector<double>{3, 5});
  c += c;
  CHECK(values(c) == std::vector<double>{6, 10});

  // zero_ and fill_ work on every dtype.
  Tensor i = tensor({1, 2, 3}, kInt64);
  i.fill_(7);
  CHECK(values(i) == std::vector<double>{7, 7, 7});
  i.zero_();
  CHECK(values(i) == std::vector<double>{0, 0, 0});
  Tensor b = tensor({true, false}, kBool);
  b.fill_(1);
  CHECK(values(b) == std::vector<double>{1, 1});
}

TEST_CASE("in-place ops: every write bumps the version, once", "[inplace]") {
  Tensor x = zeros({3}, kFloat64);
  CHECK(x.version() == 0);
  x += 1;
  CHECK(x.version() == 1);
  x.mul_(x).clamp_(0, 1).zero_();
  CHECK(x.version() == 4);
  Tensor y = x;  // a handle to the same tensor sees the writes
  y.fill_(2);
  CHECK(x.version() == 5);
  CHECK(values(x) == std::vector<double>{2, 2, 2});
}

TEST_CASE("in-place ops: bad input is a tg::Error naming the op", "[inplace][bad_input]") {
  Tensor x = zeros({3}, kFloat64);
  CHECK_THROWS_WITH(x += zeros({2, 3}, kFloat64),
                    Catch::Contains("add_") && Catch::Contains("float64(2,3)") && Catch::Contains("float64(3)"));
  CHECK_THROWS_WITH(x *= zeros({3}, kFloat32), Catch::Contains("mul_") && Catch::Contains("float32(3)"));
  CHECK_THROWS_WITH(x -= zeros({4}, kFloat64), Catch::Contains("sub") && Catch::Contains("(4)"));
  Tensor i = tensor({1, 2}, kInt64);
  CHECK_THROWS_WITH(i += 1, Catch::Contains("add_") && Catch::Contains("int64(2)"));
  CHECK_THROWS_WITH(i /= i, Catch::Contains("div_") && Catch::Contains("int64(2)"));
  CHECK_THROWS_WITH(x.clamp_(std::nullopt, std::nullopt), Catch::Contains("clamp_"));
  CHECK_THROWS_WITH(x.clamp_(2, 1), Catch::Contains("clamp_") && Catch::Contains("greater than max"));
  Tensor undefined;
  CHECK_THROWS_AS(undefined.add_(1), Error);
  CHECK_THROWS_AS(x.add_(undefined), Error);
  CHECK(x.version() == 0);  // nothing was written
}

TEST_CASE("in-place ops: refused on a leaf that requires grad, allowed under NoGradGuard", "[inplace]") {
  Tensor w = param({1.0, 2.0});
  CHECK_THROWS_WITH(w += 1, Catch::Contains("add_") &&
                                Catch::Contains("a leaf Variable that requires grad is being used in an in-place "
                                                "operation"));
  CHECK_THROWS_WITH(w.zero_(), Catch::Contains("fill_"));
  CHECK(w.version() == 0);
  {
    NoGradGuard no_grad;
    w -= 0.5;  // an optimizer's step
    w.mul_(2.0);
  }
  CHECK(values(w) == std::vector<double>{1, 3});
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  CHECK(w.version() == 2);
}

TEST_CASE("in-place ops: a tensor saved for backward and written later raises the version error", "[inplace]") {
  const Tensor x = param({1.0, 2.0});
  Tensor y = x * 2.0;
  const Tensor z = (y * y).sum();  // mul saves y (version 0)
  y += 1;
  CHECK_THROWS_WITH(z.backward(), Catch::Contains("mul backward") &&
                                      Catch::Contains("modified by an in-place operation") &&
                                      Catch::Contains("version 1") && Catch::Contains("expected version 0"));

  // The same under no-grad: the write is not recorded, and still counted.
  Tensor a = x * 3.0;
  const Tensor b = (a * x).sum();
  const std::string producer = a.grad_fn_name();
  {
    NoGradGuard no_grad;
    a.zero_();
  }
  CHECK(a.grad_fn_name() == producer);  // its history is unchanged
  CHECK(!producer.empty());
  CHECK_THROWS_WITH(b.backward(), Catch::Contains("modified by an in-place operation"));
}

TEST_CASE("in-place ops: a write to a tensor in a graph is differentiable (rebased history)", "[inplace]") {
  SECTION("by hand: y = 2x; y *= 3; y += w; sum") {
    const Tensor x = param({1.0, -2.0}), w = param({5.0, 7.0});
    Tensor y = x * 2.0;
    y *= 3.0;
    y += w;
    CHECK(y.grad_fn_name() == "add");
    CHECK(!y.is_leaf());
    y.sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{6, 6});
    CHECK(values(w.grad()) == std::vector<double>{1, 1});
  }
  SECTION("a leaf that does not require grad joins the graph when written with one that does") {
    const Tensor w = param({2.0, 3.0});
    Tensor acc = zeros({2}, kFloat64);
    acc += w * w;
    acc.mul_(w);  // acc = w^3
    CHECK(acc.requires_grad());
    acc.sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{12, 27});
  }
  SECTION("mul_ by a tensor: the gradient of the other operand reads the values before the write") {
    const Tensor x = param({2.0, 3.0}), w = param({5.0, 7.0});
    Tensor y = x * 1.0;
    y.mul_(w);  // d/dw = y before the write = x
    y.sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{2, 3});
    CHECK(values(x.grad()) == std::vector<double>{5, 7});
  }
  SECTION("a node that saved the tensor as its output keeps the values it saved") {
    const Tensor x = param({0.5, -1.0});
    Tensor y = exp(x);
    y += 1;
    y.sum().backward();
    CHECK(x.grad().to_vector()[0] == Approx(std::exp(0.5)).epsilon(1e-15));
    CHECK(x.grad().to_vector()[1] == Approx(std::exp(-1.0)).epsilon(1e-15));
  }
  SECTION("fill_ and zero_ cut the gradient to the earlier history; the tensor still requires grad") {
    const Tensor x = param({1.0, 2.0});
    Tensor y = x * 2.0;
    y.fill_(4);
    CHECK(y.requires_grad());
    const Tensor total = (y * x).sum();  // d/dx = y = 4, nothing through y's history
    total.backward();
    CHECK(values(x.grad()) == std::vector<double>{4, 4});
  }
  SECTION("gradcheck, first and second order, through a chain of writes") {
    const Tensor x = random_leaf({2, 3}, -1, 1, 31), w = random_leaf({3}, 0.5, 1.5, 32);
    tg::testing::check_gradients("in-place chain",
                                 [](const std::vector<Tensor>& in) {
                                   Tensor y = exp(in[0]);
                                   y.mul_(in[1]);
                                   y += y;
                                   y.sub_(in[1], 0.5);
                                   y /= in[1];
                                   y.add_(in[0], -2.0);
                                   y *= 0.25;
                                   return tanh(y);
                                 },
                                 {x, w});
  }
}

}  // namespace
