// Optimizers: update rules derived by hand, option validation, parameter groups, skipped
// parameters, float32, and the state dict (keys, every option saved, errors, bit-exact resume of
// every optimizer).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::optim;
using Catch::Contains;

namespace {

Tensor leaf(std::initializer_list<double> v, DType dtype = kFloat64) {
  return tensor(v, TensorOptions(dtype).requires_grad());
}
double at(const Tensor& t, std::size_t i) { return t.to_double().data()[i]; }

/// Sets x.grad = x, the gradient of 0.5 * sum(x^2).
void half_square_grad(const std::vector<Tensor>& xs) {
  for (const Tensor& x : xs) (0.5 * sum(x * x)).backward();
}

/// A small least-squares problem with two parameter tensors: mean((tanh(X W^T + b) - Y)^2).
struct Problem {
  Tensor W, b, X, Y;
  explicit Problem(DType dtype = kFloat64) {
    W = tensor({{0.3, -0.2}, {0.1, 0.5}, {-0.4, 0.25}}, TensorOptions(dtype).requires_grad());
    b = tensor({0.05, -0.1, 0.2}, TensorOptions(dtype).requires_grad());
    X = tensor({{1, 2}, {-1, 0.5}, {0.3, -0.7}, {2, 1}, {-0.5, -1.5}}, dtype);
    Y = tensor({{0.5, -0.3, 0.1}, {0.2, 0.4, -0.6}, {-0.1, 0.3, 0.2}, {0.7, 0, -0.2},
                {-0.4, 0.1, 0.6}},
               dtype);
  }
  Tensor loss() const { return mean(pow(tanh(linear(X, W, b)) - Y, 2)); }
};

}  // namespace

// ---- Update rules by hand ---------------------------------------------------------------------

TEST_CASE("SGD: plain, momentum and Nesterov steps match the rule worked by hand") {
  Tensor x = leaf({1, -2});
  SGD plain({x}, SGDOptions(0.1));
  half_square_grad({x});
  plain.step();
  CHECK(at(x, 0) == Approx(0.9));
  CHECK(at(x, 1) == Approx(-1.8));

  Tensor y = leaf({1, -2});
  SGD momentum({y}, SGDOptions(0.1).momentum(0.9));
  for (int i = 0; i < 2; ++i) {
    momentum.zero_grad();
    half_square_grad({y});
    momentum.step();
  }
  // buf1 = g1 = (1,-2), y1 = (0.9,-1.8); buf2 = 0.9 buf1 + y1 = (1.8,-3.6), y2 = y1 - 0.1 buf2
  CHECK(at(y, 0) == Approx(0.72));
  CHECK(at(y, 1) == Approx(-1.44));

  Tensor z = leaf({1, -2});
  SGD nesterov({z}, SGDOptions(0.1).momentum(0.9).nesterov(true));
  half_square_grad({z});
  nesterov.step();  // direction g + 0.9 buf = 1.9 g
  CHECK(at(z, 0) == Approx(0.81));
  CHECK(at(z, 1) == Approx(-1.62));
}

TEST_CASE("SGD: weight decay shrinks, maximize ascends") {
  Tensor x = leaf({2, -4});
  SGD decay({x}, SGDOptions(0.1).weight_decay(0.5));
  sum(x * 0.0).backward();  // zero gradient: only the decay acts
  decay.step();
  CHECK(at(x, 0) == Approx(2 * 0.95));
  CHECK(at(x, 1) == Approx(-4 * 0.95));

  Tensor y = leaf({1, -2});
  SGD up({y}, SGDOptions(0.1).maximize(true));
  half_square_grad({y});
  up.step();
  CHECK(at(y, 0) == Approx(1.1));
  CHECK(at(y, 1) == Approx(-2.2));
}

