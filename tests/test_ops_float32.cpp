// float32 agrees with float64 to float32 precision: a representative op of every family runs in
// both dtypes on identical inputs (float64 values rounded to float32 first), and the outputs and
// vector-Jacobian products are compared with the float32 tolerance of op_check.hpp.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>

#include "op_check.hpp"
#include "tapegrad/xtensor.hpp"
#include "vector_math.hpp"

using namespace tg;
using namespace tg::testing;

namespace {

using Inputs = std::vector<Tensor>;

struct DtypeCase {
  std::string name;
  OpFunction f;
  std::vector<Tensor> inputs;  // float64 leaves (requires_grad) or int64/bool constants
};

/// Runs f in dtype d on copies of the inputs; returns the output and the VJPs for upstream w.
std::vector<Tensor> run(const DtypeCase& c, DType d, const Tensor& upstream64) {
  Inputs in, wrt;
  for (const Tensor& t : c.inputs) {
    if (!t.is_floating_point()) {
      in.push_back(t);
      continue;
    }
    Tensor copy = t.detach().to(d);
    copy.requires_grad_();
    in.push_back(copy);
    wrt.push_back(copy);
  }
  const Tensor out = c.f(in);
  std::vector<Tensor> results{out};
  for (const Tensor& g : tg::grad({out}, wrt, {upstream64.to(d)})) results.push_back(g);
  return results;
}

/// A float64 leaf whose values are exactly representable in float32.
Tensor f32_exact(const Shape& shape, double lo, double hi, std::uint64_t seed) {
  return random_leaf(shape, lo, hi, seed).detach().to(kFloat32).to(kFloat64).requires_grad_();
}

}  // namespace

