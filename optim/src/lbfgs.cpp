// L-BFGS: the algorithm is stated in tapegrad/optim/lbfgs.hpp. This follows torch.optim.LBFGS
// statement by statement (including its strong-Wolfe search and its stopping tests), so that the
// same problem takes the same iterations and the same number of closure evaluations.
#include "options.hpp"
#include "tapegrad/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <xtensor/xadapt.hpp>

#include "param_update.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::optim {

using detail::check_option;

std::vector<std::string> LBFGSOptions::choices(const std::string& option) {
  if (option == "line_search_fn") return {"", "strong_wolfe"};  // saved as the index in this list
  fail("LBFGSOptions: no choices for option '", option, "'");
}

void LBFGSOptions::validate() const {
  check_option(lr() >= 0, "LBFGS", "learning rate", lr(), "must be >= 0");
  check_option(max_iter() >= 1, "LBFGS", "max_iter", static_cast<double>(max_iter()),
               "must be >= 1");
  check_option(max_eval() >= 0, "LBFGS", "max_eval", static_cast<double>(max_eval()),
               "must be >= 1, or 0 for max_iter * 5 / 4");
  check_option(tolerance_grad() >= 0, "LBFGS", "tolerance_grad", tolerance_grad(), "must be >= 0");
  check_option(tolerance_change() >= 0, "LBFGS", "tolerance_change", tolerance_change(),
               "must be >= 0");
  check_option(history_size() >= 1, "LBFGS", "history_size", static_cast<double>(history_size()),
               "must be >= 1");
  const std::vector<std::string> allowed = choices("line_search_fn");
  if (std::find(allowed.begin(), allowed.end(), line_search_fn()) == allowed.end())
    fail("LBFGS: invalid line_search_fn '", line_search_fn(),
         "' (only \"strong_wolfe\" or \"\" for none are supported)");
}