TEST_CASE("SGD: momentum = dampening = a is the inertia form dw = (1-a) eta g + a dw") {
  const double a = 0.7, eta = 0.05;
  Tensor x = leaf({1.5, -0.5});
  SGD opt({x}, SGDOptions(eta).momentum(a).dampening(a));
  double classic[2] = {1.5, -0.5}, dw[2] = {0, 0};
  for (int t = 1; t <= 20; ++t) {
    opt.zero_grad();
    half_square_grad({x});
    opt.step();
    for (int i = 0; i < 2; ++i) {
      const double g = classic[i];  // the gradient of 0.5 x^2
      // The first step is eta * g (PyTorch's buffer starts as the gradient, undamped).
      dw[i] = t == 1 ? eta * g : (1 - a) * eta * g + a * dw[i];
      classic[i] -= dw[i];
    }
    CHECK(at(x, 0) == Approx(classic[0]).epsilon(1e-12));
    CHECK(at(x, 1) == Approx(classic[1]).epsilon(1e-12));
  }
}

TEST_CASE("Adam, Adagrad, Adamax: the first step is lr * sign(g); AdamW decays first") {
  auto first_step = [](auto make) {
    Tensor x = leaf({1.0, -3.0});
    auto opt = make(std::vector<Tensor>{x});
    sum(x * tensor({2.0, -0.5}, kFloat64)).backward();  // g = (2, -0.5)
    opt->step();
    return std::pair(at(x, 0), at(x, 1));
  };
  auto adam = first_step([](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1)); });
  CHECK(adam.first == Approx(0.9));
  CHECK(adam.second == Approx(-2.9));
  auto adagrad =
      first_step([](auto p) { return std::make_unique<Adagrad>(p, AdagradOptions(0.1)); });
  CHECK(adagrad.first == Approx(0.9));
  CHECK(adagrad.second == Approx(-2.9));
  auto adamax = first_step([](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions(0.1)); });
  CHECK(adamax.first == Approx(0.9));
  CHECK(adamax.second == Approx(-2.9));

  Tensor x = leaf({1.0, -3.0});
  AdamW adamw({x}, AdamWOptions(0.1).weight_decay(0.5));
  sum(x * 0.0).backward();  // zero gradient: m = v = 0, only the decoupled decay acts
  adamw.step();
  CHECK(at(x, 0) == Approx(0.95));
  CHECK(at(x, 1) == Approx(-2.85));
}

TEST_CASE("NAdam: the first step follows the published formula") {
  const double lr = 0.1, b1 = 0.9, psi = 0.004, g = 2.0;
  Tensor x = leaf({1.0});
  NAdam opt({x}, NAdamOptions(lr));
  sum(x * g).backward();
  opt.step();
  const double mu1 = b1 * (1 - 0.5 * std::pow(0.96, psi));
  const double mu2 = b1 * (1 - 0.5 * std::pow(0.96, 2 * psi));
  const double m = (1 - b1) * g, denom = std::abs(g) + 1e-8;  // sqrt(v / (1 - b2)) + eps
  const double expected =
      1.0 - lr * (1 - mu1) / (1 - mu1) * g / denom - lr * mu2 / (1 - mu1 * mu2) * m / denom;
  CHECK(at(x, 0) == Approx(expected).epsilon(1e-12));
  CHECK(opt.state(x).at("mu_product").item() == Approx(mu1).epsilon(1e-15));
}

// ---- Options, groups, skipped parameters ------------------------------------------------------

TEST_CASE("Adam's vectorised update gives the bits of its rule computed one element at a time") {
  // The library's loop runs in 16 or 8 lanes where the CPU has them (AVX-512, AVX2); the rule
  // below runs here one element at a time with the same roundings: fma where the library fuses,
  // correctly rounded sqrt and division. 1,003 elements leave a remainder after the full vectors.
  const std::size_t n = 1003;
  const float lr = 1e-2f;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  Generator gen(17);
  Tensor x = randn({n}, kFloat32, &gen).requires_grad_();
  std::vector<float> xs(x.value<float>().begin(), x.value<float>().end()), m(n, 0.0f), v(n, 0.0f);
  Adam adam({x}, AdamOptions(lr).betas({beta1, beta2}).eps(eps));
  for (int step = 1; step <= 3; ++step) {
    const Tensor c = randn({n}, kFloat32, &gen);
    adam.zero_grad();
    sum(x * x * c).backward();
    const xt::xarray<float> g = x.grad().value<float>();
    adam.step();
    const float minus_step = static_cast<float>(-(lr / (1 - std::pow(beta1, step))));
    const float bc2_sqrt = static_cast<float>(std::sqrt(1 - std::pow(beta2, step)));
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = std::fma(static_cast<float>(1 - beta1), g(i), m[i] * static_cast<float>(beta1));
      v[i] = std::fma(static_cast<float>(1 - beta2) * g(i), g(i), v[i] * static_cast<float>(beta2));
      const float denom = std::sqrt(v[i]) / bc2_sqrt + static_cast<float>(eps);
      const float change = minus_step * m[i];
      xs[i] = xs[i] + change / denom;
    }
    const auto& got = x.value<float>();
    std::size_t differing = 0;
    for (std::size_t i = 0; i < n; ++i) differing += got(i) != xs[i];
    INFO("step " << step);
    CHECK(differing == 0);
  }
}

