// gradcheck and gradgradcheck.
#include "tapegrad/gradcheck.hpp"

#include <cmath>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>

#include "kernels.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/elementwise.hpp"

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

/// Evaluates f without recording and returns every output's values flattened, in order.
std::vector<double> evaluate_flat(const MultiFunction& f, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  std::vector<double> flat;
  for (const Tensor& y : f(inputs)) {
    const auto v = y.to_double();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  return flat;
}

}  // namespace

std::string GradcheckReport::to_string() const {
  std::ostringstream os;
  os << std::setprecision(6);
  os << what << (passed ? " passed" : " FAILED") << " (eps " << options.eps << ", atol " << options.atol
     << ", rtol " << options.rtol << ")\n";
  for (const auto& r : inputs) {
    os << "  input " << r.input << " " << tg::to_string(r.shape) << ": " << (r.passed ? "ok" : "MISMATCH")
       << ", max abs error " << r.max_abs_error << ", max rel error " << r.max_rel_error;
    if (!r.passed || r.max_abs_error > 0)
      os << "; worst at output " << r.worst_output << ", input index " << index_string(r.worst_index)
         << ": analytic " << std::setprecision(12) << r.analytic << " vs numerical " << r.numerical
         << std::setprecision(6);
    os << "\n";
  }
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const GradcheckReport& report) { return os << report.to_string(); }

GradcheckReport gradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  return gradcheck(MultiFunction([&f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }),
                   inputs, options);
}

GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  GradcheckReport report;
  report.options = options;
  std::vector<std::size_t> wrt;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != DType::float64)
      fail("gradcheck: input ", i, " is ", to_string(inputs[i].dtype()), to_string(inputs[i].shape()),
           "; finite differences need float64 inputs");
    wrt.push_back(i);
  }
  if (wrt.empty()) fail("gradcheck: no input requires grad");

  // Analytic Jacobian, one row per output element: J[i][k][j] = d out_k / d in_i[j].
  const std::vector<Tensor> outputs = f(inputs);
  std::vector<Tensor> wrt_inputs;
  for (auto i : wrt) wrt_inputs.push_back(inputs[i]);
  std::size_t total_out = 0;
  for (const Tensor& y : outputs) total_out += y.numel();
  std::vector<std::vector<std::vector<double>>> analytic(wrt.size(), std::vector<std::vector<double>>(total_out));
  std::vector<Tensor> differentiable;
  std::vector<std::size_t> offsets;
  {
    std::size_t off = 0;
    for (const Tensor& y : outputs) {
      offsets.push_back(off);
      off += y.numel();
    }
  }
  for (std::size_t o = 0, k = 0; o < outputs.size(); ++o) {
    const Tensor& y = outputs[o];
    for (std::size_t e = 0; e < y.numel(); ++e, ++k) {
      for (std::size_t w = 0; w < wrt.size(); ++w) analytic[w][k].assign(inputs[wrt[w]].numel(), 0.0);
      if (!y.requires_grad()) continue;
      xt::xarray<double> onehot = xt::zeros<double>(y.shape());
      onehot.data()[e] = 1.0;
      const auto g = grad({y}, wrt_inputs, {Tensor(std::move(onehot)).to(y.dtype())}, true, false, true);
      for (std::size_t w = 0; w < wrt.size(); ++w)
        if (g[w].defined()) {
          const auto v = g[w].to_double();
          analytic[w][k].assign(v.begin(), v.end());
        }
    }
  }

  // Numerical Jacobian, one column per input element, by central differences on copies.
  std::vector<Tensor> probe;
  for (const Tensor& t : inputs) probe.push_back(t.defined() ? t.detach() : t);
  for (std::size_t w = 0; w < wrt.size(); ++w) {
    const std::size_t i = wrt[w];
    GradcheckInputReport r;
    r.input = i;
    r.shape = inputs[i].shape();
    auto& values = probe[i].mutable_value<double>();
    double worst_violation = -1;
    for (std::size_t j = 0; j < values.size(); ++j) {
      const double saved = values.data()[j];
      values.data()[j] = saved + options.eps;
      const auto plus = evaluate_flat(f, probe);
      values.data()[j] = saved - options.eps;
      const auto minus = evaluate_flat(f, probe);
      values.data()[j] = saved;
      for (std::size_t k = 0; k < total_out; ++k) {
        const double numerical = (plus[k] - minus[k]) / (2 * options.eps);
        const double a = analytic[w][k][j];
        const double err = std::abs(a - numerical);
        const double violation = err - (options.atol + options.rtol * std::abs(numerical));
        r.max_abs_error = std::max(r.max_abs_error, err);
        r.max_rel_error = std::max(r.max_rel_error, err / std::max(std::abs(numerical), 1e-12));
        if (!(violation <= 0)) r.passed = false;
        if (violation > worst_violation || std::isnan(violation)) {
          worst_violation = std::isnan(violation) ? INFINITY : violation;
          r.worst_output = k;
          r.worst_index = unravel(j, r.shape);
          r.analytic = a;
          r.numerical = numerical;
        }
      }
    }
    report.passed = report.passed && r.passed;
    report.inputs.push_back(std::move(r));
  }
  return report;
}

GradcheckReport gradgradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options, const std::vector<Tensor>& grad_outputs) {
  return gradgradcheck(MultiFunction([&f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }),
                       inputs, options, grad_outputs);
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
      ws.push_back(Tensor(std::move(v)));
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
    std::vector<Tensor> outs = f(in);
    std::vector<Tensor> wrt_in;
    for (auto i : wrt) wrt_in.push_back(in[i]);
    if (!is_grad_enabled()) {
      // Finite-difference evaluation: the first derivative itself still needs a recorded graph.
      EnableGradGuard on;
      // Probed copies carry no requires_grad, so mark the differentiated inputs again.
      std::vector<Tensor> in2 = in;
      for (auto i : wrt) in2[i] = in[i].detach().requires_grad_(true);
      outs = f(in2);
      wrt_in.clear();
      for (auto i : wrt) wrt_in.push_back(in2[i]);
      auto g = grad(outs, wrt_in, w, false, false, true);
      for (std::size_t k = 0; k < g.size(); ++k)
        if (!g[k].defined()) g[k] = zeros_like(wrt_in[k]);
      return g;
    }
    auto g = grad(outs, wrt_in, w, true, true, true);
    for (std::size_t k = 0; k < g.size(); ++k)
      if (!g[k].defined()) g[k] = zeros_like(wrt_in[k]);
    return g;
  };
  GradcheckReport report = gradcheck(vjp, all, options);
  report.what = "gradgradcheck";
  return report;
}

}  // namespace tg
