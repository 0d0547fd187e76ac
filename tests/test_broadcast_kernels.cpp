// The broadcasting fast paths of binary ops agree with xtensor's general broadcasting.
#include <catch2/catch.hpp>

#include <xtensor/xrandom.hpp>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

TEST_CASE("broadcast kernels: every fast path matches xtensor's broadcasting") {
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{5, 4}, {4}},       {{5, 4}, {1, 4}},    {{4}, {5, 4}},       {{2, 3, 4}, {3, 4}},
      {{2, 3, 4}, {4}},    {{5, 4}, {5, 1}},    {{5, 1}, {5, 4}},    {{2, 3, 4}, {2, 3, 1}},
      {{2, 3, 4}, {2, 1, 1}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{1, 4}, {3, 1}},
      {{4}, {1, 1, 4}},    {{2, 1, 4}, {3, 1}}, {{6}, {1}},          {{}, {2, 3}}};
  xt::random::seed(5);
  for (const auto& [sa, sb] : pairs) {
    INFO("shapes " << to_string(sa) << " and " << to_string(sb));
    xt::xarray<double> a = xt::random::rand<double>(sa), b = xt::random::rand<double>(sb);
    xt::xarray<double> sum_expected = a + b, quotient_expected = a / b;
    const Tensor ta(a), tb(b);
    CHECK((ta + tb).value<double>() == sum_expected);
    CHECK((ta / tb).value<double>() == quotient_expected);
    CHECK((tb - ta).value<double>() == xt::xarray<double>(b - a));
  }
}