TEST_CASE("optimizers validate their options with clear errors") {
  Tensor x = leaf({1, 2});
  std::vector<Tensor> p{x};
  CHECK_THROWS_WITH(SGD(p, SGDOptions(-0.1)), Contains("SGD") && Contains("learning rate") &&
                                                  Contains("-0.1"));
  CHECK_THROWS_WITH(SGD(p, SGDOptions(0.1).nesterov(true)),
                    Contains("Nesterov") && Contains("momentum"));
  CHECK_THROWS_WITH(SGD(p, SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)),
                    Contains("dampening"));
  CHECK_THROWS_WITH(Adam(p, AdamOptions(0.1).betas({1.0, 0.999})),
                    Contains("Adam") && Contains("beta1") && Contains("[0, 1)"));
  CHECK_THROWS_WITH(Adam(p, AdamOptions(0.1).betas({0.9, -0.1})), Contains("beta2"));
  CHECK_THROWS_WITH(AdamW(p, AdamWOptions(-1)), Contains("AdamW") && Contains("learning rate"));
  CHECK_THROWS_WITH(Adamax(p, AdamaxOptions(0.1).betas({0.9, 1.0})), Contains("Adamax"));
  CHECK_THROWS_WITH(NAdam(p, NAdamOptions(0.1).momentum_decay(-1)), Contains("momentum_decay"));
  CHECK_THROWS_WITH(Adagrad(p, AdagradOptions(0.1).lr_decay(-1)), Contains("lr_decay"));
  CHECK_THROWS_WITH(Adadelta(p, AdadeltaOptions(1).rho(1.5)), Contains("rho"));
  CHECK_THROWS_WITH(RMSprop(p, RMSpropOptions(0.1).alpha(-0.5)), Contains("alpha"));
  CHECK_THROWS_WITH(Adam(p, AdamOptions(std::nan(""))), Contains("learning rate"));
  CHECK_THROWS_WITH(LBFGS(p, LBFGSOptions(1).line_search_fn("backtracking")),
                    Contains("line_search_fn") && Contains("backtracking"));
  CHECK_THROWS_WITH(LBFGS(p, LBFGSOptions(1).history_size(0)), Contains("history_size"));
}

TEST_CASE("optimizers refuse bad parameter lists") {
  Tensor x = leaf({1, 2});
  CHECK_THROWS_WITH(SGD(std::vector<Tensor>{x, x}, SGDOptions(0.1)), Contains("more than once"));
  CHECK_THROWS_WITH(SGD(std::vector<Tensor>{x * 2.0}, SGDOptions(0.1)), Contains("non-leaf"));
  CHECK_THROWS_WITH(SGD(std::vector<Tensor>{tensor({1.0}, kInt64)}, SGDOptions(0.1)),
                    Contains("int64"));
  CHECK_THROWS_WITH(SGD(std::vector<Tensor>{}, SGDOptions(0.1)), Contains("no parameters"));
  CHECK_THROWS_WITH(
      SGD(std::vector<ParamGroup>{ParamGroup({x}, AdamOptions(0.1))}, SGDOptions(0.1)),
      Contains("options of another optimizer"));
  Tensor y = leaf({1});
  CHECK_THROWS_WITH(
      LBFGS(std::vector<ParamGroup>{ParamGroup({x}), ParamGroup({y})}, LBFGSOptions()),
      Contains("parameter groups"));
  CHECK_THROWS_WITH(LBFGS(std::vector<Tensor>{x, leaf({1}, kFloat32)}), Contains("dtype"));
  LBFGS lbfgs(std::vector<Tensor>{x});
  CHECK_THROWS_WITH(lbfgs.step(nullptr), Contains("closure"));
}

