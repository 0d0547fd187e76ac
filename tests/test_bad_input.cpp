// The bad-input matrix: one TEST_CASE per kind of wrong input a user can hand tapegrad. Each
// asserts that the call throws tg::Error (not an xtensor or standard-library exception, not a
// crash) and that the message starts with the op (or reader) that refused the input and names the
// offending shapes, values or file. The per-op test files check more cases of each op; this file
// is the one place to read what every family of ops does with bad input.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"
#include "temp_files.hpp"

using namespace tg;
namespace F = tg::nn::functional;
namespace fs = std::filesystem;

namespace {

using tg::testing::read_bytes;
using tg::testing::TempDir;
using tg::testing::write_bytes;

/// Matches a message that starts with `op` and contains every one of `parts`.
class Mentions : public Catch::MatcherBase<std::string> {
 public:
  Mentions(std::string op, std::vector<std::string> parts) : op_(std::move(op)), parts_(std::move(parts)) {}
  bool match(const std::string& message) const override {
    if (message.rfind(op_, 0) != 0) return false;
    for (const auto& p : parts_)
      if (message.find(p) == std::string::npos) return false;
    return true;
  }
  std::string describe() const override {
    std::string d = "starts with '" + op_ + "'";
    for (const auto& p : parts_) d += " and mentions '" + p + "'";
    return d;
  }

 private:
  std::string op_;
  std::vector<std::string> parts_;
};

/// The matrix's assertion: `expr` throws tg::Error whose message starts with op and mentions
/// each further string (shapes, values, file names).
#define CHECK_BAD_INPUT(expr, op, ...)                                  \
  do {                                                                  \
    CHECK_THROWS_AS(expr, tg::Error);                                   \
    CHECK_THROWS_WITH(expr, Mentions(op, std::vector<std::string>{__VA_ARGS__})); \
  } while (0)

Tensor f64(const Shape& shape) { return zeros(shape, kFloat64); }
Tensor f32(const Shape& shape) { return zeros(shape, kFloat32); }
Tensor leaf64(const Shape& shape) { return ones(shape, TensorOptions(kFloat64).requires_grad()); }
Tensor labels(std::vector<std::int64_t> v) {
  xt::xarray<std::int64_t> a = xt::xarray<std::int64_t>::from_shape({v.size()});
  std::copy(v.begin(), v.end(), a.begin());
  return Tensor(std::move(a));
}

/// `n` bytes from a fixed-seed generator: the same "random" file on every run.
std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

}  // namespace

// ---- Shapes ------------------------------------------------------------------------------------

