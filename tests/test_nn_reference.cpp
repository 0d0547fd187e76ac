// nn modules against PyTorch (../shared/reference/nn.json, float64): MLP outputs and gradients,
// BatchNorm1d forward/backward and running statistics, and train_step's training runs.
// Tolerance: |ours - torch| <= 1e-12 + 1e-10 |torch| elementwise.
#include <catch2/catch.hpp>

#include "nn_testing.hpp"
#include "reference.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using nlohmann::json;
using tg::testing::check_allclose;
using tg::testing::tensor_from_json;

namespace {

/// fc1 -> act1 -> fc2 -> act2 -> fc3, named as the fixture's torch module (fc1.weight, ...).
class Net : public nn::Module {
 public:
  Net(const std::vector<std::size_t>& sizes, std::shared_ptr<nn::Module> act1, std::shared_ptr<nn::Module> act2)
      : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(sizes[0], sizes[1]));
    this->act1 = register_module("act1", std::move(act1));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(sizes[1], sizes[2]));
    this->act2 = register_module("act2", std::move(act2));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(sizes[2], sizes[3]));
    to(kFloat64);
  }
  Tensor forward(const Tensor& x) override { return (*fc3)((*act2)((*fc2)((*act1)((*fc1)(x))))); }
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
  std::shared_ptr<nn::Module> act1, act2;
};

xt::xarray<double> array(const json& t) { return tensor_from_json(t).to_double(); }

/// A list of named fixture tensors as a state dict.
nn::StateDict named(const json& list) {
  nn::StateDict state;
  for (const auto& t : list) state.emplace(t.at("name").get<std::string>(), tensor_from_json(t));
  return state;
}

void check_grads(Net& net, const json& expected_grads, const std::string& prefix) {
  const auto params = net.state_dict();
  for (const auto& g : expected_grads) {
    const std::string name = g.at("name");
    REQUIRE(params.count(name));
    check_allclose(prefix + " grad " + name, params.at(name).grad(), array(g));
  }
}

}  // namespace

TEST_CASE("nn reference: MLP regression and classification outputs and gradients") {
  const json ref = tg::testing::load_reference("nn.json");
  int ran = 0;
  {
    for (const std::string kind : {"mlp_regression", "mlp_classification"}) {
      const json& c = ref.at(kind);
      const auto sizes = c.at("layer_sizes").get<std::vector<std::size_t>>();
      Net net(sizes, std::make_shared<nn::Tanh>(), std::make_shared<nn::Sigmoid>());
      net.load_state_dict(named(c.at("params")));
      Tensor x = tensor_from_json(c.at("input")).requires_grad_();

      const Tensor h1 = (*net.act1)((*net.fc1)(x));
      const Tensor h2 = (*net.act2)((*net.fc2)(h1));
      const Tensor out = (*net.fc3)(h2);
      check_allclose(kind + " h1", h1, array(c.at("hidden")[0]));
      check_allclose(kind + " h2", h2, array(c.at("hidden")[1]));
      check_allclose(kind + " forward()", net(x), out.to_double());
      Tensor loss;
      if (kind == "mlp_regression") {
        check_allclose(kind + " output", out, array(c.at("output")));
        loss = nn::functional::mse_loss(out, tensor_from_json(c.at("target")));
      } else {
        check_allclose(kind + " logits", out, array(c.at("logits")));
        check_allclose(kind + " probs", softmax(out, 1), array(c.at("probs")));
        loss = nn::functional::cross_entropy(out, tensor_from_json(c.at("target")));
      }
      check_allclose(kind + " loss", loss, xt::xarray<double>(c.at("loss").get<double>()));
      loss.backward();
      check_grads(net, c.at("grads"), kind);
      check_allclose(kind + " grad_input", x.grad(), array(c.at("grad_input")));
      ++ran;
    }
  }
  WARN("nn.json: ran " << ran << " MLP cases");
}