TEST_CASE("parameter groups carry their own options; lrs can be changed") {
  Tensor w = leaf({1, 1}), b = leaf({1});
  SGD opt(std::vector<ParamGroup>{ParamGroup({w}), ParamGroup({b}, SGDOptions(0.5))},
          SGDOptions(0.1));
  half_square_grad({w, b});
  opt.step();
  CHECK(at(w, 0) == Approx(0.9));
  CHECK(at(b, 0) == Approx(0.5));
  CHECK(opt.param_groups()[0].options().get_lr() == 0.1);
  opt.param_groups()[1].options().set_lr(0.25);
  CHECK(static_cast<SGDOptions&>(opt.param_groups()[1].options()).lr() == 0.25);

  Tensor c = leaf({2});
  opt.add_param_group(ParamGroup({c}));  // takes the defaults
  CHECK(opt.param_groups()[2].options().get_lr() == 0.1);
  CHECK_THROWS_WITH(opt.add_param_group(ParamGroup({w})), Contains("more than once"));
  CHECK(opt.parameters().size() == 3);
}

TEST_CASE("zero_grad clears or zero-fills; parameters without a gradient are skipped") {
  Tensor used = leaf({1, 2}), unused = leaf({3});
  Adam opt(std::vector<Tensor>{used, unused}, AdamOptions(0.1));
  half_square_grad({used});
  opt.step();
  CHECK(at(unused, 0) == 3);
  CHECK(opt.state(unused).empty());
  CHECK(opt.state(used).at("step").value<std::int64_t>()() == 1);
  CHECK(used.is_leaf());  // the update recorded nothing
  CHECK(used.grad_fn_name().empty());

  opt.zero_grad(false);
  REQUIRE(used.grad().defined());
  CHECK(at(used.grad(), 1) == 0);
  opt.zero_grad();
  CHECK(!used.grad().defined());
  CHECK_THROWS_WITH(opt.state(leaf({0})), Contains("not one of this optimizer's parameters"));
}

TEST_CASE("float32 parameters are updated in float32 and follow the float64 trajectory") {
  auto run = [](DType dtype) {
    Problem p(dtype);
    Adam opt(std::vector<Tensor>{p.W, p.b}, AdamOptions(0.05));
    for (int i = 0; i < 30; ++i) {
      opt.zero_grad();
      p.loss().backward();
      opt.step();
    }
    CHECK(p.W.dtype() == dtype);
    CHECK(opt.state(p.W).at("exp_avg").dtype() == dtype);
    return p.W.to_double();
  };
  const xt::xarray<double> w32 = run(kFloat32), w64 = run(kFloat64);
  for (std::size_t i = 0; i < w64.size(); ++i)
    CHECK(w32.data()[i] == Approx(w64.data()[i]).margin(1e-4));
}

// ---- State dict --------------------------------------------------------------------------------

TEST_CASE("state_dict names options and state as PyTorch does") {
  Tensor x = leaf({1, 2}), y = leaf({3});
  Adam opt(std::vector<ParamGroup>{ParamGroup({x}), ParamGroup({y}, AdamOptions(0.5))},
           AdamOptions(0.1).amsgrad(true));
  half_square_grad({x, y});
  opt.step();
  const StateDict d = opt.state_dict();
  CHECK(d.at("param_groups.0.lr").item() == 0.1);
  CHECK(d.at("param_groups.1.lr").item() == 0.5);
  CHECK(d.at("param_groups.0.betas").shape() == Shape{2});
  CHECK(at(d.at("param_groups.0.betas"), 1) == 0.999);
  CHECK(d.at("param_groups.0.amsgrad").dtype() == kBool);
  CHECK(d.at("param_groups.1.params").value<std::int64_t>()(0) == 1);
  CHECK(d.at("state.0.step").value<std::int64_t>()() == 1);
  CHECK(d.at("state.0.exp_avg").shape() == Shape{2});
  CHECK(d.at("state.0.max_exp_avg_sq").shape() == Shape{2});
  CHECK(d.count("state.1.exp_avg_sq") == 1);
  CHECK(d.count("state.1.max_exp_avg_sq") == 0);  // group 1 has no amsgrad
  // Copies: stepping again does not change the saved dict.
  const double saved = at(d.at("state.0.exp_avg"), 0);
  opt.step();
  CHECK(at(d.at("state.0.exp_avg"), 0) == saved);
}

