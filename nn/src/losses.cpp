// Losses, composed from differentiable ops (so every order of derivative follows), except binary
// cross-entropy on probabilities, whose clamped logs need their own backward.
#include "tapegrad/nn/losses.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/xtensor.hpp"
#include "tape.hpp"

namespace tg::nn::functional {

namespace {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::batchmean: return "batchmean";
  }
  return "?";
}

void require_pair(const char* op, const Tensor& input, const Tensor& target) {
  if (!input.defined() || !target.defined()) fail(op, ": input and target must be defined");
  if (!input.is_floating_point() || !target.is_floating_point())
    fail(op, ": input and target must be float tensors, got ", to_string(input.dtype()), " and ",
         to_string(target.dtype()));
  if (input.dtype() != target.dtype())
    fail(op, ": dtype mismatch between input ", to_string(input.dtype()), " and target ", to_string(target.dtype()));
  if (input.shape() != target.shape())
    fail(op, ": input shape ", to_string(input.shape()), " and target shape ", to_string(target.shape()),
         " differ");
}

/// Applies a reduction to per-element losses.
Tensor reduce(const char* op, const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean:
      if (loss.numel() == 0) fail(op, ": mean of an empty batch (shape ", to_string(loss.shape()), ")");
      return mean(loss);
    case Reduction::batchmean: break;
  }
  fail(op, ": reduction '", reduction_name(r), "' is only defined for kl_div");
}

void check_unit_interval(const char* op, const char* what, const Tensor& t) {
  const auto v = t.to_double();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!(v.data()[i] >= 0.0 && v.data()[i] <= 1.0))
      fail(op, ": ", what, " must hold probabilities in [0, 1], found ", v.data()[i], " at flat index ", i,
           " (shape ", to_string(t.shape()), ")");
}

/// Checks int64 class indices against the class count.
void check_classes(const char* op, const Tensor& target, std::size_t classes) {
  const auto& t = target.value<std::int64_t>();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t.data()[i] < 0 || static_cast<std::size_t>(t.data()[i]) >= classes)
      fail(op, ": target ", t.data()[i], " at index ", i, " is out of range for ", classes, " classes");
}

/// Moves the class axis (1) last and flattens: (N, C, d...) -> (N*d..., C); 1-D input -> (1, C).
Tensor classes_last(const Tensor& x) {
  if (x.dim() == 1) return unsqueeze(x, 0);
  if (x.dim() == 2) return x;
  std::vector<int> perm{0};
  for (int d = 2; d < static_cast<int>(x.dim()); ++d) perm.push_back(d);
  perm.push_back(1);
  return reshape(permute(x, perm), {-1, static_cast<std::int64_t>(x.shape()[1])});
}

/// The per-sample shape a 'none' reduction returns: input shape without the class axis.
std::vector<std::int64_t> sample_shape(const Tensor& input) {
  std::vector<std::int64_t> s;
  const Shape is = input.shape();
  for (std::size_t d = 0; d < is.size(); ++d)
    if (d != (is.size() == 1 ? 0 : 1)) s.push_back(static_cast<std::int64_t>(is[d]));
  return s;
}