LBFGS::LBFGS(std::vector<ParamGroup> param_groups, LBFGSOptions defaults)
    : Optimizer("LBFGS", std::move(param_groups), defaults.clone()) {
  if (this->param_groups().size() != 1)
    fail("LBFGS: doesn't support per-parameter options (parameter groups); got ",
         this->param_groups().size(), " groups");
  const auto& params = this->param_groups()[0].params();
  for (const auto& p : params)
    if (p.dtype() != params[0].dtype())
      fail("LBFGS: all parameters must share one dtype, got ", to_string(params[0].dtype()),
           " and ", to_string(p.dtype()));
}
LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions defaults)
    : LBFGS(std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

void LBFGS::check_loaded_state(const std::string& prefix, const Tensor&, const ParamState& state) const {
  std::size_t flat_size = 0;
  for (const auto& p : param_groups()[0].params()) flat_size += p.numel();
  auto bad = [&](const std::string& name, const std::string& why) {
    fail("LBFGS: load_state_dict: entry '", prefix, name, "' ", why);
  };
  auto has = [&](const std::string& name) { return state.count(name) != 0; };
  for (const auto& [name, value] : state) {
    const std::string shape = to_string(value.dtype()) + to_string(value.shape());
    if (name == "func_evals" || name == "n_iter") {
      if (value.dtype() != kInt64 || value.numel() != 1) bad(name, "should be one int64 count, got " + shape);
      detail::check_loaded_count("LBFGS", prefix + name, value.data_ptr<std::int64_t>()[0]);
    } else if (name == "d" || name == "prev_flat_grad" || name.rfind("old_dirs.", 0) == 0 ||
               name.rfind("old_stps.", 0) == 0) {
      if (!value.is_floating_point() || value.dim() != 1 || value.numel() != flat_size)
        bad(name, "has " + shape + "; expected (" + std::to_string(flat_size) +
                      "), one float per parameter element");
    } else if (!value.is_floating_point() || value.numel() != 1) {
      bad(name, "should be one float value, got " + shape);
    }
    if (value.is_floating_point()) detail::check_loaded_finite("LBFGS", prefix + name, value);
  }
  // The history is all or nothing: after the first iteration d, prev_flat_grad, t, H_diag and
  // prev_loss are all saved, before it none; ro.k, old_dirs.k and old_stps.k come in threes.
  const bool started = has("n_iter") && state.at("n_iter").value<std::int64_t>().data()[0] > 0;
  for (const char* name : {"d", "prev_flat_grad", "t", "H_diag", "prev_loss"})
    if (has(name) != started) bad(name, started ? "is missing, but n_iter > 0" : "is present, but n_iter is 0");
  for (const auto& entry : state) {
    const std::string& name = entry.first;
    const auto dot = name.find('.');
    if (dot == std::string::npos) continue;
    const std::string k = name.substr(dot + 1);
    for (const char* part : {"ro.", "old_dirs.", "old_stps."})
      if (!has(part + k)) bad(name, std::string("has no matching '") + prefix + part + k + "'");
  }
}

namespace {

template <class T>
using Vec = std::vector<T>;

template <class T>
double dot(const Vec<T>& a, const Vec<T>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}
template <class T>
double max_abs(const Vec<T>& a) {
  double m = 0;
  for (T v : a) m = std::max(m, static_cast<double>(std::abs(v)));
  return m;
}
/// a <- a + alpha * b, fused and with alpha in a's dtype, as torch's a.add_(b, alpha).
template <class T>
void axpy(Vec<T>& a, double alpha, const Vec<T>& b) {
  const T s = static_cast<T>(alpha);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = detail::fused(s, b[i], a[i]);
}
template <class T>
Vec<T> negated(const Vec<T>& a) {
  Vec<T> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = -a[i];
  return r;
}

/// All parameters seen as one flat vector (torch's _gather_flat_grad, _add_grad, ...).
template <class T>
class FlatParams {
 public:
  explicit FlatParams(std::vector<Tensor>& params) : params_(params) {}

  /// The gradients, concatenated; zeros for a parameter without one.
  Vec<T> gather_grad() const {
    Vec<T> flat;
    for (const Tensor& p : params_) {
      const Tensor g = p.grad();
      // The flat vector is indexed by parameter sizes (add()): a gradient of another shape,
      // after the parameter's values were replaced, would be read out of bounds.
      if (g.defined() && (g.dtype() != p.dtype() || g.shape() != p.shape()))
        fail("LBFGS: step: the gradient is ", to_string(g.dtype()), to_string(g.shape()),
             " but its parameter is ", to_string(p.dtype()), to_string(p.shape()),
             " (were the parameter's values replaced after backward?)");
      if (g.defined()) flat.insert(flat.end(), g.value<T>().begin(), g.value<T>().end());
      else flat.resize(flat.size() + p.numel(), T(0));
    }
    return flat;
  }
  /// x <- x + step * d.
  void add(double step, const Vec<T>& d) {
    const T s = static_cast<T>(step);
    std::size_t offset = 0;
    for (Tensor& p : params_) {
      T* x = p.mutable_value<T>().data();
      for (std::size_t i = 0; i < p.numel(); ++i) x[i] = detail::fused(s, d[offset + i], x[i]);
      offset += p.numel();
    }
  }
  Vec<T> values() const {
    Vec<T> flat;
    for (const Tensor& p : params_) flat.insert(flat.end(), p.value<T>().begin(), p.value<T>().end());
    return flat;
  }
  void set(const Vec<T>& flat) {
    std::size_t offset = 0;
    for (Tensor& p : params_) {
      auto& x = p.mutable_value<T>();
      std::copy(flat.begin() + offset, flat.begin() + offset + x.size(), x.begin());
      offset += x.size();
    }
  }

 private:
  std::vector<Tensor>& params_;
};

/// The optimizer's memory between steps, read from and written back to the state map.
template <class T>
struct History {
  std::int64_t func_evals = 0, n_iter = 0;
  Vec<T> d, prev_flat_grad;  // empty before the first iteration
  double t = 0, H_diag = 1, prev_loss = 0;
  std::vector<Vec<T>> old_dirs, old_stps;
  std::vector<double> ro;

  static Vec<T> vec(const Tensor& t) {
    const xt::xarray<double> v = t.to_double();
    Vec<T> r(v.size());
    std::transform(v.begin(), v.end(), r.begin(), [](double e) { return static_cast<T>(e); });
    return r;
  }
  static Tensor tensor_of(const Vec<T>& v) {
    return Tensor(xt::xarray<T>(xt::adapt(v, {v.size()})));
  }

  explicit History(const ParamState& s) {
    auto get = [&](const std::string& key) -> const Tensor* {
      auto it = s.find(key);
      return it == s.end() ? nullptr : &it->second;
    };
    if (auto* v = get("func_evals")) func_evals = static_cast<std::int64_t>(v->item());
    if (auto* v = get("n_iter")) n_iter = static_cast<std::int64_t>(v->item());
    if (auto* v = get("d")) d = vec(*v);
    if (auto* v = get("prev_flat_grad")) prev_flat_grad = vec(*v);
    if (auto* v = get("t")) t = v->item();
    if (auto* v = get("H_diag")) H_diag = v->item();
    if (auto* v = get("prev_loss")) prev_loss = v->item();
    for (std::size_t j = 0; get("ro." + std::to_string(j)); ++j) {
      const std::string k = std::to_string(j);
      if (!get("old_dirs." + k) || !get("old_stps." + k))
        fail("LBFGS: state has ro.", k, " but not old_dirs.", k, " and old_stps.", k);
      ro.push_back(get("ro." + k)->item());
      old_dirs.push_back(vec(*get("old_dirs." + k)));
      old_stps.push_back(vec(*get("old_stps." + k)));
    }
  }

  void store(ParamState& s) const {
    s.clear();
    s["func_evals"] = Tensor(xt::xarray<std::int64_t>(func_evals));
    s["n_iter"] = Tensor(xt::xarray<std::int64_t>(n_iter));
    if (d.empty()) return;
    s["d"] = tensor_of(d);
    s["prev_flat_grad"] = tensor_of(prev_flat_grad);
    s["t"] = tensor(t, kFloat64);
    s["H_diag"] = tensor(H_diag, kFloat64);
    s["prev_loss"] = tensor(prev_loss, kFloat64);
    for (std::size_t j = 0; j < ro.size(); ++j) {
      const std::string k = std::to_string(j);
      s["old_dirs." + k] = tensor_of(old_dirs[j]);
      s["old_stps." + k] = tensor_of(old_stps[j]);
      s["ro." + k] = tensor(ro[j], kFloat64);
    }
  }
};

/// Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to bounds
/// (by default [min(x1,x2), max(x1,x2)]); the midpoint when the cubic has no minimum.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  const auto [xmin_bound, xmax_bound] =
      bounds ? *bounds : (x1 <= x2 ? std::pair(x1, x2) : std::pair(x2, x1));
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return std::min(std::max(min_pos, xmin_bound), xmax_bound);
  }
  return (xmin_bound + xmax_bound) / 2;
}

