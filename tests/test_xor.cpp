// The xor example: autograd training (examples/xor_train.hpp) against an independent float64 loop
// with the tutorial's hand-written deltas, and the Python/NumPy-style printing it uses.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xmath.hpp>

#include "../examples/python_print.hpp"
#include "../examples/xor_train.hpp"
#include "python.hpp"
#include "tapegrad/xtensor.hpp"

namespace {

using Matrix = xt::xarray<double>;

Matrix dot(const Matrix& a, const Matrix& b) {
  const std::size_t n = a.shape(0), k = a.shape(1), m = b.shape(1);
  Matrix r = xt::zeros<double>({n, m});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t j = 0; j < m; ++j) r(i, j) += a(i, p) * b(p, j);
  return r;
}

Matrix sigmoid(const Matrix& x) { return 1.0 / (1.0 + xt::exp(-x)); }
Matrix sigmoid_output_to_derivative(const Matrix& output) { return output * (1.0 - output); }

struct HandRun {
  std::vector<double> errors;  // at j = 0, 10000, ...
  Matrix synapse_0, synapse_1;
};

/// The NumPy tutorial's loop, transcribed line by line.
HandRun train_by_hand(double alpha, std::size_t hidden, std::size_t iterations) {
  const Matrix X = {{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}};
  const Matrix y = [] { Matrix column = {0, 1, 1, 0}; column.reshape({4, 1}); return column; }();
  tg::NumpyRandomState numpy(1);
  Matrix synapse_0 = 2.0 * numpy.random({3, hidden}).value<double>() - 1.0;
  Matrix synapse_1 = 2.0 * numpy.random({hidden, 1}).value<double>() - 1.0;
  HandRun run;
  for (std::size_t j = 0; j < iterations; ++j) {
    const Matrix& layer_0 = X;
    const Matrix layer_1 = sigmoid(dot(layer_0, synapse_0));
    const Matrix layer_2 = sigmoid(dot(layer_1, synapse_1));
    const Matrix layer_2_error = layer_2 - y;
    if (j % 10000 == 0) run.errors.push_back(xt::mean(xt::abs(layer_2_error))());
    const Matrix layer_2_delta = layer_2_error * sigmoid_output_to_derivative(layer_2);
    const Matrix layer_1_error = dot(layer_2_delta, xt::transpose(synapse_1));
    const Matrix layer_1_delta = layer_1_error * sigmoid_output_to_derivative(layer_1);
    synapse_1 -= alpha * dot(xt::transpose(layer_1), layer_2_delta);
    synapse_0 -= alpha * dot(xt::transpose(layer_0), layer_1_delta);
  }
  run.synapse_0 = synapse_0;
  run.synapse_1 = synapse_1;
  return run;
}

double relative_difference(double a, double b) { return std::abs(a - b) / std::abs(b); }

double max_relative_difference(const Matrix& a, const Matrix& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, relative_difference(a.data()[i], b.data()[i]));
  return worst;
}

}  // namespace

TEST_CASE("xor example: autograd training matches the tutorial's hand-written deltas") {
  struct Setting { double alpha; std::size_t hidden; std::size_t iterations; };
  for (const Setting s : {Setting{1, 4, 20001}, Setting{10, 4, 20001}, Setting{0.1, 32, 10001}}) {
    INFO("alpha " << s.alpha << ", hidden " << s.hidden << ", " << s.iterations << " iterations");
    const HandRun expected = train_by_hand(s.alpha, s.hidden, s.iterations);
    std::vector<std::size_t> checkpoints;
    std::vector<double> errors;
    const examples::Synapses trained =
        examples::train_xor(s.alpha, s.hidden, s.iterations, [&](std::size_t j, double error) {
          checkpoints.push_back(j);
          errors.push_back(error);
        });
    REQUIRE(errors.size() == expected.errors.size());
    for (std::size_t i = 0; i < errors.size(); ++i) {
      CHECK(checkpoints[i] == 10000 * i);
      CHECK(relative_difference(errors[i], expected.errors[i]) < 1e-12);
    }
    // The weights themselves: the two computations round differently, nothing more.
    CHECK(max_relative_difference(trained.synapse_0.value<double>(), expected.synapse_0) < 1e-10);
    CHECK(max_relative_difference(trained.synapse_1.value<double>(), expected.synapse_1) < 1e-10);
  }
}