TEST_CASE("bad input: elementwise ops with shapes that do not broadcast", "[bad_input]") {
  const Tensor a = f64({3, 4}), b = f64({5});
  CHECK_BAD_INPUT(add(a, b), "add:", "(3,4)", "(5)", "broadcast");
  CHECK_BAD_INPUT(a - b, "sub:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(a * f64({4, 3}), "mul:", "(3,4)", "(4,3)");
  CHECK_BAD_INPUT(a / f64({2, 4}), "div:", "(3,4)", "(2,4)");
  CHECK_BAD_INPUT(pow(a, b), "pow:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(maximum(a, b), "maximum:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(minimum(a, b), "minimum:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(where(zeros({3, 4}, kBool), a, b), "where:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(where(zeros({2}, kBool), a, a), "where:", "(2)", "(3,4)");
  CHECK_BAD_INPUT(gt(a, b), "gt:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(eq(a, b), "eq:", "(3,4)", "(5)");
  CHECK_BAD_INPUT(logical_and(zeros({2}, kBool), zeros({3}, kBool)), "logical_and:", "(2)", "(3)");
  // A mismatch met in backward (an upstream gradient of the wrong shape) is refused too.
  const Tensor x = leaf64({3});
  CHECK_BAD_INPUT((x * 2.0).backward(f64({4})), "backward:", "(4)", "(3)");
}

TEST_CASE("bad input: matrix products with misaligned shapes", "[bad_input]") {
  CHECK_BAD_INPUT(matmul(f64({3, 4}), f64({5, 2})), "matmul:", "(3,4)", "(5,2)", "not aligned");
  CHECK_BAD_INPUT(matmul(f64({4}), f64({5})), "matmul:", "(4)", "(5)");
  CHECK_BAD_INPUT(matmul(f64({2, 3, 4}), f64({3, 4, 2})), "matmul:", "(2,3,4)", "(3,4,2)", "batch");
  CHECK_BAD_INPUT(matmul(f64({}), f64({2})), "matmul:", "at least one axis");
  CHECK_BAD_INPUT(mm(f64({3, 4}), f64({3, 2}), false, true), "mm:", "(3,4)", "(3,2)");
  CHECK_BAD_INPUT(mm(f64({2, 3, 4}), f64({4, 2})), "mm:", "2-D", "(2,3,4)");
  CHECK_BAD_INPUT(bmm(f64({2, 3, 4}), f64({3, 4, 2})), "bmm:", "(2,3,4)", "(3,4,2)");
  CHECK_BAD_INPUT(linear(f64({5, 3}), f64({4, 2})), "linear:", "(5,3)", "(4,2)");
  CHECK_BAD_INPUT(linear(f64({5, 3}), f64({4, 3}), f64({3})), "linear:", "bias", "(3)", "(4,3)");
  nn::Linear layer(3, 2);
  CHECK_BAD_INPUT(layer(f32({4, 5})), "Linear(in_features=3, out_features=2)", "(4,5)", "3 features");
}

TEST_CASE("bad input: reductions over an axis out of range", "[bad_input]") {
  const Tensor x = f64({3, 4});
  CHECK_BAD_INPUT(sum(x, {2}), "sum:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(mean(x, {-3}), "mean:", "axis -3", "(3,4)");
  CHECK_BAD_INPUT(prod(x, {5}), "prod:", "axis 5", "(3,4)");
  CHECK_BAD_INPUT(var(x, {2}), "var:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(tg::std(x, {2}), "var:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(logsumexp(x, {2}), "logsumexp:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(max(x, 2), "max:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(min(x, -3), "min:", "axis -3", "(3,4)");
  CHECK_BAD_INPUT(argmax(x, 7), "argmax:", "axis 7", "(3,4)");
  CHECK_BAD_INPUT(argmin(x, 2), "argmin:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(softmax(x, 2), "softmax:", "axis 2", "(3,4)");
  CHECK_BAD_INPUT(log_softmax(x, -3), "log_softmax:", "axis -3", "(3,4)");
  CHECK_BAD_INPUT(sum(x, {1, -1}), "sum:", "twice", "(3,4)");
  CHECK_BAD_INPUT(sum(f64({}), {0}), "sum:", "axis 0", "()");  // a 0-d tensor has no axes
  CHECK_BAD_INPUT(x.mean({2}), "mean:", "axis 2", "(3,4)");
}

TEST_CASE("bad input: reshape to a wrong number of elements", "[bad_input]") {
  const Tensor x = f64({2, 3});
  CHECK_BAD_INPUT(reshape(x, {4, 2}), "reshape:", "(2,3)", "6 elements", "(4,2)", "8 elements");
  CHECK_BAD_INPUT(reshape(x, {4, -1}), "reshape:", "(2,3)", "(4,-1)");
  CHECK_BAD_INPUT(reshape(x, {-1, -1}), "reshape:", "only one extent can be -1");
  CHECK_BAD_INPUT(reshape(x, {-2, 3}), "reshape:", "-2");
  CHECK_BAD_INPUT(x.view({7}), "reshape:", "(2,3)", "(7)");
  CHECK_BAD_INPUT(flatten(x, 1, 0), "flatten:", "(2,3)");
  CHECK_BAD_INPUT(expand(x, {3, 3}), "expand:", "(2,3)", "(3,3)");
}

TEST_CASE("bad input: concatenating tensors of mismatched shapes", "[bad_input]") {
  const Tensor x = f64({2, 3});
  CHECK_BAD_INPUT(cat({x, f64({2, 4})}, 0), "cat:", "tensor 1", "(2,4)", "(2,3)");
  CHECK_BAD_INPUT(cat({x, f64({2})}, 0), "cat:", "(2)", "(2,3)");
  CHECK_BAD_INPUT(cat({x, x}, 2), "cat:", "axis 2", "(2,3)");
  CHECK_BAD_INPUT(cat({}, 0), "cat:", "at least one tensor");
  CHECK_BAD_INPUT(stack({x, f64({3, 2})}), "stack:", "(3,2)", "(2,3)");
  CHECK_BAD_INPUT(stack({x}, 3), "stack:", "axis 3");
  CHECK_BAD_INPUT(stack({}, 0), "stack:", "at least one tensor");
}

TEST_CASE("bad input: slicing and indexing out of range", "[bad_input]") {
  const Tensor x = f64({2, 3});
  CHECK_BAD_INPUT(slice(x, 2, 0, 1), "slice:", "axis 2", "(2,3)");
  CHECK_BAD_INPUT(slice(x, 1, 0, 1, 0), "slice:", "step", "0");
  CHECK_BAD_INPUT(select(x, 1, 3), "select:", "index 3", "size 3", "(2,3)");
  CHECK_BAD_INPUT(select(x, 0, -3), "select:", "index -3", "(2,3)");
  CHECK_BAD_INPUT(getitem(x, {0, 1, 2}), "getitem:", "3 indices", "(2,3)");
  CHECK_BAD_INPUT(getitem(x, {0, 5}), "getitem:", "index 5", "axis 1", "(2,3)");
  CHECK_BAD_INPUT(index_select(x, 0, labels({0, 2})), "index_select:", "index 2", "(2,3)");
  CHECK_BAD_INPUT(index_select(x, 1, labels({-1})), "index_select:", "index -1", "(2,3)");
  CHECK_BAD_INPUT(index_select(x, 2, labels({0})), "index_select:", "axis 2", "(2,3)");
  CHECK_BAD_INPUT(gather(x, 1, Tensor(xt::xarray<std::int64_t>{{0, 3}})), "gather:", "index 3", "(2,3)");
  CHECK_BAD_INPUT(embedding(labels({0, 7}), f64({3, 2})), "embedding:", "index 7", "(3,2)");
  CHECK_BAD_INPUT(embedding(labels({-1}), f64({3, 2})), "embedding:", "index -1", "(3,2)");
  // Out-of-range slice *bounds* clamp as in Python (documented), so x[10:20] is empty, not an error.
  CHECK(slice(x, 0, 10, 20).shape() == Shape{0, 3});
}

// ---- Dtypes ------------------------------------------------------------------------------------

TEST_CASE("bad input: float32 mixed with float64", "[bad_input]") {
  const Tensor a = f32({2, 3}), b = f64({2, 3});
  CHECK_BAD_INPUT(a + b, "add:", "dtype mismatch", "float32(2,3)", "float64(2,3)");
  CHECK_BAD_INPUT(b * a, "mul:", "float64(2,3)", "float32(2,3)");
  CHECK_BAD_INPUT(matmul(a, b.t()), "matmul:", "dtype mismatch", "float32(2,3)", "float64(3,2)");
  CHECK_BAD_INPUT(linear(b, a), "linear:", "dtype mismatch");
  CHECK_BAD_INPUT(cat({a, b}), "cat:", "float64(2,3)", "float32(2,3)");
  CHECK_BAD_INPUT(stack({b, a}), "stack:", "float32(2,3)", "float64(2,3)");
  CHECK_BAD_INPUT(where(zeros({2, 3}, kBool), a, b), "where:", "dtype mismatch");
  CHECK_BAD_INPUT(maximum(a, b), "maximum:", "dtype mismatch");
  CHECK_BAD_INPUT(F::mse_loss(a, b), "mse_loss:", "float32", "float64");
  CHECK_BAD_INPUT(F::cross_entropy(a, labels({0, 1}), ones({3}, kFloat64)), "cross_entropy:", "weight", "float32(3)",
                  "float64(3)");
  nn::Linear layer(3, 2);  // float32 parameters
  CHECK_BAD_INPUT(layer(f64({4, 3})), "linear:", "float64(4,3)", "float32(2,3)");
  // Gradients handed in from outside must match too.
  Tensor x = ones({2}, TensorOptions(kFloat32).requires_grad());
  CHECK_BAD_INPUT(x.set_grad(f64({2})), "set_grad:", "float64(2)", "float32(2)");
  CHECK_BAD_INPUT((x * 2.0).backward(f64({2})), "backward:", "float64(2)", "float32(2)");
  // Only floating tensors take part in differentiable arithmetic.
  CHECK_BAD_INPUT(exp(labels({1, 2})), "exp:", "int64", "(2)");
}

// ---- The tape ----------------------------------------------------------------------------------

TEST_CASE("bad input: backward on a non-scalar without an upstream gradient", "[bad_input]") {
  const Tensor x = leaf64({2, 3});
  const Tensor y = x * 2.0;
  CHECK_BAD_INPUT(y.backward(), "backward:", "(2,3)", "gradient");
  CHECK_BAD_INPUT(tg::backward({y}), "backward:", "(2,3)");
  CHECK_BAD_INPUT(tg::grad({y}, {x}), "grad:", "(2,3)");
  CHECK_BAD_INPUT(tg::backward({y, y.sum()}, {f64({2, 3})}), "backward:", "2 outputs", "1 gradients");
  // The graph is intact after the refusal: with a gradient, backward works.
  y.backward(ones({2, 3}, kFloat64));
  CHECK(x.grad().value<double>()(1, 2) == 2.0);
}

TEST_CASE("bad input: backward twice through a freed graph", "[bad_input]") {
  const Tensor x = leaf64({3});
  const Tensor hidden = exp(x);
  const Tensor y = hidden.sum();
  y.backward();
  CHECK_BAD_INPUT(y.backward(), "backward:", "'sum'", "freed", "retain_graph");
  CHECK_BAD_INPUT(tg::grad({y}, {x}), "grad:", "freed");
  // A new output built on the freed intermediate fails when the sweep reaches it.
  CHECK_BAD_INPUT((hidden * 2.0).sum().backward(), "backward:", "'exp'", "freed", "(3)");
}

TEST_CASE("bad input: the gradient of a tensor that does not require grad", "[bad_input]") {
  const Tensor plain = f64({2});
  CHECK_BAD_INPUT(plain.sum().backward(), "backward:", "does not require grad");
  const Tensor w = leaf64({2});
  CHECK_BAD_INPUT(tg::grad({(plain * w).sum()}, {plain}), "grad:", "input 0", "(2)", "does not require grad");
  const Tensor unused = leaf64({4});
  CHECK_BAD_INPUT(tg::grad({w.sum()}, {unused}), "grad:", "(4)", "not used", "allow_unused");
  CHECK_BAD_INPUT(labels({1}).requires_grad_(), "requires_grad_:", "int64");
  CHECK_BAD_INPUT((w * 2.0).requires_grad_(false), "requires_grad_:", "leaves", "'mul_scalar'");
  // And a leaf that does not require grad has no gradient after someone else's backward.
  (plain * w).sum().backward();
  CHECK(!plain.grad().defined());
}

// ---- Losses and batches ------------------------------------------------------------------------

TEST_CASE("bad input: cross-entropy with a class index out of range or negative", "[bad_input]") {
  const Tensor logits = f64({2, 3});
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({0, 3})), "cross_entropy:", "target 3", "index 1", "3 classes");
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({-1, 0})), "cross_entropy:", "target -1", "index 0");
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({0, 1LL << 40})), "cross_entropy:", "target 1099511627776");
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({0, 1, 2})), "cross_entropy:", "(2,3)", "(3)");
  CHECK_BAD_INPUT(F::nll_loss(logits, labels({0, -5})), "nll_loss:", "target -5", "3 classes");
  CHECK_BAD_INPUT(F::nll_loss(logits, labels({7, 0})), "nll_loss:", "target 7", "3 classes");
  CHECK_BAD_INPUT(data::one_hot(labels({3}), 3), "one_hot:", "label 3", "3 classes");
  CHECK_BAD_INPUT(data::one_hot(labels({-2}), 3), "one_hot:", "label -2");
}