/// Validates (input, int64 target, weight) for nll/cross-entropy and returns the class count.
std::size_t check_index_target(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight) {
  if (!input.defined() || !input.is_floating_point())
    fail(op, ": input must be a float tensor of logits/log-probabilities");
  if (input.dim() == 0) fail(op, ": input must have a class axis, got a 0-d tensor");
  const Shape is = input.shape();
  const std::size_t classes = is.size() == 1 ? is[0] : is[1];
  Shape expect;
  for (std::size_t d = 0; d < is.size(); ++d)
    if (d != (is.size() == 1 ? 0 : 1)) expect.push_back(is[d]);
  if (target.shape() != expect)
    fail(op, ": target shape ", to_string(target.shape()), " does not match input shape ", to_string(is),
         " (expected ", to_string(expect), ")");
  if (!expect.empty() && expect[0] == 0) fail(op, ": empty batch (input shape ", to_string(is), ")");
  check_classes(op, target, classes);
  if (weight.defined()) {
    if (weight.dtype() != input.dtype() || weight.shape() != Shape{classes})
      fail(op, ": weight must be ", to_string(input.dtype()), "(", classes, "), got ", to_string(weight.dtype()),
           to_string(weight.shape()));
  }
  return classes;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  require_pair("mse_loss", input, target);
  const Tensor d = input - target;
  return reduce("mse_loss", d * d, r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  require_pair("l1_loss", input, target);
  return reduce("l1_loss", abs(input - target), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction r, double beta) {
  require_pair("smooth_l1_loss", input, target);
  if (beta < 0) fail("smooth_l1_loss: beta must be >= 0, got ", beta);
  const Tensor d = input - target;
  const Tensor ad = abs(d);
  if (beta == 0) return reduce("smooth_l1_loss", ad, r);
  return reduce("smooth_l1_loss", where(lt(ad, beta), d * d * (0.5 / beta), ad - 0.5 * beta), r);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction r, double delta) {
  require_pair("huber_loss", input, target);
  if (delta <= 0) fail("huber_loss: delta must be > 0, got ", delta);
  const Tensor d = input - target;
  const Tensor ad = abs(d);
  return reduce("huber_loss", where(le(ad, delta), d * d * 0.5, (ad - 0.5 * delta) * delta), r);
}

namespace {
/// Pointwise -(t log p + (1 - t) log(1 - p)) with logs clamped at -100 (PyTorch's convention).
Tensor bce_pointwise(const Tensor& p, const Tensor& t) {
  Tensor out;
  {
    NoGradGuard no_grad;
    forward_ad::detail::SuspendGuard no_tangents;  // the rule below gives the tangent
    out = -(t * clamp(log(p), -100.0, INFINITY) + (1.0 - t) * clamp(log(1.0 - p), -100.0, INFINITY));
  }
  return record(
      "binary_cross_entropy", std::move(out), {p, t}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        const Tensor &p = c.input(0), &t = c.input(1);
        // d/dp = (p - t) / max(p (1 - p), 1e-12): finite at p = 0 or 1, like PyTorch.
        if (c.needs_grad(0)) c.set_grad(0, c.grad() * (p - t) / clamp(p * (1.0 - p), 1e-12, INFINITY));
        if (c.needs_grad(1))
          c.set_grad(1, c.grad() * (clamp(log(1.0 - p), -100.0, INFINITY) - clamp(log(p), -100.0, INFINITY)));
      },
      [](const JvpContext& c) {
        // The backward's partial derivatives (its clamps included), applied to the tangents.
        const Tensor &p = c.input(0), &t = c.input(1);
        Tensor tp, tt;
        if (c.has_tangent(0)) tp = c.tangent(0) * (p - t) / clamp(p * (1.0 - p), 1e-12, INFINITY);
        if (c.has_tangent(1))
          tt = c.tangent(1) * (clamp(log(1.0 - p), -100.0, INFINITY) - clamp(log(p), -100.0, INFINITY));
        return tg::detail::add_tangents(tp, tt);
      });
}
}  // namespace

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction r) {
  require_pair("binary_cross_entropy", input, target);
  check_unit_interval("binary_cross_entropy", "input", input);
  check_unit_interval("binary_cross_entropy", "target", target);
  Tensor loss = bce_pointwise(input, target);
  if (weight.defined()) loss = loss * weight;
  return reduce("binary_cross_entropy", loss, r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        Reduction r, const Tensor& pos_weight) {
  require_pair("binary_cross_entropy_with_logits", input, target);
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor sp = softplus(-input, 1.0, inf);  // -log sigmoid(x), exact for any x
  Tensor loss = pos_weight.defined() ? (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
                                     : (1.0 - target) * input + sp;
  if (weight.defined()) loss = loss * weight;
  return reduce("binary_cross_entropy_with_logits", loss, r);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction r) {
  if (!target.defined() || target.dtype() != DType::int64)
    fail("nll_loss: target must be an int64 tensor of class indices");
  check_index_target("nll_loss", input, target, weight);
  const Tensor logp = classes_last(input);
  const Tensor idx = reshape(target, {-1, 1});
  Tensor picked = -reshape(gather(logp, 1, idx), {-1});
  Tensor w;
  if (weight.defined()) {
    w = index_select(weight, 0, reshape(target, {-1}));
    picked = picked * w;
  }
  switch (r) {
    case Reduction::none: return reshape(picked, sample_shape(input));
    case Reduction::sum: return sum(picked);
    case Reduction::mean: return weight.defined() ? sum(picked) / sum(w) : mean(picked);
    case Reduction::batchmean: break;
  }
  fail("nll_loss: reduction 'batchmean' is only defined for kl_div");
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction r,
                     double label_smoothing) {
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    fail("cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  if (!target.defined()) fail("cross_entropy: target is undefined");
  if (r == Reduction::batchmean) fail("cross_entropy: reduction 'batchmean' is only defined for kl_div");
  if (!input.defined() || !input.is_floating_point() || input.dim() == 0)
    fail("cross_entropy: input must be float logits with a class axis");
  const int class_axis = input.dim() == 1 ? 0 : 1;
  const Tensor logp = log_softmax(input, class_axis);
  const std::size_t classes = input.shape()[static_cast<std::size_t>(class_axis)];

  if (target.is_floating_point()) {
    // Class probabilities: loss_i = -sum_c w_c t_ic log p_ic.
    require_pair("cross_entropy", input, target);
    Tensor t = label_smoothing > 0 ? target * (1.0 - label_smoothing) + label_smoothing / static_cast<double>(classes)
                                   : target;
    Tensor terms = t * logp;
    if (weight.defined()) {
      std::vector<std::int64_t> wshape(input.dim(), 1);
      wshape[static_cast<std::size_t>(class_axis)] = static_cast<std::int64_t>(classes);
      terms = terms * reshape(weight, wshape);
    }
    const Tensor per_sample = -sum(terms, {class_axis});
    if (r == Reduction::mean) {
      const std::size_t n = input.dim() == 1 ? 1 : input.numel() / classes;
      if (n == 0) fail("cross_entropy: empty batch (input shape ", to_string(input.shape()), ")");
      return sum(per_sample) / static_cast<double>(n);
    }
    return reduce("cross_entropy", per_sample, r);
  }
  if (target.dtype() != DType::int64)
    fail("cross_entropy: target must hold int64 class indices or float probabilities, got ", to_string(target.dtype()));
  check_index_target("cross_entropy", input, target, weight);
  const Tensor nll = nll_loss(logp, target, weight, r);
  if (label_smoothing == 0.0) return nll;
  // Smoothing term: -sum_c w_c log p_c per sample, reduced like nll_loss.
  Tensor smooth_terms = logp;
  if (weight.defined()) {
    std::vector<std::int64_t> wshape(input.dim(), 1);
    wshape[static_cast<std::size_t>(class_axis)] = static_cast<std::int64_t>(classes);
    smooth_terms = smooth_terms * reshape(weight, wshape);
  }
  Tensor smooth = -sum(smooth_terms, {class_axis});
  switch (r) {
    case Reduction::none: break;
    case Reduction::sum: smooth = sum(smooth); break;
    case Reduction::mean:
      smooth = weight.defined() ? sum(smooth) / sum(index_select(weight, 0, reshape(target, {-1}))) : mean(smooth);
      break;
    case Reduction::batchmean: break;
  }
  return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / static_cast<double>(classes));
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction r, bool log_target) {
  require_pair("kl_div", input, target);
  Tensor pointwise;
  if (log_target) {
    pointwise = exp(target) * (target - input);
  } else {
    // xlogy: 0 log 0 = 0, and no NaN gradient from log(0).
    const Tensor positive = gt(target, 0.0);
    const Tensor safe = where(positive, target, 1.0);
    pointwise = where(positive, target * (log(safe) - input), -(target * input));
  }
  if (r == Reduction::batchmean) {
    if (input.dim() == 0 || input.shape()[0] == 0) fail("kl_div: batchmean needs a non-empty first axis");
    return sum(pointwise) / static_cast<double>(input.shape()[0]);
  }
  return reduce("kl_div", pointwise, r);
}

Tensor quadratic_cost(const Tensor& output, const Tensor& target) {
  require_pair("quadratic_cost", output, target);
  if (output.dim() == 0 || output.shape()[0] == 0) fail("quadratic_cost: needs a non-empty batch axis");
  const Tensor d = output - target;
  return sum(d * d) * (0.5 / static_cast<double>(output.shape()[0]));
}

}  // namespace tg::nn::functional
