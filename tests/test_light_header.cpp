// The public headers without xtensor: what a user file that includes only tapegrad.hpp can do.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

// tapegrad.hpp must not bring in xtensor (or the engine's private headers): that is what keeps a
// user's file cheap to compile. This file would stop compiling if it came back.
#ifdef XTENSOR_VERSION_MAJOR
#error "tapegrad/tapegrad.hpp includes xtensor; keep it behind tapegrad/xtensor.hpp"
#endif

namespace tg::testing {
int header_weight_checked();
}

TEST_CASE("light header: tg::Callback stores any callable, as std::function would") {
  CHECK(tg::testing::header_weight_checked() == 1);  // test_header_weight.cpp compiled
  // A lambda with state: copies copy the state (value semantics).
  int calls = 0;
  tg::Callback<int(int)> count = [calls](int x) mutable { return x + ++calls; };
  tg::Callback<int(int)> copy = count;
  CHECK(count(10) == 11);
  CHECK(count(10) == 12);
  CHECK(copy(10) == 11);
  // A std::function converts; an empty one stays empty, as does a null function pointer.
  std::function<int(int)> twice = [](int x) { return 2 * x; };
  CHECK(tg::Callback<int(int)>(twice)(4) == 8);
  CHECK(!tg::Callback<int(int)>(std::function<int(int)>()));
  int (*none)(int) = nullptr;
  CHECK(tg::Callback<int(int)>(none) == nullptr);
  CHECK(tg::Callback<int(int)>([](int x) { return x; }) != nullptr);  // captureless lambda
  // A result converts to R; a void Callback drops it.
  tg::Callback<double(int)> widen = [](int x) { return x / 2; };
  CHECK(widen(5) == 2.0);
  tg::Callback<void(const std::string&)> ignore = [](const std::string& s) { return s.size(); };
  CHECK_NOTHROW(ignore("abc"));
  // Calling an empty one raises tg::Error rather than std::bad_function_call.
  tg::Callback<void()> empty;
  CHECK_THROWS_AS(empty(), tg::Error);
  CHECK_THROWS_WITH(empty(), Catch::Contains("empty tg::Callback"));
  // What the library stores works with either kind, e.g. a hook.
  tg::Tensor w = tg::from_vector({1, 2}, {2}, tg::TensorOptions(tg::kFloat64).requires_grad());
  std::function<tg::Tensor(const tg::Tensor&)> scale = [](const tg::Tensor& g) { return g * 3.0; };
  w.register_hook(scale);
  tg::sum(w * w).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{6, 12});
  CHECK_THROWS_WITH(w.register_hook(std::function<tg::Tensor(const tg::Tensor&)>()),
                    Catch::Contains("empty hook"));
}

TEST_CASE("light header: values without xtensor (data_ptr, to_vector, from_vector)") {
  tg::Tensor x = tg::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, tg::kFloat64);
  CHECK(x.shape() == tg::Shape{2, 3});
  CHECK(x.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  const double* p = static_cast<const tg::Tensor&>(x).data_ptr<double>();
  CHECK(p[4] == 5.0);

  // A write through data_ptr is an in-place write: the caller records it, as mutable_value does.
  tg::Tensor w = tg::from_vector({1, 2, 3}, {3}, tg::TensorOptions(tg::kFloat64).requires_grad());
  tg::Tensor loss = tg::sum(w * w);
  w.data_ptr<double>()[0] = 10;
  w.bump_version();
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("modified by an in-place operation"));

  tg::Tensor i = tg::from_vector({3, -2}, {2}, tg::kInt64);
  CHECK(i.data_ptr<std::int64_t>()[1] == -2);
  CHECK_THROWS_WITH(i.data_ptr<double>(), Catch::Contains("data_ptr<float64>: tensor has dtype int64"));
  CHECK_THROWS_WITH(tg::from_vector({1, 2, 3}, {2, 2}),
                    Catch::Contains("from_vector: 3 values do not fill shape (2,2)"));
  CHECK_THROWS_WITH(tg::Tensor().data_ptr<float>(), Catch::Contains("undefined tensor"));
}

TEST_CASE("light header: error messages format numbers as a stream would") {
  CHECK(tg::detail::cat("a ", 1.5, " ", -3, " ", std::size_t{7}, " ", 'c', " ", 1e-20, " ", true) ==
        "a 1.5 -3 7 c 1e-20 1");
  CHECK(tg::detail::cat(0.1f) == "0.1");
}