template <class T>
struct LineSearchResult {
  double loss;
  Vec<T> grad;
  double t;
  std::int64_t func_evals;
};

/// Strong-Wolfe line search along d from the point where f, g, gtd = g.d were evaluated;
/// evaluate(t) returns the loss and gradient at x + t d. A bracketing phase followed by a zoom
/// phase, as torch.optim.lbfgs._strong_wolfe (c1 = 1e-4, c2 = 0.9, at most max_ls evaluations).
template <class T, class Evaluate>
LineSearchResult<T> strong_wolfe(Evaluate evaluate, double t, const Vec<T>& d, double f,
                                 const Vec<T>& g, double gtd, double tolerance_change,
                                 double c1 = 1e-4, double c2 = 0.9, std::int64_t max_ls = 25) {
  const double d_norm = max_abs(d);
  // Plain variables, not a structured binding: the lambda below captures them, which C++17
  // (and clang before 16) does not allow for bindings.
  double f_new;
  Vec<T> g_new;
  std::tie(f_new, g_new) = evaluate(t);
  std::int64_t ls_func_evals = 1;
  double gtd_new = dot(g_new, d);

  // Bracket an interval containing a point satisfying the Wolfe criteria.
  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  Vec<T> g_prev = g;
  bool done = false;
  std::int64_t ls_iter = 0;
  std::vector<double> bracket, bracket_f, bracket_gtd;
  std::vector<Vec<T>> bracket_g;
  auto bracket_previous_and_new = [&] {
    bracket = {t_prev, t};
    bracket_f = {f_prev, f_new};
    bracket_g = {g_prev, g_new};
    bracket_gtd = {gtd_prev, gtd_new};
  };
  while (ls_iter < max_ls) {
    if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
      bracket_previous_and_new();
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket = {t};
      bracket_f = {f_new};
      bracket_g = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bracket_previous_and_new();
      break;
    }
    // Extrapolate by cubic interpolation within [t + 0.01 (t - t_prev), 10 t].
    const double min_step = t + 0.01 * (t - t_prev);
    const double max_step = t * 10;
    const double previous_t = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                          std::pair(min_step, max_step));
    t_prev = previous_t;
    f_prev = f_new;
    g_prev = g_new;
    gtd_prev = gtd_new;
    std::tie(f_new, g_new) = evaluate(t);
    ++ls_func_evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) {
    bracket = {0, t};
    bracket_f = {f, f_new};
    bracket_g = {g, g_new};
  }

  // Zoom: shrink the bracket until a point satisfies the criteria.
  bool insufficient_progress = false;
  std::size_t low = bracket_f[0] <= bracket_f.back() ? 0 : 1;
  std::size_t high = 1 - low;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1],
                          bracket_gtd[1]);
    // A trial point too close to an end of the bracket moves to 10% of its length inside, when
    // the previous trial was also too close or t fell on or outside an end.
    const double hi = std::max(bracket[0], bracket[1]), lo = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (hi - lo);
    if (std::min(hi - t, t - lo) < eps) {
      if (insufficient_progress || t >= hi || t <= lo) {
        t = std::abs(t - hi) < std::abs(t - lo) ? hi - eps : lo + eps;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    std::tie(f_new, g_new) = evaluate(t);
    ++ls_func_evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;

    if (f_new > f + c1 * t * gtd || f_new >= bracket_f[low]) {
      // Armijo condition not satisfied or not lower than the lowest point: new high end.
      bracket[high] = t;
      bracket_f[high] = f_new;
      bracket_g[high] = g_new;
      bracket_gtd[high] = gtd_new;
      low = bracket_f[0] <= bracket_f[1] ? 0 : 1;
      high = 1 - low;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high] - bracket[low]) >= 0) {
        // The old low end becomes the high end.
        bracket[high] = bracket[low];
        bracket_f[high] = bracket_f[low];
        bracket_g[high] = bracket_g[low];
        bracket_gtd[high] = bracket_gtd[low];
      }
      bracket[low] = t;
      bracket_f[low] = f_new;
      bracket_g[low] = g_new;
      bracket_gtd[low] = gtd_new;
    }
  }
  return {bracket_f[low], bracket_g[low], bracket[low], ls_func_evals};
}

}  // namespace

