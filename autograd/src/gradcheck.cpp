// gradcheck and gradgradcheck: slow (full Jacobian) and fast (v^T J u) modes, for reverse and
// forward mode, with the nondeterminism and undefined-gradient checks (gradcheck.hpp).
#include "tapegrad/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>

#include "kernels.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/forward_ad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/random.hpp"

namespace tg {

namespace {

std::vector<std::size_t> unravel(std::size_t flat, const Shape& shape) {
  std::vector<std::size_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return idx;
}

std::string index_string(const std::vector<std::size_t>& idx) {
  std::string s = "(";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? "," : "") + std::to_string(idx[i]);
  return s + ")";
}

double dot_flat(const std::vector<double>& a, const double* b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

/// Everything the checks of one gradcheck call share: f, the inputs, which of them require
/// grad (wrt), and the layout of the flattened outputs.
struct Problem {
  const MultiFunction& f;
  const std::vector<Tensor>& inputs;
  const GradcheckOptions& options;
  std::vector<std::size_t> wrt;      // positions of the inputs that require grad
  std::vector<Tensor> wrt_inputs;    // those inputs
  std::vector<Tensor> outputs;       // f(inputs), recorded
  std::vector<std::size_t> offsets;  // where each output starts in the flattened outputs
  std::size_t total_out = 0;

  std::size_t numel(std::size_t w) const { return inputs[wrt[w]].numel(); }

  /// f without recording, every output's values flattened in order.
  std::vector<double> evaluate_flat(const std::vector<Tensor>& args) const {
    NoGradGuard no_grad;
    std::vector<double> flat;
    for (const Tensor& y : f(args)) {
      const auto v = y.to_vector();
      flat.insert(flat.end(), v.begin(), v.end());
    }
    if (flat.size() != total_out)
      fail("gradcheck: f returned ", flat.size(), " output elements for perturbed inputs but ", total_out,
           " for the inputs themselves");
    return flat;
  }

  /// (f(x + eps d) - f(x - eps d)) / 2 eps, for input w moved along d (flat, its numel), with
  /// the other inputs fixed. probe holds detached copies of the inputs.
  std::vector<double> directional(std::vector<Tensor>& probe, std::size_t w, const std::vector<double>& d) const {
    Tensor& x = probe[wrt[w]];
    double* values = x.data_ptr<double>();
    const std::vector<double> saved(values, values + d.size());
    const double eps = options.eps();
    for (std::size_t j = 0; j < d.size(); ++j) values[j] = saved[j] + eps * d[j];
    x.bump_version();
    const auto plus = evaluate_flat(probe);
    for (std::size_t j = 0; j < d.size(); ++j) values[j] = saved[j] - eps * d[j];
    x.bump_version();
    const auto minus = evaluate_flat(probe);
    std::copy(saved.begin(), saved.end(), values);
    x.bump_version();
    std::vector<double> result(total_out);
    for (std::size_t k = 0; k < total_out; ++k) result[k] = (plus[k] - minus[k]) / (2 * eps);
    return result;
  }

  /// Column j of the numerical Jacobian of input w: a one-element step (the slow mode's).
  std::vector<double> numerical_column(std::vector<Tensor>& probe, std::size_t w, std::size_t j) const {
    Tensor& x = probe[wrt[w]];
    double* values = x.data_ptr<double>();
    const double saved = values[j];
    values[j] = saved + options.eps();
    x.bump_version();
    const auto plus = evaluate_flat(probe);
    values[j] = saved - options.eps();
    x.bump_version();
    const auto minus = evaluate_flat(probe);
    values[j] = saved;
    x.bump_version();
    std::vector<double> result(total_out);
    for (std::size_t k = 0; k < total_out; ++k) result[k] = (plus[k] - minus[k]) / (2 * options.eps());
    return result;
  }

  /// J_w d by forward mode: input w becomes a dual tensor with tangent d (flat), the outputs'
  /// tangents flattened (zeros for an output without one). Needs an active DualLevel.
  std::vector<double> forward_jvp(std::size_t w, const std::vector<double>& d) const {
    NoGradGuard no_grad;
    std::vector<Tensor> args = inputs;
    const Tensor& x = inputs[wrt[w]];
    args[wrt[w]] = forward_ad::make_dual(x.detach(), from_vector(d, x.shape(), kFloat64));
    std::vector<double> flat;
    for (const Tensor& y : f(args)) {
      const Tensor t = y.is_floating_point() ? forward_ad::unpack_dual(y).tangent : Tensor();
      const auto v = t.defined() ? t.to_vector() : std::vector<double>(y.numel(), 0.0);
      flat.insert(flat.end(), v.begin(), v.end());
    }
    if (flat.size() != total_out)
      fail("gradcheck: f returned ", flat.size(), " output elements for dual inputs but ", total_out,
           " for the inputs themselves");
    return flat;
  }

  /// The analytic Jacobian by reverse mode, one backward per output element:
  /// result[w][k * numel(w) + j] = d out_k / d input_w[j].
  std::vector<std::vector<double>> analytic_jacobian() const {
    std::vector<std::vector<double>> jac(wrt.size());
    for (std::size_t w = 0; w < wrt.size(); ++w) jac[w].assign(total_out * numel(w), 0.0);
    for (std::size_t o = 0, k = 0; o < outputs.size(); ++o) {
      const Tensor& y = outputs[o];
      if (!y.requires_grad()) {
        k += y.numel();
        continue;
      }
      std::vector<double> onehot(y.numel(), 0.0);
      for (std::size_t e = 0; e < y.numel(); ++e, ++k) {
        onehot[e] = 1.0;
        const Tensor upstream = from_vector(onehot, y.shape(), y.dtype());
        onehot[e] = 0.0;
        const auto g = grad({y}, wrt_inputs, {upstream}, true, false, true);
        for (std::size_t w = 0; w < wrt.size(); ++w)
          if (g[w].defined()) {
            const auto v = g[w].to_vector();
            std::copy(v.begin(), v.end(), jac[w].begin() + static_cast<std::ptrdiff_t>(k * numel(w)));
          }
      }
    }
    return jac;
  }
};

/// Folds one (analytic, numerical) pair into an input's report (element-wise tolerance).
void compare(GradcheckInputReport& r, const GradcheckOptions& options, double a, double n, std::size_t k, std::size_t j,
             double& worst_violation) {
  const double err = std::abs(a - n);
  const double violation = err - (options.atol() + options.rtol() * std::abs(n));
  r.max_abs_error = std::max(r.max_abs_error, err);
  r.max_rel_error = std::max(r.max_rel_error, err / std::max(std::abs(n), 1e-12));
  if (!(violation <= 0)) r.passed = false;
  if (violation > worst_violation || std::isnan(violation)) {
    worst_violation = std::isnan(violation) ? INFINITY : violation;
    r.worst_output = k;
    r.worst_index = unravel(j, r.shape);
    r.analytic = a;
    r.numerical = n;
  }
}

GradcheckInputReport fresh_report(const Problem& p, std::size_t w) {
  GradcheckInputReport r;
  r.input = p.wrt[w];
  r.shape = p.inputs[p.wrt[w]].shape();
  return r;
}

/// The slow check of input w: every column by central differences against the analytic
/// Jacobian (reverse, when given) and/or forward-mode columns (forward, when given).
void slow_check(const Problem& p, std::size_t w, const std::vector<double>* analytic, GradcheckInputReport* reverse,
                GradcheckInputReport* forward) {
  std::vector<Tensor> probe;
  for (const Tensor& t : p.inputs) probe.push_back(t.defined() ? t.detach() : t);
  double worst_reverse = -1, worst_forward = -1;
  const std::size_t n = p.numel(w);
  std::vector<double> onehot(n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    const auto numerical = p.numerical_column(probe, w, j);
    if (reverse)
      for (std::size_t k = 0; k < p.total_out; ++k)
        compare(*reverse, p.options, (*analytic)[k * n + j], numerical[k], k, j, worst_reverse);
    if (forward) {
      onehot[j] = 1.0;
      const auto column = p.forward_jvp(w, onehot);
      onehot[j] = 0.0;
      for (std::size_t k = 0; k < p.total_out; ++k)
        compare(*forward, p.options, column[k], numerical[k], k, j, worst_forward);
    }
  }
}

/// Compares two analytic results of the same backward: the largest difference goes into
/// nondet_max_diff, and one over nondet_tol is a failure (reported once, at its first entry).
void note_nondeterminism(GradcheckReport& report, const Problem& p, std::size_t w, const std::vector<double>& a,
                         const std::vector<double>& b, const char* what) {
  bool reported = false;
  for (std::size_t e = 0; e < a.size(); ++e) {
    // Two NaNs (or equal infinities) are the same result, as PyTorch's check sees them.
    const bool same = a[e] == b[e] || (std::isnan(a[e]) && std::isnan(b[e]));
    const double diff = same ? 0.0 : std::abs(a[e] - b[e]);
    if (std::isnan(diff) || diff > report.nondet_max_diff) report.nondet_max_diff = diff;
    if (diff <= p.options.nondet_tol() || reported) continue;
    std::ostringstream os;
    os << std::setprecision(12) << "nondeterministic backward: two runs with the same upstream gradient give " << what
       << " of input " << p.wrt[w] << " differing by " << diff << " at entry " << e << " (" << a[e] << " vs " << b[e]
       << "; nondet_tol " << p.options.nondet_tol() << ")";
    report.failures.push_back(os.str());
    report.passed = false;
    reported = true;
  }
}

void slow_mode(GradcheckReport& report, const Problem& p) {
  const auto analytic = p.analytic_jacobian();
  const auto again = p.analytic_jacobian();
  for (std::size_t w = 0; w < p.wrt.size(); ++w) note_nondeterminism(report, p, w, analytic[w], again[w], "Jacobians");
  std::unique_ptr<forward_ad::DualLevel> level;
  if (p.options.check_forward_ad()) level = std::make_unique<forward_ad::DualLevel>();
  for (std::size_t w = 0; w < p.wrt.size(); ++w) {
    GradcheckInputReport r = fresh_report(p, w), fwd = fresh_report(p, w);
    slow_check(p, w, &analytic[w], &r, level ? &fwd : nullptr);
    report.passed = report.passed && r.passed && (!level || fwd.passed);
    report.inputs.push_back(std::move(r));
    if (level) report.forward_inputs.push_back(std::move(fwd));
  }
}

/// Uniform on [0, 1), scaled to unit norm (PyTorch's _vec_from_tensor).
std::vector<double> random_unit(Generator& gen, std::size_t n) {
  std::vector<double> v(n);
  double norm2 = 0;
  for (double& e : v) {
    e = gen.next_double();
    norm2 += e * e;
  }
  if (norm2 > 0)
    for (double& e : v) e /= std::sqrt(norm2);
  return v;
}

double sum_of(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e;
  return s;
}

void fast_mode(GradcheckReport& report, const Problem& p) {
  // u per input first, then v per output, as PyTorch draws them.
  Generator gen(p.options.seed());
  std::vector<std::vector<double>> u, v;
  for (std::size_t w = 0; w < p.wrt.size(); ++w) u.push_back(random_unit(gen, p.numel(w)));
  for (const Tensor& y : p.outputs) v.push_back(random_unit(gen, y.numel()));

  // Analytic: v^T J by one backward per output (twice, for nondeterminism), dotted with u.
  // vJ[o][w] is undefined-as-empty when input w does not reach output o.
  std::vector<std::vector<double>> vju(p.outputs.size(), std::vector<double>(p.wrt.size(), 0.0));
  for (std::size_t o = 0; o < p.outputs.size(); ++o) {
    const Tensor& y = p.outputs[o];
    if (!y.requires_grad()) continue;
    const Tensor upstream = from_vector(v[o], y.shape(), y.dtype());
    const auto g1 = grad({y}, p.wrt_inputs, {upstream}, true, false, true);
    const auto g2 = grad({y}, p.wrt_inputs, {upstream}, true, false, true);
    for (std::size_t w = 0; w < p.wrt.size(); ++w) {
      const auto a = g1[w].defined() ? g1[w].to_vector() : std::vector<double>(p.numel(w), 0.0);
      const auto b = g2[w].defined() ? g2[w].to_vector() : std::vector<double>(p.numel(w), 0.0);
      note_nondeterminism(report, p, w, a, b, "v^T J");
      vju[o][w] = dot_flat(u[w], a.data());
    }
  }

  std::unique_ptr<forward_ad::DualLevel> level;
  if (p.options.check_forward_ad()) level = std::make_unique<forward_ad::DualLevel>();
  std::vector<Tensor> probe;
  for (const Tensor& t : p.inputs) probe.push_back(t.defined() ? t.detach() : t);
  for (std::size_t w = 0; w < p.wrt.size(); ++w) {
    const auto ju = p.directional(probe, w, u[w]);
    const double sum_u = sum_of(u[w]);
    GradcheckInputReport r = fresh_report(p, w);
    r.fast = true;
    double worst = -INFINITY;
    for (std::size_t o = 0; o < p.outputs.size(); ++o) {
      const double n = dot_flat(v[o], ju.data() + p.offsets[o]);
      const double a = vju[o][w];
      const double err = std::abs(a - n);
      const double tolerance = p.options.atol() * sum_u * sum_of(v[o]) + p.options.rtol() * std::abs(n);
      r.max_abs_error = std::max(r.max_abs_error, err);
      r.max_rel_error = std::max(r.max_rel_error, err / std::max(std::abs(n), 1e-12));
      const double violation = std::isnan(err) ? INFINITY : err - tolerance;
      if (!(err <= tolerance)) r.passed = false;
      if (violation > worst) {
        worst = violation;
        r.fast_output = o;
        r.fast_analytic = a;
        r.fast_numerical = n;
        r.fast_tolerance = tolerance;
      }
    }
    GradcheckInputReport fwd = fresh_report(p, w);
    if (level) {
      // Forward mode gives J u itself: compared element by element, atol scaled by sum(u) (v is 1).
      fwd.fast = true;
      const auto column = p.forward_jvp(w, u[w]);
      double worst_fwd = -INFINITY;
      for (std::size_t k = 0; k < p.total_out; ++k) {
        const double err = std::abs(column[k] - ju[k]);
        const double tolerance = p.options.atol() * sum_u + p.options.rtol() * std::abs(ju[k]);
        fwd.max_abs_error = std::max(fwd.max_abs_error, err);
        fwd.max_rel_error = std::max(fwd.max_rel_error, err / std::max(std::abs(ju[k]), 1e-12));
        const double violation = std::isnan(err) ? INFINITY : err - tolerance;
        if (!(err <= tolerance)) fwd.passed = false;
        if (violation > worst_fwd) {
          worst_fwd = violation;
          fwd.fast_output =
              static_cast<std::size_t>(std::upper_bound(p.offsets.begin(), p.offsets.end(), k) - p.offsets.begin() - 1);
          fwd.fast_analytic = column[k];
          fwd.fast_numerical = ju[k];
          fwd.fast_tolerance = tolerance;
        }
      }
    }
    // A failure: locate the worst element with the slow check of this input, as PyTorch does.
    if (!r.passed || (level && !fwd.passed)) {
      GradcheckInputReport slow_r = fresh_report(p, w), slow_f = fresh_report(p, w);
      std::vector<double> analytic;
      if (!r.passed) {
        Problem one = p;
        one.wrt = {p.wrt[w]};
        one.wrt_inputs = {p.wrt_inputs[w]};
        analytic = std::move(one.analytic_jacobian()[0]);
      }
      slow_check(p, w, r.passed ? nullptr : &analytic, r.passed ? nullptr : &slow_r,
                 level && !fwd.passed ? &slow_f : nullptr);
      for (auto [fast_r, slow] : {std::pair{&r, &slow_r}, std::pair{&fwd, &slow_f}}) {
        if (fast_r->passed) continue;
        fast_r->slow_rerun = true;
        fast_r->max_abs_error = slow->max_abs_error;
        fast_r->max_rel_error = slow->max_rel_error;
        fast_r->worst_output = slow->worst_output;
        fast_r->worst_index = slow->worst_index;
        fast_r->analytic = slow->analytic;
        fast_r->numerical = slow->numerical;
        if (slow->passed)
          report.failures.push_back("input " + std::to_string(p.wrt[w]) + (fast_r == &fwd ? " (forward AD)" : "") +
                                    ": fast mode failed but every element is within tolerance in the slow check "
                                    "(the test might pass with fast_mode off)");
      }
    }
    report.passed = report.passed && r.passed && (!level || fwd.passed);
    report.inputs.push_back(std::move(r));
    if (level) report.forward_inputs.push_back(std::move(fwd));
  }
}

/// Zero upstream gradients (and, with several outputs, each output left out in turn: an
/// undefined gradient for it) must give undefined or zero input gradients.
void undefined_grad_check(GradcheckReport& report, const Problem& p) {
  std::vector<std::size_t> differentiable;
  for (std::size_t o = 0; o < p.outputs.size(); ++o)
    if (p.outputs[o].requires_grad()) differentiable.push_back(o);
  if (differentiable.empty()) return;
  std::vector<std::ptrdiff_t> left_out{-1};
  if (differentiable.size() > 1)
    for (std::size_t o : differentiable) left_out.push_back(static_cast<std::ptrdiff_t>(o));
  for (std::ptrdiff_t skip : left_out) {
    std::vector<Tensor> roots, zero;
    for (std::size_t o : differentiable)
      if (static_cast<std::ptrdiff_t>(o) != skip) {
        roots.push_back(p.outputs[o]);
        zero.push_back(zeros_like(p.outputs[o]));
      }
    const std::string context = skip < 0
                                    ? std::string("all upstream gradients zero")
                                    : "output " + std::to_string(skip) + "'s gradient undefined and the others zero";
    std::vector<Tensor> g;
    try {
      g = grad(roots, p.wrt_inputs, zero, true, false, true);
    } catch (const Error& e) {
      report.failures.push_back("undefined grad: backward with " + context + " threw: " + e.what());
      report.passed = false;
      continue;
    }
    for (std::size_t w = 0; w < g.size(); ++w) {
      if (!g[w].defined()) continue;
      double worst = 0;
      for (double e : g[w].to_vector()) {
        if (std::isnan(e)) {
          worst = NAN;
          break;
        }
        worst = std::max(worst, std::abs(e));
      }
      if (worst == 0) continue;
      std::ostringstream os;
      os << "undefined grad: with " << context << ", input " << p.wrt[w] << " got a gradient with max |g| = " << worst
         << " (expected undefined or zero)";
      report.failures.push_back(os.str());
      report.passed = false;
    }
  }
}

void write_input(std::ostream& os, const GradcheckInputReport& r, const char* mode) {
  os << "  " << mode << "input " << r.input << " " << tg::to_string(r.shape) << ": " << (r.passed ? "ok" : "MISMATCH");
  if (r.fast)
    os << ", v^T J u analytic " << std::setprecision(12) << r.fast_analytic << " vs numerical " << r.fast_numerical
       << std::setprecision(6) << " (output " << r.fast_output << ", tolerance " << r.fast_tolerance << ")";
  if (!r.fast || r.slow_rerun) {
    os << (r.slow_rerun ? "; slow check: " : ", ") << "max abs error " << r.max_abs_error << ", max rel error "
       << r.max_rel_error;
    if (!r.passed || r.max_abs_error > 0)
      os << "; worst at output " << r.worst_output << ", input index " << index_string(r.worst_index) << ": analytic "
         << std::setprecision(12) << r.analytic << " vs numerical " << r.numerical << std::setprecision(6);
  }
  os << "\n";
}

}  // namespace

std::string GradcheckReport::to_string() const {
  std::ostringstream os;
  os << std::setprecision(6);
  os << what << (passed ? " passed" : " FAILED") << " (" << (options.fast_mode() ? "fast mode, " : "") << "eps "
     << options.eps() << ", atol " << options.atol() << ", rtol " << options.rtol() << ", nondet_tol "
     << options.nondet_tol() << ")\n";
  for (const auto& r : inputs) write_input(os, r, "");
  for (const auto& r : forward_inputs) write_input(os, r, "forward AD, ");
  for (const auto& f : failures) os << "  " << f << "\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const GradcheckReport& report) { return os << report.to_string(); }

GradcheckReport gradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  return gradcheck(MultiFunction([&f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }), inputs,
                   options);
}

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  GradcheckReport report;
  report.options = options;
  Problem p{f, inputs, options, {}, {}, {}, {}, 0};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != DType::float64)
      fail("gradcheck: input ", i, " is ", to_string(inputs[i].dtype()), to_string(inputs[i].shape()),
           "; finite differences need float64 inputs");
    p.wrt.push_back(i);
    p.wrt_inputs.push_back(inputs[i]);
  }
  if (p.wrt.empty()) fail("gradcheck: no input requires grad");
  if (!(options.eps() > 0)) fail("gradcheck: eps must be > 0, got ", options.eps());
  if (!(options.nondet_tol() >= 0)) fail("gradcheck: nondet_tol must be >= 0, got ", options.nondet_tol());

  p.outputs = f(inputs);
  for (const Tensor& y : p.outputs) {
    p.offsets.push_back(p.total_out);
    p.total_out += y.numel();
  }
  if (options.check_undefined_grad()) undefined_grad_check(report, p);
  if (options.fast_mode())
    fast_mode(report, p);
  else
    slow_mode(report, p);
  return report;
}

