// Random numbers: NumpyRandomState replays NumPy's legacy streams bit for bit (numpy_rng.json),
// and tg::Generator is deterministic per seed and per thread, with the right moments.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <thread>

#include <xtensor/xmath.hpp>

#include "reference.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {

Shape shape_from(const nlohmann::json& j) { return j.get<Shape>(); }

/// Bitwise equality of two tensors of the same dtype (float64 compared with ==, which is exact).
template <class T>
bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.value<T>() == b.value<T>();
}

/// Sample mean and (biased) variance of all elements.
std::pair<double, double> moments(const Tensor& t) {
  const xt::xarray<double> v = t.to_double();
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  return {mean, var / static_cast<double>(v.size())};
}

}  // namespace

// ---- NumpyRandomState ------------------------------------------------------------------------------

TEST_CASE("numpy_random: replays every numpy_rng.json case bit for bit") {
  const nlohmann::json ref = testing::load_reference("numpy_rng.json");
  NumpyRandomState numpy;
  int cases = 0;
  for (const auto& c : ref.at("cases")) {
    const std::string kind = c.at("kind");
    const auto& args = c.at("args");
    INFO(c.at("call").get<std::string>());
    numpy.seed(c.at("seed").get<std::uint64_t>());
    Tensor got;
    if (kind == "random" || kind == "random_2d") got = numpy.random(shape_from(args.at("size")));
    else if (kind == "randn") got = numpy.randn(shape_from(args.at("size")));
    else if (kind == "uniform")
      got = numpy.uniform(args.at("low"), args.at("high"), shape_from(args.at("size")));
    else if (kind == "randint")
      got = numpy.randint(args.at("low"), args.at("high"), shape_from(args.at("size")));
    else if (kind == "permutation") got = numpy.permutation(args.at("n"));
    else FAIL("unknown kind " << kind);
    const Tensor expected = testing::tensor_from_json(c);
    REQUIRE(got.dtype() == expected.dtype());
    if (expected.dtype() == kFloat64) CHECK(identical<double>(got, expected));
    else CHECK(identical<std::int64_t>(got, expected));
    ++cases;
  }
  CHECK(cases == 30);

  int raw = 0;
  for (const auto& r : ref.at("raw_mt19937")) {
    const auto seed = r.at("seed").get<std::uint32_t>();
    INFO("raw_mt19937 seed " << seed);
    // std::mt19937's state, as printed by operator<<, starts with init_genrand's key words.
    std::ostringstream state;
    state << std::mt19937(seed);
    std::istringstream words(state.str());
    for (std::uint64_t expected : r.at("state_key_first8")) {
      std::uint64_t word = 0;
      words >> word;
      CHECK(word == expected);
    }
    numpy.seed(seed);
    for (std::uint64_t expected : r.at("first_uint32_words")) CHECK(numpy.next_uint32() == expected);
    ++raw;
  }
  CHECK(raw == 5);
  WARN("numpy_rng.json: ran " << cases << " cases and " << raw << " raw_mt19937 checks");
}

// Expected values below were printed by NumPy 1.24.2 (Debian 12 python3-numpy).
TEST_CASE("numpy_random: 64-bit randint ranges take the high word first") {
  NumpyRandomState numpy(0);
  const Tensor wide = numpy.randint(0, std::int64_t{1} << 40, {3});
  CHECK((wide.value<std::int64_t>() == xt::xarray<std::int64_t>{741280623151, 506137267392,
                                                                291447657211}));
  numpy.seed(0);
  const std::int64_t big = std::int64_t{1} << 62;
  CHECK((numpy.randint(-big, big, {2}).value<std::int64_t>() ==
        xt::xarray<std::int64_t>{-3711235831533098449, -642142871786238784}));
}

TEST_CASE("numpy_random: the cached Gaussian survives other draws, empty ranges draw nothing") {
  NumpyRandomState numpy(5);
  CHECK(numpy.randn({1}).value<double>()(0) == 0.44122748688504143);
  const Tensor between = numpy.random({2});
  CHECK((between.value<double>() == xt::xarray<double>{0.20671915533942642, 0.9186109079379216}));
  CHECK(numpy.randn({1}).value<double>()(0) == -0.33087015189408764);

  numpy.seed(7);
  CHECK((numpy.randint(-3, 4, {8}).value<std::int64_t>() ==
        xt::xarray<std::int64_t>{1, -2, 3, 0, 0, 1, -2, 3}));
  CHECK((numpy.permutation(1).value<std::int64_t>() == xt::xarray<std::int64_t>{0}));
  CHECK((numpy.randint(9, 10, {2}).value<std::int64_t>() == xt::xarray<std::int64_t>{9, 9}));
  CHECK(numpy.random({1}).value<double>()(0) == 0.26387083903789865);
  CHECK(numpy.permutation(0).shape() == Shape{0});

  numpy.seed(0xFFFFFFFFull);
  CHECK((numpy.random({2}).value<double>() ==
        xt::xarray<double>{0.0976320289940138, 0.9123828453026218}));
}