TEST_CASE("float32 results agree with float64 to float32 precision") {
  std::uint64_t s = 100;
  auto x = [&](const Shape& shape, double lo = -2, double hi = 2) { return f32_exact(shape, lo, hi, s++); };
  const Tensor idx = indices({2, 0, 2, 1});
  const Tensor gidx = indices({{0, 2, 2}, {1, 0, 1}});
  const Tensor cond = Tensor(xt::xarray<bool>{true, false, false, true});
  const std::vector<DtypeCase> cases = {
      {"add (3,4)+(4)", [](const Inputs& v) { return v[0] + v[1]; }, {x({3, 4}), x({4})}},
      {"mul (2,3,4)*(3,1)", [](const Inputs& v) { return v[0] * v[1]; }, {x({2, 3, 4}), x({3, 1})}},
      {"div", [](const Inputs& v) { return v[0] / v[1]; }, {x({3, 4}), x({3, 4}, 0.5, 2)}},
      {"scalar ops", [](const Inputs& v) { return 3.0 / v[0] - 2.0 * v[0] + 0.5; }, {x({3, 4}, 0.5, 2)}},
      {"pow scalar", [](const Inputs& v) { return pow(v[0], 2.5); }, {x({3, 4}, 0.2, 2)}},
      {"pow tensor", [](const Inputs& v) { return pow(v[0], v[1]); }, {x({3, 4}, 0.2, 2), x({4})}},
      {"exp", [](const Inputs& v) { return exp(v[0]); }, {x({3, 4})}},
      {"log", [](const Inputs& v) { return log(v[0]); }, {x({3, 4}, 0.1, 3)}},
      {"sqrt", [](const Inputs& v) { return sqrt(v[0]); }, {x({3, 4}, 0.1, 3)}},
      {"sin cos", [](const Inputs& v) { return sin(v[0]) * cos(v[0]); }, {x({3, 4})}},
      {"tanh", [](const Inputs& v) { return tanh(v[0]); }, {x({3, 4})}},
      {"erf", [](const Inputs& v) { return erf(v[0]); }, {x({3, 4})}},
      {"sigmoid", [](const Inputs& v) { return sigmoid(v[0]); }, {x({3, 4}, -8, 8)}},
      {"sigmoid 1000", [](const Inputs& v) { return sigmoid(v[0]); }, {x({3, 4}, -1000, 1000)}},
      {"relu, leaky_relu, elu",
       [](const Inputs& v) { return relu(v[0]) + leaky_relu(v[0], 0.1) + elu(v[0]); },
       {x({3, 4})}},
      {"softplus", [](const Inputs& v) { return softplus(v[0]); }, {x({3, 4}, -5, 5)}},
      {"softplus 1000", [](const Inputs& v) { return softplus(v[0], 1.0, 1e9); }, {x({3, 4}, -1000, 1000)}},
      {"gelu", [](const Inputs& v) { return gelu(v[0]); }, {x({3, 4}, -3, 3)}},
      {"gelu tanh", [](const Inputs& v) { return gelu(v[0], "tanh"); }, {x({3, 4}, -3, 3)}},
      {"clamp, maximum, where",
       [cond](const Inputs& v) { return where(cond, clamp(v[0], -0.5, 0.5), maximum(v[0], v[1])); },
       {x({3, 4}), x({4})}},
      {"sum axes",
       [](const Inputs& v) {
         return sum(v[0], {0, 2});
       },
       {x({2, 3, 4})}},
      {"mean keepdim", [](const Inputs& v) { return mean(v[0], {-1}, true); }, {x({2, 3, 4})}},
      {"prod", [](const Inputs& v) { return prod(v[0], {1}); }, {x({3, 4}, 0.5, 1.5)}},
      {"var, std", [](const Inputs& v) { return var(v[0], {1}) + tg::std(v[0], {1}, false); }, {x({3, 4})}},
      {"max, min", [](const Inputs& v) { return max(v[0], 1) - min(v[0], 0, false).values().sum(); }, {x({3, 4})}},
      {"logsumexp", [](const Inputs& v) { return logsumexp(v[0], {1}); }, {x({3, 4}, -5, 5)}},
      {"logsumexp 1000", [](const Inputs& v) { return logsumexp(v[0], {1}); }, {x({3, 4}, 995, 1005)}},
      {"softmax", [](const Inputs& v) { return softmax(v[0], 1); }, {x({3, 4}, -5, 5)}},
      {"softmax -1000", [](const Inputs& v) { return softmax(v[0], -1); }, {x({3, 4}, -1005, -995)}},
      {"log_softmax 1000", [](const Inputs& v) { return log_softmax(v[0], 0); }, {x({3, 4}, 995, 1005)}},
      {"matmul", [](const Inputs& v) { return matmul(v[0], v[1]); }, {x({3, 4}), x({4, 5})}},
      {"matmul batched 4-D", [](const Inputs& v) { return matmul(v[0], v[1]); }, {x({2, 1, 3, 4}), x({3, 4, 2})}},
      {"matmul vector", [](const Inputs& v) { return matmul(v[0], v[1]); }, {x({4}), x({2, 4, 3})}},
      {"mm transposed", [](const Inputs& v) { return mm(v[0], v[1], true, true); }, {x({4, 3}), x({2, 4})}},
      {"linear", [](const Inputs& v) { return linear(v[0], v[1], v[2]); }, {x({5, 3}), x({4, 3}), x({4})}},
      {"permute, reshape",
       [](const Inputs& v) {
         return reshape(permute(v[0], {2, 0, 1}), {4, -1});
       },
       {x({2, 3, 4})}},
      {"slice, select, cat",
       [](const Inputs& v) {
         return cat({slice(v[0], 0, 1, std::nullopt, 2), select(v[1], 0, -1).unsqueeze(0)});
       },
       {x({5, 4}), x({3, 4})}},
      {"index_select", [idx](const Inputs& v) { return index_select(v[0], 0, idx); }, {x({3, 4})}},
      {"gather", [gidx](const Inputs& v) { return gather(v[0], 1, gidx); }, {x({2, 4})}},
      {"expand, stack",
       [](const Inputs& v) {
         return stack({expand(v[0], {3, 4}), v[1]}, 1);
       },
       {x({3, 1}), x({3, 4})}},
      {"soft cross-entropy 1000",
       [](const Inputs& v) { return -sum(softmax(v[1], 1) * log_softmax(v[0], 1)); },
       {x({3, 4}, -1000, 1000), x({3, 4})}},
  };
  double worst = 0;
  std::string worst_case;
  for (const DtypeCase& c : cases) {
    INFO(c.name);
    const Tensor probe = c.f(c.inputs);
    const Tensor upstream = random_leaf(probe.shape(), -1, 1, s++).detach();
    const auto r64 = run(c, kFloat64, upstream), r32 = run(c, kFloat32, upstream);
    REQUIRE(r64.size() == r32.size());
    for (std::size_t i = 0; i < r64.size(); ++i) {
      const std::string label = c.name + (i == 0 ? " output" : " grad " + std::to_string(i - 1));
      CHECK(all_finite(r32[i]));
      check_float32_matches(label, r32[i], r64[i]);
      // Track the worst error as a fraction of the tolerance, for the report.
      const xt::xarray<double> a = r32[i].to_double(), b = r64[i].to_double();
      double scale = 0;
      for (double v : b) scale = std::max(scale, std::abs(v));
      for (std::size_t k = 0; k < a.size(); ++k) {
        const double tol = kFloat32Rtol * (std::abs(b.data()[k]) + scale) + std::numeric_limits<float>::min();
        const double ratio = std::abs(a.data()[k] - b.data()[k]) / tol;
        if (ratio > worst) worst = ratio, worst_case = label;
      }
    }
  }
  std::cout << "float32 vs float64: " << cases.size() << " ops, worst error " << worst << " of the tolerance "
            << kFloat32Rtol << " (|f64| + max|f64|) (" << worst_case << ")\n";
}