TEST_CASE("bad input: an empty batch", "[bad_input]") {
  // A mean over no samples has no answer: the losses say so instead of returning NaN.
  const Tensor logits = f64({0, 3});
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({})), "cross_entropy:", "empty batch", "(0,3)");
  CHECK_BAD_INPUT(F::cross_entropy(logits, labels({}), {}, nn::Reduction::sum), "cross_entropy:", "empty batch");
  CHECK_BAD_INPUT(F::nll_loss(logits, labels({})), "nll_loss:", "empty batch", "(0,3)");
  CHECK_BAD_INPUT(F::mse_loss(f64({0}), f64({0})), "mse_loss:", "empty batch", "(0)");
  CHECK_BAD_INPUT(F::l1_loss(f64({0, 2}), f64({0, 2})), "l1_loss:", "empty batch", "(0,2)");
  CHECK_BAD_INPUT(F::binary_cross_entropy(f64({0}), f64({0})), "binary_cross_entropy:", "empty batch");
  CHECK_BAD_INPUT(F::binary_cross_entropy_with_logits(f64({0}), f64({0})), "binary_cross_entropy_with_logits:",
                  "empty batch");
  CHECK_BAD_INPUT(F::kl_div(logits, logits, nn::Reduction::batchmean), "kl_div:", "batchmean", "non-empty");
  CHECK_BAD_INPUT(F::quadratic_cost(logits, logits), "quadratic_cost:", "non-empty");
  // Batch statistics need more than one sample (as PyTorch).
  nn::BatchNorm1d bn(3);
  CHECK_BAD_INPUT(bn(f32({0, 3})), "batch_norm:", "(0,3)");
  CHECK_BAD_INPUT(bn(f32({1, 3})), "batch_norm:", "more than 1 value", "(1,3)");
  // Layers themselves map an empty batch to an empty batch (as PyTorch); only the losses refuse.
  nn::Linear layer(3, 2);
  CHECK(layer(f32({0, 3})).shape() == Shape{0, 2});
}

