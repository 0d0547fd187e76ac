// L1/L2 penalties and the max-norm constraint.
#include "tapegrad/nn/regularize.hpp"

#include <cmath>

#include "internal.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/reduce.hpp"

namespace tg::nn {

namespace {
template <class Term>
Tensor penalty(const char* op, const std::vector<Tensor>& params, Term term) {
  if (params.empty()) return zeros({});
  Tensor total;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined() || !p.is_floating_point())
      fail(op, ": tensor ", i, " is not a defined float32/float64 tensor");
    if (total.defined() && p.dtype() != total.dtype())
      fail(op, ": tensor ", i, " '", p.name(), "' is ", to_string(p.dtype()), " but the others are ",
           to_string(total.dtype()));
    Tensor t = sum(term(p));
    total = total.defined() ? total + t : t;
  }
  return total;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Tensor l1_penalty(const std::vector<Tensor>& params) {
  return penalty("l1_penalty", params, [](const Tensor& p) { return abs(p); });
}

Tensor l2_penalty(const std::vector<Tensor>& params) {
  return penalty("l2_penalty", params, [](const Tensor& p) { return p * p; });
}

std::vector<Tensor> weights(const Module& model) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : model.named_parameters())
    if (p.dim() >= 2 && ends_with(name, "weight")) out.push_back(p);
  return out;
}

Tensor max_norm_(Tensor weight, double max_norm) {
  if (!(max_norm >= 0)) fail("max_norm_: max_norm must be >= 0, got ", max_norm);
  if (!weight.defined() || weight.dim() < 1)
    fail("max_norm_: expected a weight with at least one axis (units first)");
  if (!weight.is_leaf()) fail("max_norm_: can only constrain a leaf tensor");
  const std::size_t units = weight.size(0), fan = units ? weight.numel() / units : 0;
  detail::visit_floating_mut("max_norm_", weight, [&](auto& w) {
    using T = typename std::decay_t<decltype(w)>::value_type;
    for (std::size_t i = 0; i < units; ++i) {
      T* row = w.data() + i * fan;
      double sq = 0;
      for (std::size_t k = 0; k < fan; ++k) sq += static_cast<double>(row[k]) * static_cast<double>(row[k]);
      const double norm = std::sqrt(sq);
      if (norm <= max_norm) continue;
      const double scale = max_norm / norm;
      for (std::size_t k = 0; k < fan; ++k) row[k] = static_cast<T>(row[k] * scale);
    }
  });
  return weight;
}

void max_norm_(Module& model, double max_norm) {
  for (const Tensor& w : weights(model)) max_norm_(w, max_norm);
}

}  // namespace tg::nn
