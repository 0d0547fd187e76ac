// L1/L2 penalties and the max-norm constraint.
#include "tapegrad/nn/regularize.hpp"

#include <cmath>

#include "internal.hpp"
#include "tape.hpp"
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
  if (params.empty()) return zeros({});
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined() || !p.is_floating_point())
      fail("l2_penalty: tensor ", i, " is not a defined float32/float64 tensor");
    if (p.dtype() != params[0].dtype())
      fail("l2_penalty: tensor ", i, " '", p.name(), "' is ", to_string(p.dtype()), " but the others are ",
           to_string(params[0].dtype()));
  }
  // One node for all the tensors (not a square, a sum and an add per tensor): the penalty is
  // added to every step's loss, and its cost was per-op overhead, not arithmetic. The sum runs in
  // the same order as sum(p * p) summed tensor by tensor, so the value is the same bits.
  auto squares = [&](auto zero) {
    using T = decltype(zero);
    T acc = 0;
    for (const Tensor& p : params) {
      const T* v = p.data_ptr<T>();
      T t = 0;
      for (std::size_t k = 0, n = p.numel(); k < n; ++k) t = t + v[k] * v[k];
      acc = acc + t;
    }
    return full({}, static_cast<double>(acc), TensorOptions(params[0].dtype()));
  };
  Tensor total = params[0].dtype() == kFloat32 ? squares(0.0f) : squares(0.0);
  const Save saves = params.size() <= 31 ? static_cast<Save>((1u << params.size()) - 1) : kSaveAll;
  return record(
      "l2_penalty", std::move(total), params, saves,
      [](BackwardContext& c) {
        const Tensor twice = c.grad() * 2.0;
        for (std::size_t i = 0; i < c.num_inputs(); ++i)
          if (c.needs_grad(i)) c.set_grad(i, c.input(i) * twice);
      },
      [](const JvpContext& c) {
        Tensor tangent;
        for (std::size_t i = 0; i < c.num_inputs(); ++i)
          if (c.has_tangent(i)) tangent = tg::detail::add_tangents(tangent, sum(c.input(i) * c.tangent(i)) * 2.0);
        return tangent;
      });
}

std::pair<std::vector<Tensor>, std::vector<Tensor>> split_weights(const Module& model) {
  std::pair<std::vector<Tensor>, std::vector<Tensor>> out;
  const std::vector<Tensor> w = weights(model);
  for (const Tensor& p : model.parameters()) {
    bool is_weight = false;
    for (const Tensor& q : w) is_weight = is_weight || q.is_same(p);
    (is_weight ? out.first : out.second).push_back(p);
  }
  return out;
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
