// Every case of the PyTorch fixture hvp.json: Hessian-vector products (tg::grad with
// create_graph, then a second tg::grad) and double-backward quantities (see
// /work/shared/reference/README.md for the schema).
#include <iostream>
#include <map>

#include "op_check.hpp"
#include "reference.hpp"
#include "tapegrad/nn/losses.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::testing;
using json = nlohmann::json;

namespace {

namespace F = tg::nn::functional;

using Tensors = std::vector<Tensor>;
/// f(inputs, constants by name).
using Expr = std::function<Tensor(const Tensors&, const std::map<std::string, Tensor>&)>;

/// The scalar functions of hvp_cases, spelled as in the README.
const std::map<std::string, Expr>& hvp_functions() {
  static const std::map<std::string, Expr> table = {
      {"tanh_matmul_sq", [](const Tensors& in, const auto&) { return sum(pow(tanh(matmul(in[0], in[1])), 2.0)); }},
      {"lse_times_cubesum", [](const Tensors& in, const auto&) { return logsumexp(in[0]) * sum(pow(in[0], 3.0)); }},
      {"mse_linear",
       [](const Tensors& in, const auto& k) {
         return mean(pow(matmul(k.at("X"), in[0].t()) + in[1] - k.at("T"), 2.0));
       }},
      {"rosenbrock",
       [](const Tensors& in, const auto&) {
         const Tensor x0 = select(in[0], 0, 0), x1 = select(in[0], 0, 1);
         return pow(1.0 - x0, 2.0) + 100.0 * pow(x1 - pow(x0, 2.0), 2.0);
       }},
      {"sigmoid_coupled",
       [](const Tensors& in, const auto&) { return sum(sigmoid(in[0] * in[1])) + sum(pow(in[0], 2.0) * in[1]); }},
      {"soft_xent", [](const Tensors& in, const auto& k) { return -sum(k.at("P") * log_softmax(in[0], 1)); }},
      {"sqrt_rational", [](const Tensors& in, const auto&) { return sum(sqrt(in[0]) / (1.0 + pow(in[0], 2.0))); }},
      {"sumsq_times_sumexp", [](const Tensors& in, const auto&) { return sum(pow(in[0], 2.0)) * sum(exp(in[0])); }},
      {"mlp_xent",
       [](const Tensors& in, const auto& k) {
         const Tensor hidden = tanh(matmul(k.at("X"), in[0].t()) + in[1]);
         return F::cross_entropy(matmul(hidden, in[2].t()) + in[3], k.at("y"));
       }},
      {"gelu_affine_sq",
       [](const Tensors& in, const auto&) { return sum(pow(gelu(matmul(in[0], in[1]) + in[2], "tanh"), 2.0)); }},
  };
  return table;
}

/// The (usually tensor-valued) functions of double_backward_cases.
const std::map<std::string, Expr>& double_backward_functions() {
  static const std::map<std::string, Expr> table = {
      {"tanh", [](const Tensors& in, const auto&) { return tanh(in[0]); }},
      {"sigmoid", [](const Tensors& in, const auto&) { return sigmoid(in[0]); }},
      {"softplus", [](const Tensors& in, const auto&) { return softplus(in[0], 1.0, 20.0); }},
      {"gelu_exact", [](const Tensors& in, const auto&) { return gelu(in[0], "none"); }},
      {"gelu_tanh", [](const Tensors& in, const auto&) { return gelu(in[0], "tanh"); }},
      {"elu", [](const Tensors& in, const auto&) { return elu(in[0], 1.0); }},
      {"exp_times_log", [](const Tensors& in, const auto&) { return exp(in[0]) * log(in[1]); }},
      {"div", [](const Tensors& in, const auto&) { return in[0] / in[1]; }},
      {"pow_cube", [](const Tensors& in, const auto&) { return pow(in[0], 3.0); }},
      {"softmax_dim1", [](const Tensors& in, const auto&) { return softmax(in[0], 1); }},
      {"log_softmax_dim1", [](const Tensors& in, const auto&) { return log_softmax(in[0], 1); }},
      {"logsumexp_dim1", [](const Tensors& in, const auto&) { return logsumexp(in[0], {1}); }},
      {"var_dim1", [](const Tensors& in, const auto&) { return var(in[0], {1}, true); }},
      {"matmul_tanh", [](const Tensors& in, const auto&) { return tanh(matmul(in[0], in[1])); }},
      {"linear_sigmoid", [](const Tensors& in, const auto&) { return sigmoid(linear(in[0], in[1], in[2])); }},
      {"cross_entropy", [](const Tensors& in, const auto& k) { return F::cross_entropy(in[0], k.at("target")); }},
      {"mse_loss", [](const Tensors& in, const auto&) { return F::mse_loss(in[0], in[1]); }},
  };
  return table;
}


Tensors leaves(const json& list) {
  Tensors out;
  for (const json& t : list) out.push_back(tensor_from_json(t).requires_grad_());
  return out;
}

std::map<std::string, Tensor> constants_of(const json& c) {
  std::map<std::string, Tensor> out;
  for (const json& t : c.at("constants")) out[t.at("name")] = tensor_from_json(t);
  return out;
}

/// sum_i <a_i, b_i> over two lists of tensors (undefined a_i count as zero).
Tensor inner(const Tensors& a, const Tensors& b) {
  Tensor s;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].defined()) continue;
    Tensor term = sum(a[i] * b[i]);
    s = s.defined() ? s + term : term;
  }
  return s;
}

