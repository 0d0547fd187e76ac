// Matrix products and axis permutations: float64 gradcheck and gradgradcheck of matmul in every
// NumPy case (1-D operands, batches, broadcast batches in 3-D and 4-D), mm/bmm with every
// transpose flag, linear, transpose/permute; hand-derived products; error messages.
#include <array>

#include "op_check.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;

}  // namespace

TEST_CASE("matmul: every NumPy case, first and second order") {
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 2}, {3, 2}},              // matrix @ matrix
      {{4}, {4, 2}, {2}},                    // vector @ matrix
      {{3, 4}, {4}, {3}},                    // matrix @ vector
      {{4}, {4}, {}},                        // vector @ vector: a 0-d dot product
      {{2, 3, 4}, {2, 4, 2}, {2, 3, 2}},     // batched
      {{2, 3, 4}, {4, 2}, {2, 3, 2}},        // batch broadcast on the right
      {{3, 4}, {2, 4, 2}, {2, 3, 2}},        // batch broadcast on the left
      {{2, 1, 3, 4}, {3, 4, 2}, {2, 3, 3, 2}},  // 4-D with batch axes broadcast both ways
      {{2, 1, 2, 3}, {1, 2, 3, 2}, {2, 2, 2, 2}},
      {{4}, {2, 4, 3}, {2, 3}},              // vector @ batch
      {{2, 3, 4}, {4}, {2, 3}},              // batch @ vector
  };
  std::uint64_t seed = 20;
  for (const Case& c : cases) {
    Tensor a = random_leaf(c.a, -1, 1, seed++), b = random_leaf(c.b, -1, 1, seed++);
    const std::string what = "matmul " + to_string(c.a) + " @ " + to_string(c.b);
    INFO(what);
    CHECK(matmul(a, b).shape() == c.out);
    check_gradients(what, [](const Inputs& x) { return matmul(x[0], x[1]); }, {a, b});
  }
}

TEST_CASE("matmul: values and gradients derived by hand") {
  // C = A B with A (2,2), B (2,1): C = (1*5 + 2*6, 3*5 + 4*6) = (17, 39).
  Tensor A = param({{1.0, 2.0}, {3.0, 4.0}}), B = param({2, 1}, {5.0, 6.0});
  const Tensor C = matmul(A, B);
  CHECK(values(C) == std::vector<double>{17, 39});
  // For f = sum(W * C) with W = (1, 10): dA = W B^T, dB = A^T W.
  auto g = tg::grad({C}, {A, B}, {param({2, 1}, {1.0, 10.0}).detach()});
  CHECK(values(g[0]) == std::vector<double>{5, 6, 50, 60});
  CHECK(values(g[1]) == std::vector<double>{31, 42});
  // Dot product of vectors is 0-d; its gradient is the other vector.
  Tensor u = param({1.0, 2.0, 3.0}), v = param({4.0, 5.0, 6.0});
  const Tensor d = matmul(u, v);
  CHECK(d.dim() == 0);
  CHECK(at(d, 0) == 32.0);
  CHECK(values(tg::grad({d}, {u})[0]) == std::vector<double>{4, 5, 6});
  // A broadcast batch axis sums the gradient over the batch: (2,2,2) @ (2,1) -> dB summed.
  Tensor batch = param({{{1.0, 0.0}, {0.0, 1.0}}, {{2.0, 0.0}, {0.0, 2.0}}});
  CHECK(values(tg::grad({sum(matmul(batch, B))}, {B})[0]) == std::vector<double>{3, 3});
}

TEST_CASE("mm and bmm: every transpose flag, including vector-shaped products") {
  // (m, k, n) for op(a) (m,k) @ op(b) (k,n): general, row times matrix, matrix times column
  // (BLAS gemv), dot product, and k = 1 (an outer product).
  const std::vector<std::array<std::size_t, 3>> sizes = {{3, 4, 2}, {1, 4, 2}, {3, 4, 1}, {1, 4, 1}, {3, 1, 2}};
  std::uint64_t seed = 40;
  for (const auto& [m, k, n] : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const std::string what = std::string("(") + std::to_string(m) + "," + std::to_string(k) + "," +
                                 std::to_string(n) + ") " + (ta ? "T" : "N") + (tb ? "T" : "N");
        INFO(what);
        const std::size_t batch = 2;
        Tensor ba = random_leaf(ta ? Shape{batch, k, m} : Shape{batch, m, k}, -1, 1, seed++);
        Tensor bb = random_leaf(tb ? Shape{batch, n, k} : Shape{batch, k, n}, -1, 1, seed++);
        Tensor a = select(ba, 0, 1).detach().requires_grad_(), b = select(bb, 0, 1).detach().requires_grad_();
        const Tensor got = mm(a, b, ta, tb), bgot = bmm(ba, bb, ta, tb);
        REQUIRE(got.shape() == Shape{m, n});
        REQUIRE(bgot.shape() == Shape{batch, m, n});
        // Reference: the sum written out.
        const auto &av = ba.value<double>(), &bv = bb.value<double>();
        for (std::size_t t = 0; t < batch; ++t)
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) {
              double expected = 0;
              for (std::size_t l = 0; l < k; ++l)
                expected += (ta ? av(t, l, i) : av(t, i, l)) * (tb ? bv(t, j, l) : bv(t, l, j));
              // Terms are O(1), so rounding (in either order of summation) is below 1e-15 absolute.
              CHECK(bgot.value<double>()(t, i, j) == Approx(expected).margin(1e-15));
              if (t == 1) CHECK(got.value<double>()(i, j) == Approx(expected).margin(1e-15));
            }
        check_gradients("mm " + what, [ta = ta, tb = tb](const Inputs& x) { return mm(x[0], x[1], ta, tb); }, {a, b});
        check_gradients("bmm " + what, [ta = ta, tb = tb](const Inputs& x) { return bmm(x[0], x[1], ta, tb); },
                        {ba, bb});
      }
}