TEST_CASE("bad input: zero-size tensors through every reduction", "[bad_input]") {
  const Tensor e = zeros({0, 3}, TensorOptions(kFloat64).requires_grad());
  // NumPy's answers where there is one: the empty sum is 0, the empty product 1, and softmax of
  // nothing is nothing.
  CHECK(sum(e).item() == 0.0);
  CHECK(prod(e).item() == 1.0);
  CHECK(sum(e, {0}).shape() == Shape{3});
  CHECK(softmax(e, 0).shape() == Shape{0, 3});
  CHECK(log_softmax(e, 1).shape() == Shape{0, 3});
  CHECK(tg::grad({sum(e)}, {e})[0].shape() == Shape{0, 3});
  // No answer: each raises, naming the op and the shape.
  CHECK_BAD_INPUT(mean(e), "mean:", "no elements", "(0,3)");
  CHECK_BAD_INPUT(mean(e, {0}), "mean:", "no elements");
  CHECK_BAD_INPUT(max(e), "max:", "(0,3)", "no elements");
  CHECK_BAD_INPUT(min(e), "min:", "(0,3)", "no elements");
  CHECK_BAD_INPUT(max(e, 0), "max:", "axis 0", "(0,3)", "empty");
  CHECK_BAD_INPUT(min(e, 0), "min:", "axis 0", "(0,3)", "empty");
  CHECK_BAD_INPUT(argmax(e, 0), "argmax:", "axis 0", "(0,3)");
  CHECK_BAD_INPUT(argmin(e, 0), "argmin:", "axis 0", "(0,3)");
  CHECK_BAD_INPUT(var(e), "var:", "no elements", "(0,3)");
  CHECK_BAD_INPUT(var(e, {0}, false), "var:", "no elements");
  CHECK_BAD_INPUT(tg::std(e, {0}), "var:", "no elements");
  CHECK_BAD_INPUT(logsumexp(e), "logsumexp:", "no elements", "(0,3)");
  CHECK_BAD_INPUT(logsumexp(e, {0}), "logsumexp:", "no elements");
  CHECK_BAD_INPUT(e.mean(), "mean:", "(0,3)");
}