TEST_CASE("float32 and float64 never mix silently") {
  const Tensor a = zeros({2, 3}), b = zeros({2, 3}, kFloat64);
  CHECK_THROWS_WITH(a + b, "add: dtype mismatch, float32(2,3) and float64(2,3) (convert one with .to())");
  CHECK_THROWS_WITH(matmul(a, b.t()), Catch::StartsWith("matmul: dtype mismatch"));
  CHECK_THROWS_WITH(linear(b, a), Catch::StartsWith("linear: dtype mismatch"));
  CHECK_THROWS_WITH(cat({a, b}), Catch::StartsWith("cat: tensor 1 has float64(2,3) but tensor 0 has float32(2,3)"));
  CHECK_THROWS_WITH(where(zeros({2, 3}, kBool), a, b), Catch::StartsWith("where: dtype mismatch"));
  // Explicit conversion is differentiable both ways.
  Tensor x = random_leaf({3}, -1, 1);
  CHECK(tg::grad({sum(x.to(kFloat32) * 2.0)}, {x})[0].dtype() == kFloat64);
}

namespace {
/// Distance in units in the last place between two finite floats of one sign.
long ulps_apart(float a, float b) {
  std::int32_t ia = 0, ib = 0;
  std::memcpy(&ia, &a, sizeof ia);
  std::memcpy(&ib, &b, sizeof ib);
  return std::labs(static_cast<long>(ia) - static_cast<long>(ib));
}

Tensor float32_vector(const std::vector<float>& values) {
  auto a = xt::xarray<float>::from_shape({values.size()});
  std::copy(values.begin(), values.end(), a.data());
  return Tensor(std::move(a));
}

float float_with_bits(std::uint32_t bits) {
  float v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

/// How many of y = op(x) are more than 1 ulp from the float64 function f of x rounded to float,
/// or are not NaN where that is, or not the same infinity.
std::size_t further_than_1_ulp(const std::vector<float>& x, const Tensor& y, double (*f)(double)) {
  const auto& got = y.value<float>();
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float expected = static_cast<float>(f(static_cast<double>(x[i])));
    if (std::isnan(expected))
      wrong += !std::isnan(got(i));
    else if (std::isinf(expected))
      wrong += got(i) != expected;
    else
      wrong += ulps_apart(got(i), expected) > 1;
  }
  return wrong;
}
}  // namespace