TEST_CASE("numpy_random: float32 options round NumPy's doubles; requires_grad is honoured") {
  NumpyRandomState a(3), b(3);
  const Tensor f32 = a.random({4, 2}, TensorOptions(kFloat32).requires_grad());
  const Tensor f64 = b.random({4, 2});
  CHECK(f32.dtype() == kFloat32);
  CHECK(f32.requires_grad());
  CHECK(f64.dtype() == kFloat64);
  CHECK_FALSE(f64.requires_grad());
  CHECK((f32.value<float>() == xt::xarray<float>(xt::cast<float>(f64.value<double>()))));
}

TEST_CASE("numpy_random: bad arguments name the call and the values") {
  NumpyRandomState numpy;
  CHECK_THROWS_WITH(numpy.seed(std::uint64_t{1} << 32),
                    Catch::Contains("seed") && Catch::Contains("4294967296"));
  CHECK_THROWS_WITH(numpy.randint(3, 3, {2}), Catch::Contains("randint") &&
                                                   Catch::Contains("low (3)") &&
                                                   Catch::Contains("high (3)"));
  CHECK_THROWS_WITH(numpy.permutation(-2), Catch::Contains("permutation") && Catch::Contains("-2"));
  CHECK_THROWS_WITH(numpy.uniform(0, INFINITY, {2}), Catch::Contains("uniform"));
  CHECK_THROWS_WITH(numpy.random({2}, kInt64), Catch::Contains("random") && Catch::Contains("int64"));
}

// ---- Generator -------------------------------------------------------------------------------------

