// Every case of the PyTorch fixture ops.json: outputs and vector-Jacobian products agree to
// 1e-12 + 1e-10 |torch| (see /work/shared/reference/README.md for the schema). Each case's "op"
// is dispatched through a table from op name to our spelling of the torch call.
#include <iostream>
#include <limits>
#include <map>
#include <set>

#include "op_check.hpp"
#include "reference.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;
using json = nlohmann::json;

namespace {

using Inputs = std::vector<Tensor>;
using Op = std::function<Tensor(const Inputs&, const json&)>;

/// torch's dim argument (null, an int, or a list) as our axes (empty = all).
Axes axes_of(const json& dim) {
  if (dim.is_null()) return {};
  if (dim.is_number_integer()) return {dim.get<int>()};
  return dim.get<Axes>();
}

std::optional<std::int64_t> optional_int(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::int64_t>();
}

namespace F = tg::nn::functional;

/// A loss's reduction argument.
nn::Reduction reduction(const json& k) {
  const std::string r = k.at("reduction");
  if (r == "none") return nn::Reduction::none;
  if (r == "sum") return nn::Reduction::sum;
  if (r == "batchmean") return nn::Reduction::batchmean;
  REQUIRE(r == "mean");
  return nn::Reduction::mean;
}

/// The input called `name` (the test adds the case's input names to kwargs as "input_names"), or
/// an undefined tensor when the case has none.
Tensor named(const Inputs& x, const json& k, const std::string& name) {
  const auto& names = k.at("input_names");
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return x[i];
  return Tensor();
}

/// A bound of clamp: null means none.
double bound(const json& j, double none) { return j.is_null() ? none : j.get<double>(); }

/// op name -> our spelling of the torch call in the README table.
const std::map<std::string, Op>& op_table() {
  static const std::map<std::string, Op> table = {
      {"add", [](const Inputs& x, const json&) { return x[0] + x[1]; }},
      {"sub", [](const Inputs& x, const json&) { return x[0] - x[1]; }},
      {"mul", [](const Inputs& x, const json&) { return x[0] * x[1]; }},
      {"div", [](const Inputs& x, const json&) { return x[0] / x[1]; }},
      {"add_scalar", [](const Inputs& x, const json& k) { return x[0] + k["other"].get<double>(); }},
      {"mul_scalar", [](const Inputs& x, const json& k) { return x[0] * k["other"].get<double>(); }},
      {"rsub_scalar", [](const Inputs& x, const json& k) { return k["other"].get<double>() - x[0]; }},
      {"rdiv_scalar", [](const Inputs& x, const json& k) { return k["other"].get<double>() / x[0]; }},
      {"neg", [](const Inputs& x, const json&) { return -x[0]; }},
      {"pow_scalar", [](const Inputs& x, const json& k) { return pow(x[0], k["exponent"].get<double>()); }},
      {"rpow_scalar", [](const Inputs& x, const json& k) { return pow(k["base"].get<double>(), x[0]); }},
      {"pow", [](const Inputs& x, const json&) { return pow(x[0], x[1]); }},
      {"exp", [](const Inputs& x, const json&) { return exp(x[0]); }},
      {"log", [](const Inputs& x, const json&) { return log(x[0]); }},
      {"sqrt", [](const Inputs& x, const json&) { return sqrt(x[0]); }},
      {"abs", [](const Inputs& x, const json&) { return abs(x[0]); }},
      {"sin", [](const Inputs& x, const json&) { return sin(x[0]); }},
      {"cos", [](const Inputs& x, const json&) { return cos(x[0]); }},
      {"tanh", [](const Inputs& x, const json&) { return tanh(x[0]); }},
      {"sigmoid", [](const Inputs& x, const json&) { return sigmoid(x[0]); }},
      {"relu", [](const Inputs& x, const json&) { return relu(x[0]); }},
      {"leaky_relu",
       [](const Inputs& x, const json& k) { return leaky_relu(x[0], k["negative_slope"].get<double>()); }},
      {"elu", [](const Inputs& x, const json& k) { return elu(x[0], k["alpha"].get<double>()); }},
      {"softplus",
       [](const Inputs& x, const json& k) {
         return softplus(x[0], k["beta"].get<double>(), k["threshold"].get<double>());
       }},
      {"gelu", [](const Inputs& x, const json& k) { return gelu(x[0], k["approximate"].get<std::string>()); }},
      {"clamp",
       [](const Inputs& x, const json& k) {
         const double inf = std::numeric_limits<double>::infinity();
         return clamp(x[0], bound(k["min"], -inf), bound(k["max"], inf));
       }},
      {"maximum", [](const Inputs& x, const json&) { return maximum(x[0], x[1]); }},
      {"minimum", [](const Inputs& x, const json&) { return minimum(x[0], x[1]); }},
      {"sum", [](const Inputs& x, const json& k) { return sum(x[0], axes_of(k["dim"]), k["keepdim"].get<bool>()); }},
      {"mean",
       [](const Inputs& x, const json& k) { return mean(x[0], axes_of(k["dim"]), k["keepdim"].get<bool>()); }},
      {"max",
       [](const Inputs& x, const json& k) {
         return k["dim"].is_null() ? max(x[0]) : max(x[0], k["dim"].get<int>(), k["keepdim"].get<bool>());
       }},
      {"min",
       [](const Inputs& x, const json& k) {
         return k["dim"].is_null() ? min(x[0]) : min(x[0], k["dim"].get<int>(), k["keepdim"].get<bool>());
       }},
      {"prod",
       [](const Inputs& x, const json& k) { return prod(x[0], axes_of(k["dim"]), k["keepdim"].get<bool>()); }},
      {"var",
       [](const Inputs& x, const json& k) {
         return var(x[0], axes_of(k["dim"]), k["unbiased"].get<bool>(), k["keepdim"].get<bool>());
       }},
      {"std",
       [](const Inputs& x, const json& k) {
         return tg::std(x[0], axes_of(k["dim"]), k["unbiased"].get<bool>(), k["keepdim"].get<bool>());
       }},
      {"logsumexp",
       [](const Inputs& x, const json& k) { return logsumexp(x[0], axes_of(k["dim"]), k["keepdim"].get<bool>()); }},
      {"softmax", [](const Inputs& x, const json& k) { return softmax(x[0], k["dim"].get<int>()); }},
      {"log_softmax", [](const Inputs& x, const json& k) { return log_softmax(x[0], k["dim"].get<int>()); }},
      {"matmul", [](const Inputs& x, const json&) { return matmul(x[0], x[1]); }},
      {"transpose",
       [](const Inputs& x, const json& k) { return transpose(x[0], k["dim0"].get<int>(), k["dim1"].get<int>()); }},
      {"permute", [](const Inputs& x, const json& k) { return permute(x[0], k["dims"].get<std::vector<int>>()); }},
      {"reshape",
       [](const Inputs& x, const json& k) { return reshape(x[0], k["shape"].get<std::vector<std::int64_t>>()); }},
      {"expand", [](const Inputs& x, const json& k) { return expand(x[0], k["shape"].get<Shape>()); }},
      {"slice",
       [](const Inputs& x, const json& k) {
         const std::int64_t step = k["step"].is_null() ? 1 : k["step"].get<std::int64_t>();
         return slice(x[0], k["dim"].get<int>(), optional_int(k["start"]), optional_int(k["stop"]), step);
       }},
      {"select",
       [](const Inputs& x, const json& k) { return select(x[0], k["dim"].get<int>(), k["index"].get<std::int64_t>()); }},
      {"getitem",
       [](const Inputs& x, const json& k) {
         std::vector<Index> index;
         for (const json& e : k["index"]) {
           if (e.is_number_integer()) {
             index.emplace_back(e.get<std::int64_t>());
           } else {
             const std::int64_t step = e[2].is_null() ? 1 : e[2].get<std::int64_t>();
             index.push_back(Slice(optional_int(e[0]), optional_int(e[1]), step));
           }
         }
         return getitem(x[0], index);
       }},
      {"index_select", [](const Inputs& x, const json& k) { return index_select(x[0], k["dim"].get<int>(), x[1]); }},
      {"embedding", [](const Inputs& x, const json&) { return embedding(x[0], x[1]); }},
      {"gather", [](const Inputs& x, const json& k) { return gather(x[0], k["dim"].get<int>(), x[1]); }},
      {"cat", [](const Inputs& x, const json& k) { return cat(x, k["dim"].get<int>()); }},
      {"stack", [](const Inputs& x, const json& k) { return stack(x, k["dim"].get<int>()); }},
      {"squeeze",
       [](const Inputs& x, const json& k) { return k["dim"].is_null() ? squeeze(x[0]) : squeeze(x[0], k["dim"].get<int>()); }},
      {"unsqueeze", [](const Inputs& x, const json& k) { return unsqueeze(x[0], k["dim"].get<int>()); }},
      {"where", [](const Inputs& x, const json&) { return where(x[0], x[1], x[2]); }},
      {"linear",
       [](const Inputs& x, const json&) { return x.size() == 3 ? linear(x[0], x[1], x[2]) : linear(x[0], x[1]); }},
      // Losses (tg::nn::functional); optional third inputs are found by name.
      {"mse_loss", [](const Inputs& x, const json& k) { return F::mse_loss(x[0], x[1], reduction(k)); }},
      {"l1_loss", [](const Inputs& x, const json& k) { return F::l1_loss(x[0], x[1], reduction(k)); }},
      {"smooth_l1_loss",
       [](const Inputs& x, const json& k) { return F::smooth_l1_loss(x[0], x[1], reduction(k), k["beta"].get<double>()); }},
      {"huber_loss",
       [](const Inputs& x, const json& k) { return F::huber_loss(x[0], x[1], reduction(k), k["delta"].get<double>()); }},
      {"binary_cross_entropy",
       [](const Inputs& x, const json& k) {
         return F::binary_cross_entropy(x[0], x[1], named(x, k, "weight"), reduction(k));
       }},
      {"binary_cross_entropy_with_logits",
       [](const Inputs& x, const json& k) {
         return F::binary_cross_entropy_with_logits(x[0], x[1], named(x, k, "weight"), reduction(k),
                                                    named(x, k, "pos_weight"));
       }},
      {"cross_entropy",
       [](const Inputs& x, const json& k) {
         return F::cross_entropy(x[0], x[1], named(x, k, "weight"), reduction(k), k["label_smoothing"].get<double>());
       }},
      {"nll_loss",
       [](const Inputs& x, const json& k) { return F::nll_loss(x[0], x[1], named(x, k, "weight"), reduction(k)); }},
      {"kl_div",
       [](const Inputs& x, const json& k) { return F::kl_div(x[0], x[1], reduction(k), k["log_target"].get<bool>()); }},
  };
  return table;
}

}  // namespace