TEST_CASE("xor example: prints the tutorial's published errors to their 12 significant digits") {
  // The errors the tutorial prints (iamtrask.github.io, "A Neural Network in 11 Lines of Python,
  // part 2", 2015: Python 2, whose str() of a float keeps 12 significant digits). The digits
  // beyond the 12th depend on the BLAS kernels (each sums a dot product in its own order), those
  // up to the 12th do not, on any x86-64 CPU and kernels, except with alpha 100: its steps are
  // too large, and the unstable run carries the kernels' roundings into the 11th digit (Prescott
  // prints 0.125476983855 after 10,000 iterations, SkylakeX 0.125476983853), so it is checked to 10.
  const struct { double alpha; const char* printed[6];
  } tutorial[] = {
      {0.001,
       {"0.496410031903", "0.495164025493", "0.493596043188", "0.491606358559", "0.489100166544", "0.485977857846"}},
      {0.01,
       {"0.496410031903", "0.457431074442", "0.359097202563", "0.239358137159", "0.143070659013", "0.0985964298089"}},
      {0.1,
       {"0.496410031903", "0.0428880170001", "0.0240989942285", "0.0181106521468", "0.0149876162722",
        "0.0130144905381"}},
      {1,
       {"0.496410031903", "0.00858452565325", "0.00578945986251", "0.00462917677677", "0.00395876528027",
        "0.00351012256786"}},
      {10,
       {"0.496410031903", "0.00312938876301", "0.00214459557985", "0.00172397549956", "0.00147821451229",
        "0.00131274062834"}},
      {100,
       {"0.496410031903", "0.125476983855", "0.125330333528", "0.125267728765", "0.12523107366", "0.125206352756"}},
      {1000, {"0.496410031903", "0.5", "0.5", "0.5", "0.5", "0.5"}}};
  for (const auto& run : tutorial) {
    const int digits = run.alpha == 100 ? 10 : 12;
    const auto significant = [digits](double value) {
      char text[32];
      std::snprintf(text, sizeof text, "%.*g", digits, value);  // with 12, Python 2's str(float)
      return std::string(text);
    };
    std::vector<double> errors;
    examples::train_xor(run.alpha, 4, 60000, [&](std::size_t, double error) { errors.push_back(error); });
    REQUIRE(errors.size() == 6);
    for (std::size_t i = 0; i < errors.size(); ++i) {
      INFO("alpha " << run.alpha << ", after " << 10000 * i << " iterations: printed "
                    << examples::python_float_repr(errors[i]) << ", the tutorial " << run.printed[i]);
      CHECK(significant(errors[i]) == significant(std::stod(run.printed[i])));
    }
  }
}

TEST_CASE("xor example: prints what the NumPy program prints, character for character, on the same BLAS kernel") {
  // examples/xor_numpy.py is the tutorial in Python 3. Run on this machine with the kernels
  // tapegrad's products use and libm's exp (NumPy 1.24's own AVX-512 exp rounds differently), it
  // must print exactly what examples/xor.cpp prints. 20,001 iterations (three error lines per
  // alpha) keep the NumPy run to a few seconds.
  const std::string py = tg::testing::python_with_numpy();
  if (py.empty()) {
    WARN("SKIPPED: no python3 with numpy found (set TAPEGRAD_PYTHON)");
    return;
  }
  constexpr std::size_t kIterations = 20001;
  const std::string kernels = tg::blas_info().core;
  const tg::testing::CommandOutput numpy = tg::testing::run_command(
      "OPENBLAS_CORETYPE=" + kernels +
      " OPENBLAS_NUM_THREADS=1 NPY_DISABLE_CPU_FEATURES='AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL "
      "AVX512_ICL' " + py + " " + TAPEGRAD_SOURCE_DIR "/examples/xor_numpy.py --iterations " +
      std::to_string(kIterations) + " 2>/dev/null");
  REQUIRE(numpy.status == 0);
  std::ostringstream ours;
  examples::print_alpha_sweep(ours, 4, kIterations);
  // The first line that differs, for the failure message.
  std::istringstream a(ours.str()), b(numpy.out);
  std::string line_a, line_b;
  std::size_t line = 0;
  while (std::getline(a, line_a) && std::getline(b, line_b) && line_a == line_b) ++line;
  INFO("kernels " << kernels << "; first difference on line " << line + 1 << ": tapegrad '" << line_a
                  << "', NumPy '" << line_b << "'");
  CHECK(ours.str() == numpy.out);
}

TEST_CASE("python_float_repr prints doubles as Python's repr does") {
  using examples::python_float_repr;
  // Right-hand sides are Python 3.11's repr() of the same literals.
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(0.000123) == "0.000123");
  CHECK(python_float_repr(2.5e-05) == "2.5e-05");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1234567890123456.0) == "1234567890123456.0");
  CHECK(python_float_repr(123.0) == "123.0");
  CHECK(python_float_repr(100.0) == "100.0");
  CHECK(python_float_repr(-1.5e+20) == "-1.5e+20");
  CHECK(python_float_repr(1e22) == "1e+22");
  CHECK(python_float_repr(0.0) == "0.0");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(1.7976931348623157e+308) == "1.7976931348623157e+308");
  CHECK(python_float_repr(1.0 / 3.0) == "0.3333333333333333");
  CHECK(python_float_repr(0.4964100319027255) == "0.4964100319027255");
  CHECK(python_float_repr(INFINITY) == "inf");
  CHECK(python_float_repr(-INFINITY) == "-inf");
  CHECK(python_float_repr(NAN) == "nan");
}

TEST_CASE("numpy_str prints small matrices as NumPy's str does") {
  using examples::numpy_str;
  // Right-hand sides are NumPy 1.24's str() of the same arrays.
  CHECK(numpy_str(Matrix{{1.5, -2.25}, {3.0, 0.125}}) == "[[ 1.5   -2.25 ]\n [ 3.     0.125]]");
  CHECK(numpy_str(Matrix{{1.0, 2.0}}) == "[[1. 2.]]");
  CHECK(numpy_str(Matrix{{0.5, 0.00001}}) == "[[5.e-01 1.e-05]]");
  CHECK(numpy_str(Matrix{{1e-3, 2.5, 1000.0}}) == "[[1.0e-03 2.5e+00 1.0e+03]]");
}