TEST_CASE("load_state_dict restores options and refuses a different layout") {
  Tensor x = leaf({1, 2});
  SGD a({x}, SGDOptions(0.1).momentum(0.9));
  StateDict d = a.state_dict();
  d["param_groups.0.lr"] = tensor(0.03, kFloat64);
  SGD b({leaf({1, 2})}, SGDOptions(0.5));
  b.load_state_dict(d);
  const auto& o = static_cast<const SGDOptions&>(b.param_groups()[0].options());
  CHECK(o.lr() == 0.03);
  CHECK(o.momentum() == 0.9);

  SGD two(std::vector<Tensor>{leaf({1}), leaf({2})}, SGDOptions(0.1));
  CHECK_THROWS_WITH(two.load_state_dict(d), Contains("group 0 has 2 parameters"));
  StateDict bad = d;
  bad["param_groups.0.lr"] = tensor(-1.0, kFloat64);
  CHECK_THROWS_WITH(b.load_state_dict(bad), Contains("learning rate"));
  CHECK(static_cast<const SGDOptions&>(b.param_groups()[0].options()).lr() == 0.03);
  bad = d;
  bad.erase("param_groups.0.momentum");
  CHECK_THROWS_WITH(b.load_state_dict(bad), Contains("param_groups.0.momentum"));
  bad = d;
  bad["state.7.momentum_buffer"] = tensor({1.0}, kFloat64);
  CHECK_THROWS_WITH(b.load_state_dict(bad), Contains("state.7"));
}

TEST_CASE("load_state_dict checks each parameter's state before changing anything") {
  Tensor x = leaf({1, 2});
  Adam a({x}, AdamOptions(0.1));
  half_square_grad({x});
  a.step();
  const StateDict good = a.state_dict();
  Tensor y = leaf({1, 2});
  Adam b({y}, AdamOptions(0.1));
  StateDict bad = good;
  bad["state.0.exp_avg"] = tensor({1.0, 2.0, 3.0}, kFloat64);
  CHECK_THROWS_WITH(b.load_state_dict(bad),
                    "Adam: load_state_dict: entry 'state.0.exp_avg' has shape (3) but its parameter has shape (2) "
                    "(was the state dict saved for another model?)");
  bad = good;
  bad["state.0.step"] = tensor(1.0, kFloat64);  // PyTorch saves a float step; ours is an int64 count
  CHECK_THROWS_WITH(b.load_state_dict(bad),
                    "Adam: load_state_dict: entry 'state.0.step' should be one int64 count, got float64()");
  bad = good;
  bad["state.0.exp_avg_sq"] = Tensor(xt::xarray<std::int64_t>{1, 2});
  CHECK_THROWS_WITH(
      b.load_state_dict(bad),
      Catch::StartsWith(
          "Adam: load_state_dict: entry 'state.0.exp_avg_sq' should be float32 or float64, got int64(2)"));
  CHECK(b.state(y).empty());  // every refusal left b untouched
  b.load_state_dict(good);
  CHECK(b.state(y).at("step").item() == 1);

  // L-BFGS keeps flat history vectors over all parameters: a wrong length would be read past its end.
  Tensor w = leaf({1, 2}), v = leaf({3});
  LBFGS l({w, v}, LBFGSOptions(0.5).max_iter(5));
  l.step([&] {
    l.zero_grad();
    Tensor loss = sum(w * w) + sum(v * v);
    loss.backward();
    return loss;
  });
  StateDict ls = l.state_dict();
  REQUIRE(ls.at("state.0.d").shape() == Shape{3});
  REQUIRE(ls.count("state.0.ro.0") == 1);
  LBFGS fresh({leaf({1, 2}), leaf({3})}, LBFGSOptions(0.5).max_iter(5));
  fresh.load_state_dict(ls);
  StateDict bad_ls = ls;
  bad_ls["state.0.old_dirs.0"] = tensor({1.0, 2.0}, kFloat64);
  CHECK_THROWS_WITH(fresh.load_state_dict(bad_ls), "LBFGS: load_state_dict: entry 'state.0.old_dirs.0' has float64(2); "
                                                   "expected (3), one float per parameter element");
  // Found by fuzz_checkpoint: n_iter > 0 without the direction d made the next step read an empty
  // vector out of bounds.
  bad_ls = ls;
  bad_ls.erase("state.0.d");
  CHECK_THROWS_WITH(fresh.load_state_dict(bad_ls),
                    "LBFGS: load_state_dict: entry 'state.0.d' is missing, but n_iter > 0");
  bad_ls = ls;
  bad_ls.erase("state.0.ro.0");
  CHECK_THROWS_WITH(fresh.load_state_dict(bad_ls),
                    "LBFGS: load_state_dict: entry 'state.0.old_dirs.0' has no matching 'state.0.ro.0'");
  bad_ls = ls;
  bad_ls["state.0.n_iter"] = tensor(2.0, kFloat64);
  CHECK_THROWS_WITH(fresh.load_state_dict(bad_ls),
                    "LBFGS: load_state_dict: entry 'state.0.n_iter' should be one int64 count, got float64()");
  // The intact state still loads, and stepping from it works.
  fresh.load_state_dict(ls);
  CHECK_NOTHROW(fresh.step([&] {
    fresh.zero_grad();
    Tensor loss = Tensor();
    for (auto& p : fresh.parameters()) loss = loss.defined() ? loss + sum(p * p) : sum(p * p);
    loss.backward();
    return loss;
  }));
}