TEST_CASE("nn reference: BatchNorm1d forward, backward and running statistics") {
  const json ref = tg::testing::load_reference("nn.json");
  int ran = 0;
  {
    for (const json& c : ref.at("batchnorm1d")) {
      const std::string name = c.at("name");
      nn::BatchNorm1d bn(c.at("input").at("shape")[1].get<std::size_t>(), c.at("eps").get<double>(),
                         c.at("momentum").get<double>());
      bn.to(kFloat64);
      bn.load_state_dict({{"weight", tensor_from_json(c.at("weight"))},
                          {"bias", tensor_from_json(c.at("bias"))},
                          {"running_mean", tensor_from_json(c.at("running_mean_before"))},
                          {"running_var", tensor_from_json(c.at("running_var_before"))},
                          {"num_batches_tracked", zeros({}, kInt64)}});
      Tensor x = tensor_from_json(c.at("input")).requires_grad_();

      // The fixture's statistics, as defined in the README.
      check_allclose(name + " batch_mean", mean(x, {0}), array(c.at("batch_mean")));
      check_allclose(name + " batch_var_biased", var(x, {0}, false), array(c.at("batch_var_biased")));
      check_allclose(name + " batch_var_unbiased", var(x, {0}, true), array(c.at("batch_var_unbiased")));

      bn.train();
      const Tensor y = bn(x);
      check_allclose(name + " output_train", y, array(c.at("output_train")));
      y.backward(tensor_from_json(c.at("upstream")));
      check_allclose(name + " grad_input", x.grad(), array(c.at("grad_input")));
      check_allclose(name + " grad_weight", bn.weight.grad(), array(c.at("grad_weight")));
      check_allclose(name + " grad_bias", bn.bias.grad(), array(c.at("grad_bias")));
      check_allclose(name + " running_mean_after", bn.running_mean, array(c.at("running_mean_after")));
      check_allclose(name + " running_var_after", bn.running_var, array(c.at("running_var_after")));
      CHECK(bn.num_batches_tracked.item<std::int64_t>() == c.at("num_batches_tracked_after").get<std::int64_t>());

      bn.eval();
      check_allclose(name + " output_eval_after", bn(x), array(c.at("output_eval_after")));
      ++ran;
    }
  }
  WARN("nn.json: ran " << ran << " batchnorm1d cases");
}

TEST_CASE("nn reference: train_step runs (SGD with momentum, Adam) step by step") {
  const json ref = tg::testing::load_reference("nn.json");
  const json& c = ref.at("train_step");
  const auto sizes = c.at("layer_sizes").get<std::vector<std::size_t>>();
  const Tensor x = tensor_from_json(c.at("input"));
  const Tensor target = tensor_from_json(c.at("target"));
  int ran = 0;
  for (const json& run : c.at("runs")) {
    const std::string name = run.at("name");
    const json& kwargs = run.at("kwargs");
    Net net(sizes, std::make_shared<nn::Tanh>(), std::make_shared<nn::Tanh>());
    net.load_state_dict(named(c.at("params_before")));
    std::unique_ptr<optim::Optimizer> optimizer;
    if (run.at("optimizer") == "torch.optim.SGD")
      optimizer = std::make_unique<optim::SGD>(
          net.parameters(), optim::SGDOptions(kwargs.at("lr")).momentum(kwargs.at("momentum").get<double>()));
    else if (run.at("optimizer") == "torch.optim.Adam")
      optimizer = std::make_unique<optim::Adam>(net.parameters(), optim::AdamOptions(kwargs.at("lr")));
    else
      FAIL("unexpected optimizer " << run.at("optimizer"));
    REQUIRE(kwargs.size() == (name == "adam" ? 1u : 2u));  // nothing else was passed to torch

    std::size_t k = 0;
    for (const json& step : run.at("steps")) {
      const std::string what = "train_step " + name + " step " + std::to_string(k++);
      optimizer->zero_grad();
      Tensor loss = nn::functional::cross_entropy(net(x), target);
      check_allclose(what + " loss", loss, xt::xarray<double>(step.at("loss").get<double>()));
      loss.backward();
      check_grads(net, step.at("grads"), what);
      optimizer->step();
      const auto params = net.state_dict();
      for (const json& p : step.at("params_after"))
        check_allclose(what + " " + p.at("name").get<std::string>() + " after", params.at(p.at("name")), array(p));
    }
    ++ran;
  }
  WARN("nn.json: ran " << ran << " train_step runs (" << c.at("runs")[0].at("steps").size() << " steps each)");
}