/// Compares a list of tensors with a fixture list (an undefined gradient means zero).
void compare_list(const std::string& label, const Tensors& ours, const json& expected, double atol, double rtol,
                  ErrorStats& stats) {
  REQUIRE(ours.size() == expected.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const Tensor want = tensor_from_json(expected[i]);
    const Tensor got = ours[i].defined() ? ours[i] : zeros_like(want);
    const ErrorStats e = compare_values(label + "[" + expected[i].value("name", "") + "]", got, want, atol, rtol);
    CHECK(e.max_tol_ratio <= 1);
    stats.merge(e);
  }
}

}  // namespace

TEST_CASE("reference hvp.json: Hessian-vector products agree with PyTorch") {
  const json file = load_reference("hvp.json");
  const json& cases = file.at("hvp_cases");
  std::size_t run = 0;
  ErrorStats first, second;
  for (const json& c : cases) {
    const std::string name = c.at("name");
    INFO("hvp case " << name << ": " << c.at("expr").get<std::string>());
    const auto it = hvp_functions().find(name);
    REQUIRE(it != hvp_functions().end());
    const Tensors x = leaves(c.at("inputs"));
    Tensors v;
    for (const json& t : c.at("v")) v.push_back(tensor_from_json(t));
    const Tensor f = it->second(x, constants_of(c));
    const ErrorStats e = compare_values(name + ":value", f, Tensor(xt::xarray<double>(c.at("value").get<double>())),
                                        kReferenceAtol, kReferenceRtol);
    CHECK(e.max_tol_ratio <= 1);
    first.merge(e);
    const Tensors g = tg::grad({f}, x, {}, std::nullopt, /*create_graph=*/true);
    compare_list(name + ":grads", g, c.at("grads"), kReferenceAtol, kReferenceRtol, first);
    const Tensors hv = tg::grad({inner(g, v)}, x, {}, std::nullopt, false, /*allow_unused=*/true);
    compare_list(name + ":hvp", hv, c.at("hvp"), kSecondOrderAtol, kSecondOrderRtol, second);
    ++run;
  }
  std::cout << "hvp.json hvp_cases: " << run << " cases run"
            << "; values/gradients max rel err " << first.max_rel << " (" << first.worst_rel << ")"
            << "; hvp max rel err " << second.max_rel << " (" << second.worst_rel << "), max abs err " << second.max_abs
            << " (worst " << second.worst << ", " << second.max_tol_ratio << " of tolerance)\n";
  CHECK(run == cases.size());
}

TEST_CASE("reference hvp.json: double backward agrees with PyTorch") {
  const json file = load_reference("hvp.json");
  const json& cases = file.at("double_backward_cases");
  std::size_t run = 0;
  ErrorStats first, second;
  for (const json& c : cases) {
    const std::string name = c.at("name");
    INFO("double backward case " << name << ": " << c.at("expr").get<std::string>());
    const auto it = double_backward_functions().find(name);
    REQUIRE(it != double_backward_functions().end());
    const Tensors x = leaves(c.at("inputs"));
    Tensors u;
    for (const json& t : c.at("u")) u.push_back(tensor_from_json(t));
    const Tensor w = tensor_from_json(c.at("upstream")).requires_grad_();
    const Tensor y = it->second(x, constants_of(c));
    const ErrorStats e =
        compare_values(name + ":output", y, tensor_from_json(c.at("output")), kReferenceAtol, kReferenceRtol);
    CHECK(e.max_tol_ratio <= 1);
    first.merge(e);
    // g_i = J_i^T w, recorded so that it can be differentiated with respect to x and w.
    const Tensors g = tg::grad({y}, x, {w}, std::nullopt, /*create_graph=*/true);
    compare_list(name + ":vjp", g, c.at("vjp"), kReferenceAtol, kReferenceRtol, first);
    Tensors wrt = x;
    wrt.push_back(w);
    Tensors gg = tg::grad({inner(g, u)}, wrt, {}, std::nullopt, false, /*allow_unused=*/true);
    const Tensor grad_w = gg.back();
    gg.pop_back();
    compare_list(name + ":grad_inputs", gg, c.at("grad_inputs"), kSecondOrderAtol, kSecondOrderRtol, second);
    const json expected_w = json::array({c.at("grad_upstream")});
    compare_list(name + ":grad_upstream", {grad_w}, expected_w, kSecondOrderAtol, kSecondOrderRtol, second);
    ++run;
  }
  std::cout << "hvp.json double_backward_cases: " << run << " cases run"
            << "; outputs/vjps max rel err " << first.max_rel << " (" << first.worst_rel << ")"
            << "; second order max rel err " << second.max_rel << " (" << second.worst_rel << "), max abs err "
            << second.max_abs << " (worst " << second.worst << ", " << second.max_tol_ratio << " of tolerance)\n";
  CHECK(run == cases.size());
}
