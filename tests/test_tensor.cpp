// Tensor basics: creation, accessors, dtype handling, copy semantics.
#include <catch2/catch.hpp>

#include <limits>
#include <sstream>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

TEST_CASE("tensor: creation from nested lists and factories") {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(a.dtype() == kFloat32);
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.numel() == 6);
  CHECK(a.dim() == 2);
  CHECK(a.value<float>()(1, 2) == 6.0f);

  Tensor b = tensor({1.5, 2.5}, kFloat64);
  CHECK(b.dtype() == kFloat64);
  CHECK(b.value<double>()(1) == 2.5);

  CHECK(zeros({2, 2}).value<float>()(1, 1) == 0.0f);
  CHECK(ones({3}, kFloat64).to_double()(2) == 1.0);
  CHECK(full({2}, 7.0).value<float>()(1) == 7.0f);
  CHECK(arange(0, 5).shape() == Shape{5});
  CHECK(arange(0, 1, 0.25, kFloat64).value<double>()(3) == 0.75);
  CHECK(linspace(0, 1, 5, kFloat64).value<double>()(4) == 1.0);
  CHECK(eye(3, 0, kFloat64).value<double>()(1, 1) == 1.0);
  CHECK(eye(3, 0, kFloat64).value<double>()(0, 1) == 0.0);
  CHECK(tensor(3.0).dim() == 0);
  CHECK(tensor(3.0).item() == 3.0);
}

TEST_CASE("tensor: from xtensor expressions") {
  xt::xarray<double> v = {{1.0, 2.0}, {3.0, 4.0}};
  Tensor t(v);
  CHECK(t.dtype() == kFloat64);
  Tensor u = xt::xarray<double>(v * 2.0);
  CHECK(u.value<double>()(1, 1) == 8.0);
  Tensor w(v * 3.0);
  CHECK(w.value<double>()(0, 1) == 6.0);
}

TEST_CASE("tensor: item needs exactly one element") {
  CHECK_THROWS_WITH(ones({2, 2}).item(), Catch::Contains("item") && Catch::Contains("(2,2)"));
}

TEST_CASE("tensor: value<T> checks the dtype") {
  CHECK_THROWS_WITH(ones({2}).value<double>(), Catch::Contains("float32"));
}

TEST_CASE("tensor: copies share, detach copies") {
  Tensor a = ones({2}, kFloat64);
  Tensor b = a;
  b.mutable_value<double>()(0) = 5;
  CHECK(a.value<double>()(0) == 5);
  Tensor c = a.detach();
  c.mutable_value<double>()(0) = 7;
  CHECK(a.value<double>()(0) == 5);
}

TEST_CASE("tensor: requires_grad only for floating leaves") {
  Tensor x = ones({2}, kFloat64);
  x.requires_grad_();
  CHECK(x.requires_grad());
  CHECK(x.is_leaf());
  Tensor y = x * 2.0;
  CHECK(!y.is_leaf());
  CHECK(y.grad_fn_name() == "mul_scalar");
  CHECK_THROWS_WITH(y.requires_grad_(false), Catch::Contains("only leaves"));
  Tensor i = tensor({1, 2}, kInt64);
  CHECK_THROWS_WITH(i.requires_grad_(), Catch::Contains("int64"));
}

TEST_CASE("tensor: printing names dtype, shape and grad_fn") {
  Tensor x = tensor({1.0, 2.0}, TensorOptions(kFloat64).requires_grad());
  std::ostringstream os;
  os << x * 2.0;
  CHECK(os.str().find("float64") != std::string::npos);
  CHECK(os.str().find("grad_fn=mul_scalar") != std::string::npos);
}

TEST_CASE("tensor: float32 and float64 are not mixed silently") {
  CHECK_THROWS_WITH(ones({2}) + ones({2}, kFloat64),
                    Catch::Contains("add") && Catch::Contains("float32") && Catch::Contains("float64"));
}

TEST_CASE("tensor: to() converts and is differentiable") {
  Tensor x = tensor({1.0, 2.0}, TensorOptions(kFloat64).requires_grad());
  Tensor y = (x.to(kFloat32) * 3.0).sum();
  y.backward();
  CHECK(x.grad().dtype() == kFloat64);
  CHECK(x.grad().value<double>()(1) == 3.0);
}

TEST_CASE("tensor: nested lists of any depth, including single-element rows") {
  CHECK(tensor({{0}, {1}, {1}, {0}}).shape() == Shape{4, 1});
  CHECK(tensor({1, 2.5}).shape() == Shape{2});
  CHECK(tensor({{{1, 2}}, {{3, 4}}}).shape() == Shape{2, 1, 2});
  CHECK(tensor({{{1, 2}}, {{3, 4}}}, kFloat64).value<double>()(1, 0, 1) == 4.0);
  CHECK(tensor(2.0).dim() == 0);
  CHECK(tensor({}).shape() == Shape{0});
  CHECK_THROWS_WITH(tensor({{1, 2}, {3}}), Catch::Contains("ragged"));
  CHECK_THROWS_WITH(tensor({{1, 2}, 3}), Catch::Contains("ragged"));
}

TEST_CASE("tensor: conversion to int64 refuses NaN, infinities and out-of-range values") {
  // C++ leaves these conversions undefined (clang's UBSan reports them; found by fuzz_idx).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(tensor({1.0, nan}).to(kInt64), "to: value nan at index 1 cannot be converted to int64");
  CHECK_THROWS_WITH(tensor({1e19}, kFloat64).to(kInt64), "to: value 1e+19 at index 0 cannot be converted to int64");
  CHECK_THROWS_WITH(tensor({-std::numeric_limits<double>::infinity()}, kInt64),
                    "tensor: value -inf at index 0 cannot be converted to int64");
  CHECK_THROWS_WITH(full({2}, nan, kInt64), "full: value nan at index 0 cannot be converted to int64");
  // In range: truncation toward zero, and the extremes that fit.
  CHECK(tensor({-2.7, 2.7, -0x1p63}, kFloat64).to(kInt64).value<std::int64_t>() ==
        xt::xarray<std::int64_t>{-2, 2, std::numeric_limits<std::int64_t>::min()});
}