namespace {

/// One option of an options type, listed here independently of the options class: its
/// param_group name, a setter to a non-default value (plus whatever validate() then needs), and
/// whether two options objects agree on it.
template <class Options>
struct OptionCase {
  std::string name;
  std::function<void(Options&)> set;
  std::function<bool(const Options&, const Options&)> same;
};
/// An OptionCase that sets `name` to the value given.
#define OPTION(name, ...)                                               \
  {                                                                     \
    #name, [](auto& o) { o.name(__VA_ARGS__); },                        \
    [](const auto& a, const auto& b) { return a.name() == b.name(); }   \
  }

/// For each option: set it, state_dict(), load into an optimizer built with `defaults`, and
/// check that every getter gives the value set and that the dict has one key per option.
template <class Opt, class Options>
void check_every_option_saved(const Options& defaults, const std::vector<OptionCase<Options>>& cases) {
  std::set<std::string> names;
  for (const auto& c : cases) names.insert(c.name);
  REQUIRE(names.size() == cases.size());
  for (const auto& c : cases) {
    INFO("option " << c.name);
    Options set = defaults;
    c.set(set);
    REQUIRE_FALSE(c.same(set, defaults));  // else a lost option would go unnoticed
    const Opt saved({leaf({1, 2})}, set);
    const StateDict dict = saved.state_dict();
    std::set<std::string> keys;
    const std::string prefix = "param_groups.0.";
    for (const auto& entry : dict)
      if (entry.first.rfind(prefix, 0) == 0 && entry.first != prefix + "params")
        keys.insert(entry.first.substr(prefix.size()));
    CHECK(keys == names);
    Opt fresh({leaf({1, 2})}, defaults);
    fresh.load_state_dict(dict);
    const auto& loaded = static_cast<const Options&>(fresh.param_groups()[0].options());
    for (const auto& other : cases) {
      INFO("compared option " << other.name);
      CHECK(other.same(loaded, set));
    }
  }
}

}  // namespace