TEST_CASE("float32 tanh, exp and sigmoid (vectorised) are within 3 ulp of float64, at any length") {
  // Lengths 1..17 cover the four- and eight-lane bodies and every tail; the values sweep the
  // interesting range.
  std::size_t checked = 0;
  for (std::size_t n = 1; n <= 17; ++n) {
    std::vector<float> values(n * 257);
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = -20.0f + 40.0f * static_cast<float>(i) / static_cast<float>(values.size());
    const Tensor x = float32_vector(values);
    const Tensor tanh_x = tanh(x), exp_x = exp(x), sigmoid_x = sigmoid(x);
    const auto& t = tanh_x.value<float>();
    const auto& e = exp_x.value<float>();
    const auto& s = sigmoid_x.value<float>();
    for (std::size_t i = 0; i < values.size(); ++i, ++checked) {
      const double v = values[i];
      INFO("x = " << v);
      CHECK(ulps_apart(t(i), static_cast<float>(std::tanh(v))) <= 3);
      CHECK(ulps_apart(e(i), static_cast<float>(std::exp(v))) <= 3);
      CHECK(ulps_apart(s(i), static_cast<float>(1 / (1 + std::exp(-v)))) <= 3);
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor special = float32_vector({-inf, inf, -1000.0f, 1000.0f, 0.0f, std::nanf("")});
  const Tensor tanh_x = tanh(special), exp_x = exp(special), sigmoid_x = sigmoid(special);
  const auto& t = tanh_x.value<float>();
  const auto& e = exp_x.value<float>();
  const auto& s = sigmoid_x.value<float>();
  CHECK(t(0) == -1.0f);
  CHECK(t(1) == 1.0f);
  CHECK(e(0) == 0.0f);
  CHECK(e(1) == inf);
  CHECK(s(2) == 0.0f);  // exp(1000) overflows to inf: exactly 0, never NaN
  CHECK(s(3) == 1.0f);
  CHECK(t(4) == 0.0f);
  CHECK(e(4) == 1.0f);
  CHECK(std::isnan(t(5)));
  CHECK(std::isnan(e(5)));
  CHECK(std::isnan(s(5)));
  std::cout << "float32 tanh/exp/sigmoid: " << checked << " values within 3 ulp of float64\n";
}

TEST_CASE("float32 exp is within 1 ulp of the float64 exp over the whole float range") {
  // Every 4099th bit pattern of all floats (both signs: overflow to inf, underflow through the
  // subnormals to 0), with a NaN every 29 values.
  std::vector<float> values;
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += 4099) {
    values.push_back(float_with_bits(static_cast<std::uint32_t>(bits)));
    if (values.size() % 29 == 0) values.push_back(std::nanf(""));
  }
  CHECK(further_than_1_ulp(values, exp(float32_vector(values)), [](double v) { return std::exp(v); }) == 0);
  std::cout << "float32 exp: " << values.size() << " values within 1 ulp of float64\n";
}

TEST_CASE("float32 log is within 1 ulp of the float64 log over the whole float range, specials as libm") {
  // Every 4099th bit pattern of the positive floats (subnormals, normals, inf), with a NaN, a zero
  // or a negative number every 29 values, so that eight-lane blocks with and without special
  // values both occur (the kernel takes a slower path for the former).
  std::vector<float> values;
  for (std::uint32_t bits = 1; bits < 0x7f800000u; bits += 4099) {
    values.push_back(float_with_bits(bits));
    if (values.size() % 29 == 0) values.push_back(std::array<float, 4>{0.0f, -0.0f, -2.5f, std::nanf("")}[bits % 4]);
  }
  CHECK(further_than_1_ulp(values, log(float32_vector(values)), [](double v) { return std::log(v); }) == 0);
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor log_special = log(float32_vector(
      {0.0f, -0.0f, -1.0f, -inf, inf, std::nanf(""), 1.0f, 0x1p-149f, 0x1p-126f, std::numeric_limits<float>::max()}));
  const auto& s = log_special.value<float>();
  CHECK(s(0) == -inf);
  CHECK(s(1) == -inf);
  CHECK(std::isnan(s(2)));
  CHECK(std::isnan(s(3)));
  CHECK(s(4) == inf);
  CHECK(std::isnan(s(5)));
  CHECK(s(6) == 0.0f);
  CHECK_FALSE(std::signbit(s(6)));
  CHECK(s(7) == static_cast<float>(std::log(0x1p-149)));  // the smallest subnormal
  CHECK(s(8) == static_cast<float>(std::log(0x1p-126)));
  CHECK(s(9) == static_cast<float>(std::log(static_cast<double>(std::numeric_limits<float>::max()))));
  std::cout << "float32 log: " << values.size() << " values within 1 ulp of float64\n";
}

TEST_CASE("float32 tanh, exp, sigmoid and log give a value the same bits wherever it sits in the array") {
  // The vector kernels take whole groups of lanes and pad the tail: an element of the body and
  // the same value alone (in a padded tail) must go through the same function.
  std::vector<float> values(203);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = -9.0f + 18.0f * static_cast<float>(i * 37 % values.size()) / static_cast<float>(values.size());
  const Tensor x = float32_vector(values);
  const Tensor tanh_x = tanh(x), exp_x = exp(x), sigmoid_x = sigmoid(x), log_x = log(abs(x));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const Tensor alone = float32_vector({values[i]});
    INFO("x = " << values[i] << " at " << i);
    CHECK(tanh(alone).value<float>()(0) == tanh_x.value<float>()(i));
    CHECK(exp(alone).value<float>()(0) == exp_x.value<float>()(i));
    CHECK(sigmoid(alone).value<float>()(0) == sigmoid_x.value<float>()(i));
    // log: eight lanes (AVX) in the body, four (SSE2) in the tail and next to special values.
    CHECK(log(abs(alone)).value<float>()(0) == log_x.value<float>()(i));
    CHECK(log(float32_vector({std::abs(values[i]), -1.0f})).value<float>()(0) == log_x.value<float>()(i));
  }
}