GradcheckReport gradgradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options, const std::vector<Tensor>& grad_outputs) {
  return gradgradcheck(MultiFunction([&f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }), inputs,
                       options, grad_outputs);
}

GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options, const std::vector<Tensor>& grad_outputs) {
  std::vector<std::size_t> wrt;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) wrt.push_back(i);
  if (wrt.empty()) fail("gradgradcheck: no input requires grad");

  // Upstream gradients become extra inputs of the checked function.
  std::vector<Tensor> ws = grad_outputs;
  if (ws.empty()) {
    std::mt19937_64 gen(0x7a9e);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (const Tensor& y : f(inputs)) {
      xt::xarray<double> v = xt::xarray<double>::from_shape(y.shape());
      for (auto& e : v) e = dist(gen);
      ws.emplace_back(std::move(v));
    }
  }
  std::vector<Tensor> all = inputs;
  for (const Tensor& w : ws) {
    Tensor leaf = w.detach();
    leaf.requires_grad_(true);
    all.push_back(leaf);
  }
  const std::size_t n_in = inputs.size();
  MultiFunction vjp = [&f, n_in, wrt](const std::vector<Tensor>& x) {
    const std::vector<Tensor> in(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n_in));
    const std::vector<Tensor> w(x.begin() + static_cast<std::ptrdiff_t>(n_in), x.end());
    if (!is_grad_enabled()) {
      // Finite-difference or forward-mode evaluation: the first derivative itself still needs a
      // recorded graph.
      EnableGradGuard on;
      // Probed copies carry no requires_grad, so mark the differentiated inputs again; a dual
      // input (forward over reverse) keeps its tangent on the marked copy.
      std::vector<Tensor> in2 = in;
      for (auto i : wrt) {
        Tensor marked = in[i].detach().requires_grad_(true);
        const Tensor tangent = forward_ad::is_active() ? forward_ad::unpack_dual(in[i]).tangent : Tensor();
        in2[i] = tangent.defined() ? forward_ad::make_dual(marked, tangent) : marked;
      }
      const std::vector<Tensor> outs = f(in2);
      std::vector<Tensor> wrt_in;
      wrt_in.reserve(wrt.size());
      for (auto i : wrt) wrt_in.push_back(in2[i]);
      auto g = grad(outs, wrt_in, w, false, false, true);
      for (std::size_t k = 0; k < g.size(); ++k)
        if (!g[k].defined()) g[k] = zeros_like(wrt_in[k]);
      return g;
    }
    const std::vector<Tensor> outs = f(in);
    std::vector<Tensor> wrt_in;
    wrt_in.reserve(wrt.size());
    for (auto i : wrt) wrt_in.push_back(in[i]);
    auto g = grad(outs, wrt_in, w, true, true, true);
    for (std::size_t k = 0; k < g.size(); ++k)
      if (!g[k].defined()) g[k] = zeros_like(wrt_in[k]);
    return g;
  };
  GradcheckOptions inner = options;
  inner.check_forward_ad(options.check_fwd_over_rev());
  GradcheckReport report = gradcheck(vjp, all, inner);
  report.what = "gradgradcheck";
  report.options = options;
  return report;
}

}  // namespace tg
