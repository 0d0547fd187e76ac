// Comparisons on every dtype, the comparison operators, and sum/mean/count_nonzero on int64 and
// bool tensors (issue 18, item 5): counting correct predictions the libtorch way.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using namespace tg;

std::vector<double> values(const Tensor& t) { return t.to_vector(); }

TEST_CASE("compare: (argmax(logits, 1) == labels).sum() counts correct predictions", "[compare]") {
  const Tensor logits = tensor({{0.1, 0.9, 0.0}, {2.0, 1.0, 0.5}, {0.2, 0.3, 0.4}, {1.0, 0.0, 3.0}}, kFloat64);
  const Tensor labels = tensor({1, 0, 1, 2}, kInt64);
  const Tensor hits = argmax(logits, 1) == labels;
  CHECK(hits.dtype() == kBool);
  CHECK(values(hits) == std::vector<double>{1, 1, 0, 1});
  const Tensor correct = hits.sum();
  CHECK(correct.dtype() == kInt64);
  CHECK(correct.dim() == 0);
  CHECK(correct.item<std::int64_t>() == 3);
  CHECK(count_nonzero(hits).item<std::int64_t>() == 3);
  CHECK(values(count_nonzero(tensor({{0.0, 1.5}, {-2.0, 0.0}}), {1})) == std::vector<double>{1, 1});
}

TEST_CASE("compare: every operator against tensors and scalars, on every dtype", "[compare]") {
  const Tensor a = tensor({1, 2, 3}, kInt64), b = tensor({3, 2, 1}, kInt64);
  CHECK(values(a == b) == std::vector<double>{0, 1, 0});
  CHECK(values(a != b) == std::vector<double>{1, 0, 1});
  CHECK(values(a < b) == std::vector<double>{1, 0, 0});
  CHECK(values(a <= b) == std::vector<double>{1, 1, 0});
  CHECK(values(a > b) == std::vector<double>{0, 0, 1});
  CHECK(values(a >= b) == std::vector<double>{0, 1, 1});
  // Integers against a fractional scalar compare exactly (2 >= 2.5 is false), either side.
  CHECK(values(a >= 2.5) == std::vector<double>{0, 0, 1});
  CHECK(values(a < 2.5) == std::vector<double>{1, 1, 0});
  CHECK(values(2.5 < a) == std::vector<double>{0, 0, 1});
  CHECK(values(2 == a) == std::vector<double>{0, 1, 0});
  CHECK(values(a != 2) == std::vector<double>{1, 0, 1});
  CHECK(values(1 >= a) == std::vector<double>{1, 0, 0});
  CHECK(values(3 > a) == std::vector<double>{1, 1, 0});
  CHECK(values(3 <= a) == std::vector<double>{0, 0, 1});
  // bool, floating, and mixed dtypes promote as PyTorch (bool < int64 < floating).
  const Tensor t = tensor({true, false, true}, kBool);
  CHECK(values(t == tensor({true, true, false}, kBool)) == std::vector<double>{1, 0, 0});
  CHECK(values(t == a) == std::vector<double>{1, 0, 0});
  CHECK(values(a == tensor({1.0, 2.5, 3.0}, kFloat32)) == std::vector<double>{1, 0, 1});
  const Tensor f = tensor({{0.5, -1.0}, {2.0, 0.0}}, kFloat64);
  CHECK(values(f > tensor({0.0, 1.0}, kFloat64)) == std::vector<double>{1, 0, 1, 0});  // broadcast
  CHECK(values(f != 0.0) == std::vector<double>{1, 1, 1, 0});
  CHECK(values(f == f) == std::vector<double>{1, 1, 1, 1});
  const Tensor nan = tensor({std::numeric_limits<double>::quiet_NaN()}, kFloat64);
  CHECK(values(nan != nan) == std::vector<double>{1});
  CHECK(values(nan == nan) == std::vector<double>{0});
}

TEST_CASE("compare: bad input names the op, the dtypes and the shapes", "[compare][bad_input]") {
  const Tensor f32 = zeros({2}, kFloat32), f64 = zeros({2}, kFloat64);
  CHECK_THROWS_WITH(f32 == f64, Catch::StartsWith("eq: dtypes float32 and float64 differ"));
  CHECK_THROWS_WITH(tensor({1, 2, 3}, kInt64) < tensor({1, 2}, kInt64),
                    Catch::Contains("lt") && Catch::Contains("(3)") && Catch::Contains("(2)"));
  CHECK_THROWS_AS(Tensor() >= 1.0, Error);
}

TEST_CASE("sum, mean and count_nonzero on int64 and bool tensors", "[compare][reduce]") {
  const Tensor i = tensor({{1, 2, 3}, {4, 5, 6}}, kInt64);
  CHECK(sum(i).dtype() == kInt64);
  CHECK(sum(i).item<std::int64_t>() == 21);
  CHECK(values(i.sum({0})) == std::vector<double>{5, 7, 9});
  CHECK(sum(i, {1}, true).shape() == Shape{2, 1});
  CHECK(values(sum(i, {1}, true)) == std::vector<double>{6, 15});
  const Tensor b = tensor({{true, false, true}, {true, true, true}}, kBool);
  CHECK(sum(b).dtype() == kInt64);
  CHECK(sum(b).item<std::int64_t>() == 5);
  CHECK(values(sum(b, {1})) == std::vector<double>{2, 3});
  CHECK(sum(zeros({0, 3}, kInt64)).item<std::int64_t>() == 0);
  // Exact beyond 2^53, where a double sum would round.
  const std::int64_t big = (std::int64_t{1} << 60) + 1;
  CHECK(sum(Tensor(xt::xarray<std::int64_t>{big, 2})).item() == static_cast<double>(big + 2));
  CHECK(sum(Tensor(xt::xarray<std::int64_t>{big, 2})).value<std::int64_t>()() == big + 2);
  CHECK(!sum(i).requires_grad());
  CHECK(values(count_nonzero(tensor({0, 3, 0, -1}, kInt64))) == std::vector<double>{2});
  CHECK_THROWS_WITH(mean(b), Catch::Contains("mean") && Catch::Contains("bool(2,3)"));
  CHECK_THROWS_WITH(i.mean(), Catch::Contains("mean") && Catch::Contains("int64(2,3)"));
  CHECK(mean(i.to(kFloat64)).item() == 3.5);
}

}  // namespace