TEST_CASE("linear: x W^T + b for 1-D, 2-D and 3-D x, with and without bias") {
  Tensor W = random_leaf({4, 3}, -1, 1, 50), b = random_leaf({4}, -1, 1, 51);
  // 1 row (gemv), 3 rows < 4 outputs (computed as W x^T), 5 and 20 rows (x W^T), 3-D x.
  for (const Shape& xs : {Shape{3}, Shape{3, 3}, Shape{5, 3}, Shape{20, 3}, Shape{2, 2, 3}}) {
    Tensor x = random_leaf(xs, -1, 1, 52);
    Shape out = xs;
    out.back() = 4;
    CHECK(linear(x, W, b).shape() == out);
    check_gradients("linear " + to_string(xs), [](const Inputs& v) { return linear(v[0], v[1], v[2]); }, {x, W, b});
    check_gradients("linear no bias " + to_string(xs), [](const Inputs& v) { return linear(v[0], v[1]); }, {x, W});
  }
  // Each path against a float64 loop, in float32 too.
  for (const DType dtype : {kFloat64, kFloat32}) {
    for (const std::size_t rows : {1, 3, 15, 16, 40}) {
      const std::size_t in = 37, out = 24;
      Generator gen(rows);
      const Tensor xr = rand({rows, in}, dtype, &gen), wr = rand({out, in}, dtype, &gen), br = rand({out}, dtype, &gen);
      const Tensor y = linear(xr, wr, br).to(kFloat64);
      const Tensor x64 = xr.to(kFloat64), w64 = wr.to(kFloat64), b64 = br.to(kFloat64);
      double worst = 0;
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < out; ++j) {
          double expected = b64.value<double>()(j);
          for (std::size_t k = 0; k < in; ++k) expected += x64.value<double>()(i, k) * w64.value<double>()(j, k);
          worst = std::max(worst, std::abs(y.value<double>()(i, j) - expected));
        }
      INFO("rows " << rows << ", " << to_string(dtype));
      CHECK(worst < (dtype == kFloat32 ? 1e-5 : 1e-13));
    }
  }
  // By hand: x = (1, 2), W = ((1, 0), (1, 1)), b = (0.5, -1): y = (1.5, 2).
  Tensor x = param({1.0, 2.0}), w = param({{1.0, 0.0}, {1.0, 1.0}}), bias = param({0.5, -1.0});
  CHECK(values(linear(x, w, bias)) == std::vector<double>{1.5, 2.0});
  auto g = tg::grad({sum(linear(x, w, bias))}, {x, w, bias});
  CHECK(values(g[0]) == std::vector<double>{2, 1});  // column sums of W
  CHECK(values(g[1]) == std::vector<double>{1, 2, 1, 2});
  CHECK(values(g[2]) == std::vector<double>{1, 1});
}

TEST_CASE("transpose and permute") {
  Tensor x = random_leaf({2, 3, 4}, -1, 1, 60);
  for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {0, 2}, {1, 2}, {-1, 0}, {1, 1}}) {
    const std::string what = "transpose " + std::to_string(a) + "," + std::to_string(b);
    check_gradients(what, [a = a, b = b](const Inputs& v) { return transpose(v[0], a, b); }, {x});
  }
  CHECK(transpose(x, 0, 2).shape() == Shape{4, 3, 2});
  for (const std::vector<int>& dims : std::vector<std::vector<int>>{{2, 0, 1}, {1, 2, 0}, {0, 2, 1}, {-1, -3, -2}}) {
    check_gradients("permute", [dims](const Inputs& v) { return permute(v[0], dims); }, {x});
  }
  CHECK(permute(x, {2, 0, 1}).shape() == Shape{4, 2, 3});
  // By hand: result[i][j][k] = x[j][k][i] for dims (2, 0, 1).
  const Tensor p = permute(x, {2, 0, 1});
  CHECK(p.value<double>()(3, 1, 2) == x.value<double>()(1, 2, 3));
  Tensor m = param({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(values(m.t()) == std::vector<double>{1, 4, 2, 5, 3, 6});
  auto g = tg::grad({m.t()}, {m}, {tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, kFloat64)});
  CHECK(values(g[0]) == std::vector<double>{1, 3, 5, 2, 4, 6});
}