TEST_CASE("bad input: NaN and Inf under anomaly detection name the op", "[bad_input]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const Tensor with_nan = tensor({1.0, nan}, TensorOptions(kFloat64).requires_grad());
  const Tensor with_inf = tensor({{1.0, inf}}, TensorOptions(kFloat64).requires_grad());
  const Tensor zero = tensor({0.0}, TensorOptions(kFloat64).requires_grad());
  {
    DetectAnomalyGuard anomaly;
    // NaN/Inf inputs: the first op whose output is not finite is named.
    CHECK_BAD_INPUT(exp(with_nan), "anomaly detected:", "'exp'", "NaN or Inf", "output", "(2)");
    CHECK_BAD_INPUT(with_inf * 0.0, "anomaly detected:", "'mul_scalar'", "(1,2)");
    CHECK_BAD_INPUT(matmul(with_inf, f64({2, 1})), "anomaly detected:", "'mm'", "(1,1)");
    CHECK_BAD_INPUT(F::cross_entropy(tensor({{0.0, nan}}, TensorOptions(kFloat64).requires_grad()), labels({0})),
                    "anomaly detected:", "NaN or Inf");
    // Finite inputs, non-finite results.
    CHECK_BAD_INPUT(log(-zero - 1.0), "anomaly detected:", "'log'");
    CHECK_BAD_INPUT(zero / zero, "anomaly detected:", "'div'");
    // In backward: sqrt is finite at 0 but its derivative is not; the backward is named.
    const Tensor y = sqrt(zero).sum();
    CHECK_BAD_INPUT(y.backward(), "anomaly detected:", "backward of 'sqrt'", "gradient");
  }
  // Without the guard NaN propagates silently, as in PyTorch.
  CHECK(std::isnan(exp(with_nan).value<double>()(1)));
}