Tensor LBFGS::step(const LossClosure& closure) {
  if (!closure) fail("LBFGS: step() needs a closure that re-evaluates the loss");
  if (param_groups()[0].params()[0].dtype() == kFloat64) return run<double>(closure);
  return run<float>(closure);
}

template <class T>
Tensor LBFGS::run(const LossClosure& closure) {
  ParamGroup& group = param_groups()[0];
  const auto& o = static_cast<const LBFGSOptions&>(group.options());
  const double lr = o.lr(), tolerance_grad = o.tolerance_grad();
  const double tolerance_change = o.tolerance_change();
  const std::int64_t max_iter = o.max_iter();
  const std::int64_t max_eval = o.max_eval() > 0 ? o.max_eval() : max_iter * 5 / 4;
  const auto history_size = static_cast<std::size_t>(o.history_size());
  FlatParams<T> flat(group.params());
  auto evaluate_loss = [&] { return evaluate(closure).item(); };

  ParamState& state = this->state(group.params()[0]);
  History<T> h(state);

  const Tensor orig_loss = evaluate(closure);
  double loss = orig_loss.item();
  std::int64_t current_evals = 1;
  h.func_evals += 1;
  Vec<T> flat_grad = flat.gather_grad();
  bool opt_cond = max_abs(flat_grad) <= tolerance_grad;
  if (opt_cond) {
    h.store(state);
    return orig_loss;
  }

  std::int64_t n_iter = 0;
  while (n_iter < max_iter) {
    ++n_iter;
    ++h.n_iter;

    // Descent direction.
    if (h.n_iter == 1) {
      h.d = negated(flat_grad);
      h.old_dirs.clear();
      h.old_stps.clear();
      h.ro.clear();
      h.H_diag = 1;
    } else {
      Vec<T> y = flat_grad;
      axpy(y, -1.0, h.prev_flat_grad);
      Vec<T> s(h.d.size());
      for (std::size_t i = 0; i < s.size(); ++i) s[i] = h.d[i] * static_cast<T>(h.t);
      const double ys = dot(y, s);
      if (ys > 1e-10) {
        if (h.old_dirs.size() == history_size) {
          h.old_dirs.erase(h.old_dirs.begin());
          h.old_stps.erase(h.old_stps.begin());
          h.ro.erase(h.ro.begin());
        }
        h.old_dirs.push_back(y);
        h.old_stps.push_back(s);
        h.ro.push_back(1.0 / ys);
        h.H_diag = ys / dot(y, y);
      }
      // Two-loop recursion: d = -H g with H0 = H_diag * I.
      const std::size_t num_old = h.old_dirs.size();
      std::vector<double> al(num_old);
      Vec<T> q = negated(flat_grad);
      for (std::size_t i = num_old; i-- > 0;) {
        al[i] = dot(h.old_stps[i], q) * h.ro[i];
        axpy(q, -al[i], h.old_dirs[i]);
      }
      for (T& v : q) v = v * static_cast<T>(h.H_diag);
      for (std::size_t i = 0; i < num_old; ++i) {
        const double be_i = dot(h.old_dirs[i], q) * h.ro[i];
        axpy(q, al[i] - be_i, h.old_stps[i]);
      }
      h.d = std::move(q);
    }
    h.prev_flat_grad = flat_grad;
    h.prev_loss = loss;

    // Step length.
    if (h.n_iter == 1) {
      double l1 = 0;
      for (T v : flat_grad) l1 += std::abs(v);
      h.t = std::min(1.0, 1.0 / l1) * lr;
    } else {
      h.t = lr;
    }
    const double gtd = dot(flat_grad, h.d);
    if (gtd > -tolerance_change) break;

    std::int64_t ls_func_evals = 0;
    if (o.line_search_fn() == "strong_wolfe") {
      const Vec<T> x_init = flat.values();
      auto evaluate_at = [&](double t) {
        flat.add(t, h.d);
        const double f = evaluate_loss();
        Vec<T> g = flat.gather_grad();
        flat.set(x_init);
        return std::pair(f, std::move(g));
      };
      LineSearchResult<T> r =
          strong_wolfe(evaluate_at, h.t, h.d, loss, flat_grad, gtd, tolerance_change);
      loss = r.loss;
      flat_grad = std::move(r.grad);
      h.t = r.t;
      ls_func_evals = r.func_evals;
      flat.add(h.t, h.d);
      opt_cond = max_abs(flat_grad) <= tolerance_grad;
    } else {
      flat.add(h.t, h.d);
      if (n_iter != max_iter) {
        // Re-evaluate, except after the last iteration (in a stochastic setting that evaluation
        // would be wasted: the next step() starts with one).
        loss = evaluate_loss();
        flat_grad = flat.gather_grad();
        opt_cond = max_abs(flat_grad) <= tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    h.func_evals += ls_func_evals;

    // Stopping tests.
    if (n_iter == max_iter) break;
    if (current_evals >= max_eval) break;
    if (opt_cond) break;
    double longest_move = 0;
    for (T v : h.d)
      longest_move = std::max(longest_move, static_cast<double>(std::abs(v * static_cast<T>(h.t))));
    if (longest_move <= tolerance_change) break;
    if (std::abs(loss - h.prev_loss) < tolerance_change) break;
  }
  h.store(state);
  return orig_loss;
}

TG_OPTIM_DEFINE_OPTIONS(LBFGSOptions, TG_LBFGS_OPTIONS)

}  // namespace tg::optim