TEST_CASE("reference ops.json: every op agrees with PyTorch (values and gradients)") {
  const json cases = load_reference("ops.json");
  REQUIRE(cases.is_array());
  std::size_t run = 0;
  std::set<std::string> ops_run;
  ErrorStats outputs, grads;
  for (const json& c : cases) {
    const std::string name = c.at("name"), op = c.at("op");
    INFO("case " << name << " (" << c.at("torch").get<std::string>() << ")");
    const auto it = op_table().find(op);
    REQUIRE(it != op_table().end());
    Inputs inputs, wrt;
    std::vector<std::size_t> wrt_pos;
    for (const json& t : c.at("inputs")) {
      Tensor x = tensor_from_json(t);
      if (t.value("requires_grad", false)) {
        x.requires_grad_();
        wrt.push_back(x);
        wrt_pos.push_back(inputs.size());
      }
      inputs.push_back(x);
    }
    json kwargs = c.at("kwargs");
    kwargs["input_names"] = json::array();
    for (const json& t : c.at("inputs")) kwargs["input_names"].push_back(t.value("name", ""));
    const Tensor out = it->second(inputs, kwargs);
    const ErrorStats o = compare_values(name + ":output", out, tensor_from_json(c.at("output")), kReferenceAtol,
                                        kReferenceRtol);
    CHECK(o.max_tol_ratio <= 1);
    outputs.merge(o);
    if (c.contains("extra_outputs")) {
      const int dim = c["kwargs"]["dim"].get<int>();
      const bool keepdim = c["kwargs"]["keepdim"].get<bool>();
      const Tensor idx = op == "max" ? argmax(inputs[0], dim, keepdim) : argmin(inputs[0], dim, keepdim);
      const Tensor expected = tensor_from_json(c["extra_outputs"]["indices"]);
      CHECK(idx.dtype() == kInt64);
      REQUIRE(idx.shape() == expected.shape());
      CHECK(idx.value<std::int64_t>() == expected.value<std::int64_t>());
    }
    if (!wrt.empty()) {
      const auto g = tg::grad({out}, wrt, {tensor_from_json(c.at("upstream"))});
      for (std::size_t w = 0; w < wrt.size(); ++w) {
        const json& expected = c.at("grads").at(wrt_pos[w]);
        REQUIRE(!expected.is_null());
        const ErrorStats e = compare_values(name + ":grad[" + std::to_string(wrt_pos[w]) + "]", g[w],
                                            tensor_from_json(expected), kReferenceAtol, kReferenceRtol);
        CHECK(e.max_tol_ratio <= 1);
        grads.merge(e);
      }
    }
    ops_run.insert(op);
    ++run;
  }
  std::cout << "ops.json: " << run << " cases run (" << ops_run.size() << " ops)"
            << "; outputs: max rel err " << outputs.max_rel << " (" << outputs.worst_rel << "), max abs err "
            << outputs.max_abs << " (worst " << outputs.worst << ", " << outputs.max_tol_ratio << " of tolerance)"
            << "; gradients: max rel err " << grads.max_rel << " (" << grads.worst_rel << "), max abs err "
            << grads.max_abs << " (worst " << grads.worst << ", " << grads.max_tol_ratio << " of tolerance)\n";
  CHECK(run == cases.size());
  CHECK(ops_run.size() == op_table().size());  // every table entry exercised
}