TEST_CASE("random: documented transforms of std::mt19937_64") {
  Generator gen(42);
  std::mt19937_64 engine(42);
  for (int i = 0; i < 100; ++i) CHECK(gen.next_double() == std::ldexp(double(engine() >> 11), -53));
  for (int i = 0; i < 100; ++i) CHECK(gen.next_float() == std::ldexp(float(engine() >> 40), -24));
  // The polar method on the same words, written out independently.
  double u, v, s;
  do {
    u = 2.0 * std::ldexp(double(engine() >> 11), -53) - 1.0;
    v = 2.0 * std::ldexp(double(engine() >> 11), -53) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  CHECK(gen.next_normal() == f * v);
  CHECK(gen.next_normal() == f * u);
}

TEST_CASE("random: same seed, same values; manual_seed restarts the stream") {
  Generator a(123), b(123), c(124);
  const Tensor x = rand({50}, kFloat64, &a), y = rand({50}, kFloat64, &b);
  CHECK(identical<double>(x, y));
  CHECK_FALSE(identical<double>(x, rand({50}, kFloat64, &c)));
  CHECK_FALSE(identical<double>(x, rand({50}, kFloat64, &a)));  // the stream moved on
  a.manual_seed(123);
  CHECK(identical<double>(x, rand({50}, kFloat64, &a)));
  CHECK(a.initial_seed() == 123);

  manual_seed(9);
  const Tensor n1 = randn({3, 7}, kFloat64);
  const Tensor i1 = randint(-5, 5, {20});
  const Tensor p1 = randperm(12);
  manual_seed(9);
  CHECK(identical<double>(n1, randn({3, 7}, kFloat64)));
  CHECK(identical<std::int64_t>(i1, randint(-5, 5, {20})));
  CHECK(identical<std::int64_t>(p1, randperm(12)));
  Generator explicit_gen(9);
  CHECK(identical<double>(n1, randn({3, 7}, kFloat64, &explicit_gen)));
}

TEST_CASE("random: default generators are per thread") {
  // A fresh thread starts from kDefaultSeed, whatever other threads did.
  manual_seed(77);
  Tensor fresh;
  std::thread([&] { fresh = rand({8}, kFloat64); }).join();
  Generator reference(kDefaultSeed);
  CHECK(identical<double>(fresh, rand({8}, kFloat64, &reference)));

  // Two threads seeding and drawing concurrently each get exactly their own seed's stream, and
  // the main thread's stream is untouched by them.
  manual_seed(5);
  const Tensor main_first = rand({4}, kFloat64);
  Tensor from_1, from_2;
  std::thread t1([&] {
    manual_seed(1);
    from_1 = rand({10000}, kFloat64);
  });
  std::thread t2([&] {
    manual_seed(2);
    from_2 = rand({10000}, kFloat64);
  });
  t1.join();
  t2.join();
  Generator g1(1), g2(2), g5(5);
  CHECK(identical<double>(from_1, rand({10000}, kFloat64, &g1)));
  CHECK(identical<double>(from_2, rand({10000}, kFloat64, &g2)));
  CHECK(identical<double>(main_first, rand({4}, kFloat64, &g5)));
  CHECK(identical<double>(rand({4}, kFloat64), rand({4}, kFloat64, &g5)));
}

TEST_CASE("random: moments of rand, randn, uniform and normal on 1e5 samples") {
  // Tolerances: 5 standard errors of the sample mean and of the sample variance.
  const double n = 1e5;
  Generator gen(2024);
  for (DType dtype : {kFloat64, kFloat32}) {
    INFO("dtype " << to_string(dtype));
    const auto [u_mean, u_var] = moments(rand({100000}, dtype, &gen));
    CHECK(std::abs(u_mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    CHECK(std::abs(u_var - 1.0 / 12) < 5 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));

    const auto [z_mean, z_var] = moments(randn({100, 1000}, dtype, &gen));
    CHECK(std::abs(z_mean) < 5 * std::sqrt(1.0 / n));
    CHECK(std::abs(z_var - 1.0) < 5 * std::sqrt(2.0 / n));

    const auto [a_mean, a_var] = moments(uniform({100000}, -2, 3, dtype, &gen));
    CHECK(std::abs(a_mean - 0.5) < 5 * std::sqrt(25.0 / 12 / n));
    CHECK(std::abs(a_var - 25.0 / 12) < 5 * 25 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));

    const auto [g_mean, g_var] = moments(normal({100000}, 1.0, 2.0, dtype, &gen));
    CHECK(std::abs(g_mean - 1.0) < 5 * std::sqrt(4.0 / n));
    CHECK(std::abs(g_var - 4.0) < 5 * 4 * std::sqrt(2.0 / n));
  }
  const Tensor u = rand({100000}, kFloat32, &gen);
  CHECK(xt::amin(u.value<float>())() >= 0.0f);
  CHECK(xt::amax(u.value<float>())() < 1.0f);
}

TEST_CASE("random: randint covers low..high-1 evenly; randperm is a permutation") {
  Generator gen(11);
  const Tensor r = randint(-3, 4, {70000}, &gen);
  CHECK(r.dtype() == kInt64);
  std::vector<int> counts(7, 0);
  for (std::int64_t v : r.value<std::int64_t>()) {
    REQUIRE(v >= -3);
    REQUIRE(v < 4);
    ++counts[static_cast<std::size_t>(v + 3)];
  }
  // Each count is Binomial(70000, 1/7): mean 10000, sd about 92.6; allow 5 sd.
  for (int c : counts) CHECK(std::abs(c - 10000) < 463);

  // The full int64 span and the single-value range are both legal.
  CHECK(randint(INT64_MIN, INT64_MAX, {5}, &gen).shape() == Shape{5});
  CHECK((randint(7, 8, {3}, &gen).value<std::int64_t>() == xt::xarray<std::int64_t>{7, 7, 7}));

  const Tensor p = randperm(1000, &gen);
  std::vector<std::int64_t> sorted(p.value<std::int64_t>().begin(), p.value<std::int64_t>().end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == static_cast<std::int64_t>(i));
  CHECK((p.value<std::int64_t>() != xt::arange<std::int64_t>(1000)));
  CHECK(randperm(0, &gen).shape() == Shape{0});
}

TEST_CASE("random: dtype and requires_grad follow the options") {
  Generator gen;
  CHECK(rand({2}, {}, &gen).dtype() == default_dtype());
  const Tensor w = randn({3, 2}, TensorOptions(kFloat64).requires_grad(), &gen);
  CHECK(w.dtype() == kFloat64);
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  CHECK(uniform({2}, 0, 1, TensorOptions().requires_grad(), &gen).requires_grad());
  CHECK(rand({0, 3}, kFloat64, &gen).shape() == Shape{0, 3});
}

TEST_CASE("random: bad arguments name the op and the values") {
  CHECK_THROWS_WITH(randint(5, 5, {2}),
                    Catch::Contains("randint") && Catch::Contains("low (5)") &&
                        Catch::Contains("high (5)"));
  CHECK_THROWS_WITH(randint(6, 2, {2}), Catch::Contains("low (6)") && Catch::Contains("high (2)"));
  CHECK_THROWS_WITH(rand({2}, kInt64), Catch::Contains("rand") && Catch::Contains("int64"));
  CHECK_THROWS_WITH(randn({2}, kBool), Catch::Contains("randn") && Catch::Contains("bool"));
  CHECK_THROWS_WITH(uniform({2}, 1, 0), Catch::Contains("uniform") && Catch::Contains("low = 1") &&
                                            Catch::Contains("high = 0"));
  CHECK_THROWS_WITH(uniform({2}, 0, INFINITY), Catch::Contains("uniform"));
  CHECK_THROWS_WITH(normal({2}, 0, -1), Catch::Contains("normal") && Catch::Contains("std = -1"));
  CHECK_THROWS_WITH(randperm(-1), Catch::Contains("randperm") && Catch::Contains("-1"));
}