// ---- Checkpoints -------------------------------------------------------------------------------

namespace {
/// A small model and its checkpoint; each test case then damages one entry.
struct Checkpoint {
  TempDir dir;
  std::string path = dir.file("model.npz");
  nn::MLP model{{4, 3, 2}};
  nn::StateDict state;
  Checkpoint() {
    model.save(path);
    state = nn::load_tensors(path);
  }
  std::string rewritten(const nn::StateDict& changed) {
    const std::string p = dir.file("changed.npz");
    nn::save_tensors(p, changed);
    return p;
  }
};
}  // namespace

TEST_CASE("bad input: a checkpoint with a missing entry", "[bad_input]") {
  Checkpoint c;
  auto s = c.state;
  s.erase("layers.2.bias");
  const std::string p = c.rewritten(s);
  nn::MLP target({4, 3, 2});
  CHECK_BAD_INPUT(target.load(p), "load:", p, "missing", "'layers.2.bias'");
  // The failed load changed nothing, and a non-strict load reports what it skipped.
  CHECK(target.load(p, /*strict=*/false).missing_keys == std::vector<std::string>{"layers.2.bias"});
  // Optimizer state: a missing option entry.
  Tensor w = leaf64({2});
  optim::Adam adam({w});
  auto os = adam.state_dict();
  os.erase("param_groups.0.lr");
  CHECK_BAD_INPUT(adam.load_state_dict(os), "load_state_dict:", "missing", "'param_groups.0.lr'");
}

TEST_CASE("bad input: a checkpoint with an extra entry", "[bad_input]") {
  Checkpoint c;
  auto s = c.state;
  s["layers.9.weight"] = ones({2, 2});
  const std::string p = c.rewritten(s);
  nn::MLP target({4, 3, 2});
  CHECK_BAD_INPUT(target.load(p), "load:", p, "unexpected", "'layers.9.weight'");
  CHECK(target.load(p, /*strict=*/false).unexpected_keys == std::vector<std::string>{"layers.9.weight"});
  // Optimizer state for a parameter the optimizer does not have.
  Tensor w = leaf64({2});
  optim::Adam adam({w});
  auto os = adam.state_dict();
  os["state.7.exp_avg"] = f64({2});
  CHECK_BAD_INPUT(adam.load_state_dict(os), "Adam: load_state_dict:", "'state.7.exp_avg'", "names no parameter");
}