TEST_CASE("linalg: bad input raises tg::Error naming the op and the shapes") {
  const Tensor a = zeros({3, 4}, kFloat64), b = zeros({5, 2}, kFloat64);
  CHECK_THROWS_AS(matmul(a, b), Error);
  CHECK_THROWS_WITH(matmul(a, b), "matmul: shapes (3,4) and (5,2) are not aligned");
  CHECK_THROWS_WITH(matmul(zeros({4}, kFloat64), zeros({5}, kFloat64)), "matmul: shapes (4) and (5) are not aligned");
  CHECK_THROWS_WITH(matmul(zeros({3}, kFloat64), b), "matmul: shapes (3) and (5,2) are not aligned");
  CHECK_THROWS_WITH(matmul(a, zeros({3}, kFloat64)), "matmul: shapes (3,4) and (3) are not aligned");
  CHECK_THROWS_WITH(matmul(zeros({2, 3, 4}, kFloat64), zeros({2, 5, 2}, kFloat64)),
                    "matmul: shapes (2,3,4) and (2,5,2) are not aligned");
  CHECK_THROWS_WITH(matmul(zeros({2, 3, 4}, kFloat64), zeros({3, 4, 2}, kFloat64)),
                    "matmul: batch dimensions of shapes (2,3,4) and (3,4,2) cannot be broadcast");
  CHECK_THROWS_WITH(matmul(zeros({}, kFloat64), b), Catch::StartsWith("matmul: both operands need at least one axis"));
  CHECK_THROWS_WITH(matmul(zeros({3, 4}), zeros({4, 2}, kFloat64)),
                    Catch::StartsWith("matmul: dtype mismatch, float32(3,4) and float64(4,2)"));
  CHECK_THROWS_WITH(mm(a, b), "mm: shapes (3,4) and (5,2) are not aligned");
  CHECK_THROWS_WITH(mm(a, zeros({3, 2}, kFloat64), false, true), "mm: shapes (3,4) and (3,2) are not aligned");
  CHECK_THROWS_WITH(mm(zeros({2, 3, 4}, kFloat64), b), "mm: expects 2-D tensors, got shapes (2,3,4) and (5,2)");
  CHECK_THROWS_WITH(bmm(zeros({2, 3, 4}, kFloat64), zeros({3, 4, 2}, kFloat64)),
                    "bmm: batch sizes differ, shapes (2,3,4) and (3,4,2)");
  CHECK_THROWS_WITH(bmm(a, b), Catch::StartsWith("bmm: expects 3-D tensors"));
  CHECK_THROWS_WITH(linear(zeros({5, 3}, kFloat64), zeros({4, 2}, kFloat64)),
                    "linear: input of shape (5,3) does not match weight of shape (4,2) (expected last extent 2)");
  CHECK_THROWS_WITH(linear(zeros({5, 3}, kFloat64), zeros({4, 3}, kFloat64), zeros({3}, kFloat64)),
                    "linear: bias of shape (3) does not match weight of shape (4,3)");
  CHECK_THROWS_WITH(linear(zeros({5, 3}, kFloat64), zeros({3}, kFloat64)),
                    Catch::StartsWith("linear: weight must be 2-D"));
  CHECK_THROWS_WITH(permute(zeros({2, 3}), {0}), "permute: 1 axes given for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(permute(zeros({2, 3}), {0, 0}), Catch::StartsWith("permute: axis 0 repeated"));
  CHECK_THROWS_WITH(permute(zeros({2, 3}), {0, 2}), "permute: axis 2 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(transpose(zeros({2, 3}), 0, 2), "transpose: axis 2 is out of range for a tensor of shape (2,3)");
  CHECK_THROWS_WITH(zeros({2, 3, 4}).t(), "t: expects a 2-D tensor, got shape (2,3,4)");
}

TEST_CASE("linalg: zero-size operands give zero-size (or zero) results") {
  Tensor a = zeros({2, 0}, kFloat64).requires_grad_();
  const Tensor c = matmul(a, zeros({0, 3}, kFloat64));  // an empty inner dimension sums nothing
  CHECK(values(c) == std::vector<double>(6, 0.0));
  CHECK(tg::grad({sum(c)}, {a})[0].shape() == Shape{2, 0});
  CHECK(matmul(zeros({0, 3}, kFloat64), zeros({3, 2}, kFloat64)).shape() == Shape{0, 2});
  CHECK(matmul(zeros({0, 2, 3}, kFloat64), zeros({3, 2}, kFloat64)).shape() == Shape{0, 2, 2});
  CHECK(matmul(zeros({0, 2, 3}, kFloat64), zeros({0, 3, 2}, kFloat64)).shape() == Shape{0, 2, 2});
  CHECK(at(matmul(zeros({0}, kFloat64), zeros({0}, kFloat64)), 0) == 0.0);
  CHECK(linear(zeros({0, 3}, kFloat64), zeros({4, 3}, kFloat64), zeros({4}, kFloat64)).shape() == Shape{0, 4});
}