TEST_CASE("every option of every optimizer goes through state_dict and load_state_dict", "[optim][state]") {
  // The names are PyTorch's param_group keys; a new option needs a line here, or the key check fails.
  check_every_option_saved<SGD>(
      SGDOptions(0.1),
      {OPTION(lr, 0.03), OPTION(momentum, 0.5), OPTION(dampening, 0.25), OPTION(weight_decay, 0.01),
       {"nesterov", [](SGDOptions& o) { o.momentum(0.5).nesterov(true); },
        [](const SGDOptions& a, const SGDOptions& b) { return a.nesterov() == b.nesterov(); }},
       OPTION(maximize, true)});
  check_every_option_saved<Adam>(
      AdamOptions(), {OPTION(lr, 0.03), OPTION(betas, Betas{0.8, 0.99}), OPTION(eps, 1e-6),
                      OPTION(weight_decay, 0.1), OPTION(amsgrad, true), OPTION(maximize, true)});
  check_every_option_saved<AdamW>(
      AdamWOptions(), {OPTION(lr, 0.03), OPTION(betas, Betas{0.8, 0.99}), OPTION(eps, 1e-6),
                       OPTION(weight_decay, 0.3), OPTION(amsgrad, true), OPTION(maximize, true)});
  check_every_option_saved<Adamax>(
      AdamaxOptions(), {OPTION(lr, 0.03), OPTION(betas, Betas{0.8, 0.99}), OPTION(eps, 1e-6),
                        OPTION(weight_decay, 0.1), OPTION(maximize, true)});
  check_every_option_saved<NAdam>(
      NAdamOptions(), {OPTION(lr, 0.03), OPTION(betas, Betas{0.8, 0.99}), OPTION(eps, 1e-6),
                       OPTION(weight_decay, 0.1), OPTION(momentum_decay, 0.01),
                       OPTION(decoupled_weight_decay, true), OPTION(maximize, true)});
  check_every_option_saved<Adagrad>(
      AdagradOptions(), {OPTION(lr, 0.03), OPTION(lr_decay, 0.1), OPTION(weight_decay, 0.1),
                         OPTION(initial_accumulator_value, 0.5), OPTION(eps, 1e-8), OPTION(maximize, true)});
  check_every_option_saved<Adadelta>(
      AdadeltaOptions(), {OPTION(lr, 0.5), OPTION(rho, 0.8), OPTION(eps, 1e-5), OPTION(weight_decay, 0.1),
                          OPTION(maximize, true)});
  check_every_option_saved<RMSprop>(
      RMSpropOptions(), {OPTION(lr, 0.03), OPTION(alpha, 0.9), OPTION(eps, 1e-6), OPTION(weight_decay, 0.1),
                         OPTION(momentum, 0.5), OPTION(centered, true), OPTION(maximize, true)});
  check_every_option_saved<LBFGS>(
      LBFGSOptions(), {OPTION(lr, 0.5), OPTION(max_iter, 7), OPTION(max_eval, 9),
                       OPTION(tolerance_grad, 1e-5), OPTION(tolerance_change, 1e-6),
                       OPTION(history_size, 5), OPTION(line_search_fn, "strong_wolfe")});
}
#undef OPTION