TEST_CASE("bad input: a checkpoint with a mis-shaped entry", "[bad_input]") {
  Checkpoint c;
  auto s = c.state;
  s["layers.0.weight"] = ones({4, 3});  // transposed
  const std::string p = c.rewritten(s);
  nn::MLP target({4, 3, 2});
  const auto before = target.layers->at<nn::Linear>(0)->weight.to_double();
  CHECK_BAD_INPUT(target.load(p), "load:", p, "'layers.0.weight'", "shape (4,3)", "(3,4)");
  // Shapes are checked in non-strict loads too.
  CHECK_BAD_INPUT(target.load(p, /*strict=*/false), "load:", "'layers.0.weight'", "shape (4,3)");
  CHECK((target.layers->at<nn::Linear>(0)->weight.to_double() == before));  // nothing was written
  // Optimizer state shaped for another parameter.
  Tensor w = leaf64({2});
  optim::Adam adam({w});
  w.set_grad(ones({2}, kFloat64));
  adam.step();
  auto os = adam.state_dict();
  os["state.0.exp_avg"] = f64({3});
  Tensor w2 = leaf64({2});
  optim::Adam other({w2});
  CHECK_BAD_INPUT(other.load_state_dict(os), "Adam: load_state_dict:", "'state.0.exp_avg'", "shape (3)", "(2)");
}

TEST_CASE("bad input: a checkpoint with a wrong-dtype entry", "[bad_input]") {
  Checkpoint c;
  auto s = c.state;
  s["layers.0.bias"] = s["layers.0.bias"].to(kFloat64).detach();
  const std::string p = c.rewritten(s);
  nn::MLP target({4, 3, 2});
  CHECK_BAD_INPUT(target.load(p), "load:", p, "'layers.0.bias'", "dtype float64", "float32");
  s = c.state;
  s["layers.0.bias"] = Tensor(xt::xarray<std::int64_t>{1, 2, 3});
  CHECK_BAD_INPUT(target.load(c.rewritten(s)), "load:", "'layers.0.bias'", "int64");
  // Optimizer state: a step counter that is not an int64 count.
  Tensor w = leaf64({2});
  optim::Adam adam({w});
  w.set_grad(ones({2}, kFloat64));
  adam.step();
  auto os = adam.state_dict();
  os["state.0.step"] = tensor(1.0, kFloat64);
  Tensor w2 = leaf64({2});
  optim::Adam other({w2});
  CHECK_BAD_INPUT(other.load_state_dict(os), "Adam: load_state_dict:", "'state.0.step'", "int64", "float64");
}

// ---- Damaged files -----------------------------------------------------------------------------

TEST_CASE("bad input: truncated, empty and random-byte IDX files", "[bad_input]") {
  TempDir dir;
  const std::string good = dir.file("good.idx"), good_gz = dir.file("good.idx.gz"), bad = dir.file("bad.idx");
  std::vector<std::uint8_t> pixels(2 * 3 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i);
  data::write_idx_ubyte(good, {2, 3, 4}, pixels);
  data::write_idx_ubyte(good_gz, {2, 3, 4}, pixels, /*gzip=*/true);
  SECTION("truncated: every proper prefix, plain and gzipped") {
    for (const std::string& source : {good, good_gz}) {
      const std::string bytes = read_bytes(source);
      for (std::size_t keep = 0; keep < bytes.size(); ++keep) {
        write_bytes(bad, bytes.substr(0, keep));
        INFO(source << " cut to " << keep << " of " << bytes.size() << " bytes");
        CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad);
      }
    }
    write_bytes(bad, read_bytes(good).substr(0, 20));
    CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad, "truncated", "(2,3,4)", "needs 40 bytes, found 20");
    const std::string gz = read_bytes(good_gz);
    write_bytes(bad, gz.substr(0, gz.size() / 2));
    CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad, "gzip");
  }
  SECTION("empty") {
    write_bytes(bad, "");
    CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad, "4-byte header", "found 0 bytes");
  }
  SECTION("random bytes") {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
      write_bytes(bad, random_bytes(1 + seed * 7, seed));
      INFO("seed " << seed);
      CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad);
    }
    // A plausible header that declares an enormous payload is refused before allocating it.
    write_bytes(bad, std::string("\0\0\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16));
    CHECK_BAD_INPUT(data::read_idx(bad), "read_idx:", bad, "implausibly large");
  }
}