TEST_CASE(
    "float32 exp shifted in the same pass, summed in it, and the vector divide give the bits of the separate steps") {
  // softmax's passes: exp(x - m) with the difference rounded first, then x / sum; eight lanes in
  // the body, four or one in the tail, at every length up to a few vectors. The NaN's sums are NaN
  // (with the same bits both ways).
  std::vector<float> values(45);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = -30.0f + 33.0f * static_cast<float>(i * 17 % values.size()) / static_cast<float>(values.size());
  values[3] = -std::numeric_limits<float>::infinity();
  values[11] = std::numeric_limits<float>::quiet_NaN();
  for (const float shift : {0.0f, 2.5f, -7.25f, 88.5f}) {
    for (std::size_t n = 1; n <= values.size(); ++n) {
      INFO("shift " << shift << ", n " << n);
      std::vector<float> shifted(n), fused(n), divided(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n));
      for (std::size_t i = 0; i < n; ++i) shifted[i] = values[i] - shift;
      detail::exp_f32(shifted.data(), shifted.data(), n);
      detail::exp_shifted_f32(values.data(), shift, fused.data(), n);
      detail::divide_f32(divided.data(), n, 3.0f + shift);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < n; ++i) {
        differ += std::memcmp(&shifted[i], &fused[i], sizeof(float)) != 0;
        const float quotient = values[i] / (3.0f + shift);
        differ += std::memcmp(&quotient, &divided[i], sizeof(float)) != 0;
      }
      CHECK(differ == 0);
    }
  }
  // The middle-axis form: rows of `width`, each shifted by one row of shifts and summed into one
  // row of sums in row order; against exp_f32 of each difference and a plain running sum.
  for (const std::size_t width : {1, 3, 8, 13, 20}) {
    const std::size_t rows = values.size() / width, n = rows * width;
    INFO("width " << width);
    std::vector<float> shifts(width), fused(n), sums(width, 0.5f), expected_sums(width, 0.5f);
    for (std::size_t c = 0; c < width; ++c) shifts[c] = -3.0f + 0.75f * static_cast<float>(c);
    detail::exp_minus_f32(values.data(), shifts.data(), width, fused.data(), n, sums.data());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < n; ++i) {
      float e = values[i] - shifts[i % width];
      detail::exp_f32(&e, &e, 1);
      differ += std::memcmp(&e, &fused[i], sizeof(float)) != 0;
      expected_sums[i % width] += e;
    }
    for (std::size_t c = 0; c < width; ++c) differ += std::memcmp(&sums[c], &expected_sums[c], sizeof(float)) != 0;
    CHECK(differ == 0);
  }
}
