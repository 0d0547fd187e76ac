// The small spellings a libtorch user types first (issue 18, item 6): x.index({..}) and x[i],
// a single-integer axis, clamp_min/clamp_max, tg::tensor(std::vector<T>), and max(x, dim)
// returning values and indices.
#include <catch2/catch.hpp>
#include <cstdint>
#include <tuple>
#include <vector>

#include "op_check.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using namespace tg;
using tg::testing::param;
using tg::testing::random_leaf;

std::vector<double> values(const Tensor& t) { return t.to_vector(); }

TEST_CASE("small API: x[i] and x.index({...}) select and slice, differentiably", "[small_api]") {
  const Tensor x = param({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const Tensor row = x[1];
  CHECK(row.shape() == Shape{3});
  CHECK(values(row) == std::vector<double>{4, 5, 6});
  CHECK(x[-2][2].item() == 3.0);
  CHECK(x.index({0}).shape() == Shape{3});
  CHECK(values(x.index({Slice(), 1})) == std::vector<double>{2, 5});
  CHECK(values(x.index({1, Slice(0, 2)})) == std::vector<double>{4, 5});
  (x[1] * 2.0 + x.index({Slice(), 0}).sum()).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 0, 0, 5, 2, 2});
  CHECK_THROWS_WITH(x[2], Catch::Contains("select") && Catch::Contains("(2,3)"));
  tg::testing::check_gradients("x[i]", [](const std::vector<Tensor>& in) { return in[0][1] * in[0][-1]; },
                               {random_leaf({3, 2}, -1, 1, 5)});
}

TEST_CASE("small API: a single integer is an axis", "[small_api]") {
  const Tensor x = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, kFloat64);
  CHECK(values(sum(x, 1)) == std::vector<double>{6, 15});
  CHECK(values(x.sum(0)) == std::vector<double>{5, 7, 9});
  CHECK(x.sum(-1, true).shape() == Shape{2, 1});
  CHECK(values(mean(x, 0)) == std::vector<double>{2.5, 3.5, 4.5});
  CHECK(values(x.mean(1)) == std::vector<double>{2, 5});
  CHECK(x.sum(std::size_t{1}).shape() == Shape{2});
  // A braced list is still a list of axes: {} is every axis, {1} axis 1.
  CHECK(sum(x, {}).item() == 21.0);
  CHECK(values(sum(x, {1})) == std::vector<double>{6, 15});
  CHECK(values(x.argmax(1)) == std::vector<double>{2, 2});
  CHECK_THROWS_WITH(x.sum(2), Catch::StartsWith("sum: axis 2 is out of range"));
}

TEST_CASE("small API: max(x, dim) and min(x, dim) return values and indices, as torch::max", "[small_api]") {
  const Tensor x = param({{1.0, 7.0, 7.0}, {9.0, 0.0, -1.0}});
  auto [values_max, indices_max] = max(x, 1);
  CHECK(values(values_max) == std::vector<double>{7, 9});
  CHECK(indices_max.dtype() == kInt64);
  CHECK(values(indices_max) == std::vector<double>{1, 0});
  CHECK(values(std::get<1>(min(x, 0))) == std::vector<double>{0, 1, 1});
  CHECK(values(std::get<0>(min(x, 0, true))) == std::vector<double>{1, 0, -1});
  CHECK(std::get<1>(min(x, 0, true)).shape() == Shape{1, 3});
  CHECK(max(x, 0).indices().shape() == Shape{3});
  // It reads as its values too, and the gradient goes to the first maximum.
  const Tensor total = sum(max(x, 1));
  total.backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 1, 0, 0});
  static_assert(std::tuple_size<ValuesIndices>::value == 2);
}

TEST_CASE("small API: clamp_min, clamp_max and clamp with one bound", "[small_api]") {
  const Tensor x = param({-2.0, 0.5, 3.0});
  CHECK(values(clamp_min(x, 0)) == std::vector<double>{0, 0.5, 3});
  CHECK(values(clamp_max(x, 1)) == std::vector<double>{-2, 0.5, 1});
  CHECK(values(x.clamp_min(0.0)) == std::vector<double>{0, 0.5, 3});
  CHECK(values(x.clamp_max(0.0)) == std::vector<double>{-2, 0, 0});
  CHECK(values(x.clamp(std::nullopt, 1.0)) == std::vector<double>{-2, 0.5, 1});
  CHECK(values(x.clamp(-1.0, 1.0)) == std::vector<double>{-1, 0.5, 1});
  clamp_min(x, 0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 1});
  CHECK_THROWS_WITH(x.clamp(std::nullopt), Catch::StartsWith("clamp: at least one of min and max"));
}

TEST_CASE("small API: tg::tensor(std::vector<T>) keeps the element type", "[small_api]") {
  const Tensor d = tg::tensor(std::vector<double>{1.5, 2.5});
  CHECK(d.dtype() == kFloat64);
  CHECK(values(d) == std::vector<double>{1.5, 2.5});
  CHECK(tg::tensor(std::vector<float>{1.5f}).dtype() == kFloat32);
  const Tensor i = tg::tensor(std::vector<std::int64_t>{3, -4});
  CHECK(i.dtype() == kInt64);
  CHECK(values(i) == std::vector<double>{3, -4});
  CHECK(tg::tensor(std::vector<int>{1, 2, 3}).dtype() == kInt64);
  const Tensor f = tg::tensor(std::vector<double>{1, 2}, TensorOptions(kFloat32).requires_grad());
  CHECK(f.dtype() == kFloat32);
  CHECK(f.requires_grad());
  CHECK(tg::tensor(std::vector<double>{}).shape() == Shape{0});
}

}  // namespace