TEST_CASE("bad input: truncated, empty and random-byte CSV files", "[bad_input]") {
  TempDir dir;
  const std::string bad = dir.file("bad.csv");
  const std::string good = "a,b,label\n1.5,2,x\n3,4.25,y\n";
  SECTION("truncated") {
    // A cut that removes fields leaves a short row, reported with its line. (A cut at a line end,
    // or inside the last field, leaves a shorter file that is valid CSV: without a length header,
    // nothing can tell it from an intended one.)
    write_bytes(bad, good.substr(0, good.size() - 4));  // "3,4.2"
    CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad + ":3", "expected 3 fields, found 2");
    write_bytes(bad, good.substr(0, 12));  // "a,b,label\n1."
    CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad + ":2", "expected 3 fields, found 1");
    write_bytes(bad, good.substr(0, 10));  // header only
    CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad, "no data rows");
  }
  SECTION("empty") {
    write_bytes(bad, "");
    CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad, "empty");
    write_bytes(bad, "\n\n  \n");
    CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad, "empty");
  }
  SECTION("random bytes") {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
      write_bytes(bad, random_bytes(16 + seed * 13, seed));
      INFO("seed " << seed);
      CHECK_BAD_INPUT(data::read_csv(bad), "read_csv:", bad);
    }
  }
}

TEST_CASE("bad input: truncated, empty and random-byte checkpoint files", "[bad_input]") {
  TempDir dir;
  const std::string good = dir.file("good.npz"), bad = dir.file("bad.npz");
  const std::map<std::string, Tensor> tensors{{"w", arange(0, 6, 1, kFloat64).reshape({2, 3})},
                                              {"n", Tensor(xt::xarray<std::int64_t>{7})}};
  SECTION("truncated: every proper prefix, stored and deflated") {
    for (bool compress : {false, true}) {
      nn::save_tensors(good, tensors, compress);
      const std::string bytes = read_bytes(good);
      for (std::size_t keep = 0; keep < bytes.size(); ++keep) {
        write_bytes(bad, bytes.substr(0, keep));
        INFO((compress ? "deflated" : "stored") << ", cut to " << keep << " of " << bytes.size() << " bytes");
        CHECK_BAD_INPUT(nn::load_tensors(bad), "load_tensors:", bad);
        nn::MLP model({4, 3, 2});
        CHECK_BAD_INPUT(model.load(bad), "load_tensors:", bad);
      }
    }
  }
  SECTION("empty") {
    write_bytes(bad, "");
    CHECK_BAD_INPUT(nn::load_tensors(bad), "load_tensors:", bad, "only 0 bytes");
  }
  SECTION("random bytes") {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
      write_bytes(bad, random_bytes(1 + seed * 11, seed));
      INFO("seed " << seed);
      CHECK_BAD_INPUT(nn::load_tensors(bad), "load_tensors:", bad);
    }
  }
  SECTION("missing file") {
    CHECK_BAD_INPUT(nn::load_tensors(dir.file("nope.npz")), "load_tensors:", "nope.npz", "cannot open");
    CHECK_BAD_INPUT(data::read_idx(dir.file("nope.idx")), "read_idx:", "nope.idx", "cannot open");
    CHECK_BAD_INPUT(data::read_csv(dir.file("nope.csv")), "read_csv:", "nope.csv", "cannot open");
  }
}