namespace {

using Factory = std::function<std::unique_ptr<Optimizer>(const Problem&)>;

/// Runs `total` steps with a StepLR; when `split` > 0, checkpoints after `split` steps (copies of
/// the parameters, optimizer and scheduler state dicts) and finishes on fresh objects built from
/// the checkpoint, as a resumed run would. Returns the final parameters.
std::vector<xt::xarray<double>> run(const Factory& make, bool closure_based, int total, int split) {
  Problem p;
  auto opt = make(p);
  auto sched = std::make_unique<StepLR>(*opt, 4, 0.5);
  for (int s = 1; s <= total; ++s) {
    auto closure = [&] {
      opt->zero_grad();
      Tensor loss = p.loss();
      loss.backward();
      return loss;
    };
    if (closure_based) {
      opt->step(closure);
    } else {
      closure();
      opt->step();
    }
    sched->step();
    if (s == split) {
      const StateDict opt_state = opt->state_dict(), sched_state = sched->state_dict();
      Problem resumed;
      resumed.W = Tensor(p.W.value<double>(), true);
      resumed.b = Tensor(p.b.value<double>(), true);
      // As a resumed program would: build optimizer and scheduler as before, then load both.
      sched.reset();
      opt = make(resumed);
      sched = std::make_unique<StepLR>(*opt, 4, 0.5);
      opt->load_state_dict(opt_state);
      sched->load_state_dict(sched_state);
      p = resumed;
    }
  }
  return {p.W.value<double>(), p.b.value<double>()};
}

bool bitwise_equal(const xt::xarray<double>& a, const xt::xarray<double>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("save and load mid-run resume every optimizer bit for bit", "[optim][state]") {
  // Two groups where the optimizer allows it (the bias group has its own lr).
  auto groups = [](const Problem& p, auto options, double bias_lr) {
    auto bias = options;
    bias.lr(bias_lr);
    return std::vector<ParamGroup>{ParamGroup({p.W}, options), ParamGroup({p.b}, bias)};
  };
  const std::vector<std::pair<const char*, Factory>> optimizers = {
      {"SGD", [&](const Problem& p) {
         return std::make_unique<SGD>(groups(p, SGDOptions(0.1).momentum(0.9).nesterov(true), 0.2),
                                      SGDOptions(0.1));
       }},
      {"Adagrad", [&](const Problem& p) {
         return std::make_unique<Adagrad>(groups(p, AdagradOptions(0.1).lr_decay(0.01), 0.05));
       }},
      {"Adadelta", [&](const Problem& p) {
         return std::make_unique<Adadelta>(groups(p, AdadeltaOptions(1.0).weight_decay(0.01), 0.5));
       }},
      {"RMSprop", [&](const Problem& p) {
         return std::make_unique<RMSprop>(
             groups(p, RMSpropOptions(0.01).centered(true).momentum(0.5), 0.02));
       }},
      {"Adam", [&](const Problem& p) {
         return std::make_unique<Adam>(groups(p, AdamOptions(0.05).amsgrad(true), 0.01));
       }},
      {"AdamW", [&](const Problem& p) {
         return std::make_unique<AdamW>(groups(p, AdamWOptions(0.05), 0.01));
       }},
      {"Adamax", [&](const Problem& p) {
         return std::make_unique<Adamax>(groups(p, AdamaxOptions(0.05), 0.01));
       }},
      {"NAdam", [&](const Problem& p) {
         return std::make_unique<NAdam>(groups(p, NAdamOptions(0.05).weight_decay(0.01), 0.01));
       }},
  };
  for (const auto& [name, make] : optimizers) {
    INFO(name);
    const auto straight = run(make, false, 15, 0);
    const auto resumed = run(make, false, 15, 7);
    for (std::size_t k = 0; k < straight.size(); ++k) CHECK(bitwise_equal(straight[k], resumed[k]));
    // The parameters still moved after the checkpoint, so the resumed part did real work.
    CHECK(!bitwise_equal(run(make, false, 7, 0)[0], straight[0]));
  }
  for (const char* search : {"", "strong_wolfe"}) {
    INFO("LBFGS " << search);
    const Factory make = [search](const Problem& p) {
      return std::make_unique<LBFGS>(std::vector<Tensor>{p.W, p.b},
                                     LBFGSOptions(0.5).max_iter(4).history_size(3).line_search_fn(search));
    };
    const auto straight = run(make, true, 8, 0);
    const auto resumed = run(make, true, 8, 3);
    for (std::size_t k = 0; k < straight.size(); ++k) CHECK(bitwise_equal(straight[k], resumed[k]));
  }
}

TEST_CASE("state for parameters of another shape is refused at load, and at the next step if set by hand") {
  Tensor x = leaf({1, 2, 3});
  Adam a({x}, AdamOptions(0.1));
  half_square_grad({x});
  a.step();
  Tensor y = leaf({1, 2});
  Adam b({y}, AdamOptions(0.1));
  CHECK_THROWS_WITH(b.load_state_dict(a.state_dict()), Contains("exp_avg") && Contains("(3)") && Contains("(2)"));
  b.state(y) = a.state(x);
  half_square_grad({y});
  CHECK_THROWS_WITH(b.step(), Contains("exp_avg") && Contains("(3)") && Contains("(2)"));
}
