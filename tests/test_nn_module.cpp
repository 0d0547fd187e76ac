// nn::Module: registration, dotted names, traversal, modes, dtype conversion, state dicts,
// printing; Sequential and the MLP builder.
#include <catch2/catch.hpp>

#include <sstream>

#include "nn_testing.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {

/// A model with nesting: an encoder block (Linear + BatchNorm1d) and a head.
class Block : public nn::Module {
 public:
  Block() : Module("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 4));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d>(4));
  }
  Tensor forward(const Tensor& x) override { return relu((*bn)((*fc)(x))); }
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::BatchNorm1d> bn;
};

class Model : public nn::Module {
 public:
  Model() : Module("Model") {
    block = register_module("block", std::make_shared<Block>());
    head = register_module("head", std::make_shared<nn::Linear>(4, 2, /*bias=*/false));
    scale = register_parameter("scale", ones({1}));
  }
  Tensor forward(const Tensor& x) override { return (*head)((*block)(x)) * scale; }
  std::shared_ptr<Block> block;
  std::shared_ptr<nn::Linear> head;
  Tensor scale;
};

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& e : named) out.push_back(e.first);
  return out;
}

}  // namespace

TEST_CASE("module: parameters and buffers have dotted names in registration order") {
  Model m;
  CHECK(names_of(m.named_parameters()) ==
        std::vector<std::string>{"scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                                 "head.weight"});
  CHECK(names_of(m.named_buffers()) == std::vector<std::string>{"block.bn.running_mean", "block.bn.running_var",
                                                                "block.bn.num_batches_tracked"});
  CHECK(names_of(m.named_parameters(/*recurse=*/false)) == std::vector<std::string>{"scale"});
  CHECK(m.parameters().size() == 6);
  CHECK(m.parameters()[1].is_same(m.block->fc->weight));
  // Tensors carry their dotted names (graph exports, messages).
  CHECK(m.block->fc->weight.name() == "block.fc.weight");
  CHECK(m.block->bn->running_var.name() == "block.bn.running_var");
  CHECK(m.num_parameters() == 1 + 12 + 4 + 4 + 4 + 8);
  const auto state = m.state_dict();
  CHECK(state.size() == 9);
  CHECK(state.at("block.bn.num_batches_tracked").dtype() == kInt64);

  std::vector<std::string> paths;
  for (const auto& [path, module] : m.named_modules()) paths.push_back(path + ":" + module->type_name());
  CHECK(paths == std::vector<std::string>{":Model", "block:Block", "block.fc:Linear", "block.bn:BatchNorm1d",
                                          "head:Linear"});
  std::vector<std::string> applied;
  m.apply([&](nn::Module& mod) { applied.push_back(mod.type_name()); });
  CHECK(applied == std::vector<std::string>{"Linear", "BatchNorm1d", "Block", "Linear", "Model"});
}

TEST_CASE("module: registration refuses bad names and tensors") {
  nn::Module m("Custom");
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH(m.register_parameter("w", zeros({2})), Catch::Contains("'w' is already registered"));
  CHECK_THROWS_WITH(m.register_buffer("w", zeros({2})), Catch::Contains("already registered"));
  CHECK_THROWS_WITH(m.register_parameter("a.b", zeros({2})), Catch::Contains("'a.b'") && Catch::Contains("'.'"));
  CHECK_THROWS_WITH(m.register_parameter("idx", zeros({2}, kInt64)), Catch::Contains("float32 or float64"));
  Tensor leaf = ones({2}, TensorOptions(kFloat32).requires_grad());
  CHECK_THROWS_WITH(m.register_parameter("y", leaf * 2.0), Catch::Contains("not a leaf"));
  CHECK_THROWS_WITH(m.register_module("child", std::shared_ptr<nn::Linear>()), Catch::Contains("null module"));
  CHECK_THROWS_WITH(m.forward(zeros({1})), Catch::Contains("Custom") && Catch::Contains("forward"));
  // A frozen parameter.
  Tensor frozen = m.register_parameter("frozen", zeros({3}), /*requires_grad=*/false);
  CHECK(!frozen.requires_grad());
  CHECK(m.num_parameters(/*trainable_only=*/true) == 2);
}

TEST_CASE("module: a tensor registered twice is listed once") {
  nn::Module shared("Shared");
  Tensor w = zeros({2});
  shared.register_parameter("w1", w);
  shared.register_parameter("w2", w);
  CHECK(names_of(shared.named_parameters()) == std::vector<std::string>{"w1"});
  CHECK(shared.num_parameters() == 2);
}

TEST_CASE("module: train() and eval() reach every descendant") {
  Model m;
  CHECK(m.is_training());
  m.eval();
  CHECK(!m.is_training());
  CHECK(!m.block->bn->is_training());
  CHECK(!m.head->is_training());
  m.train();
  CHECK(m.block->bn->is_training());
}

TEST_CASE("module: zero_grad clears or zero-fills every gradient") {
  Model m;
  m(ones({5, 3})).sum().backward();
  for (const Tensor& p : m.parameters()) REQUIRE(p.grad().defined());
  m.zero_grad(/*set_to_none=*/false);
  for (const Tensor& p : m.parameters()) CHECK(xt::all(xt::equal(p.grad().to_double(), 0.0)));
  m.zero_grad();
  for (const Tensor& p : m.parameters()) CHECK(!p.grad().defined());
}

TEST_CASE("module: to() converts in place, so member handles follow") {
  Model m;
  m(ones({5, 3})).sum().backward();
  const xt::xarray<double> before = m.block->fc->weight.to_double();
  m.to(kFloat64);
  CHECK(m.block->fc->weight.dtype() == kFloat64);  // the member handle
  CHECK(m.state_dict().at("block.fc.weight").dtype() == kFloat64);
  CHECK(m.state_dict().at("block.fc.weight").is_same(m.block->fc->weight));
  CHECK(m.block->fc->weight.grad().dtype() == kFloat64);
  CHECK(m.block->bn->running_mean.dtype() == kFloat64);
  CHECK(m.block->bn->num_batches_tracked.dtype() == kInt64);
  CHECK(m.block->fc->weight.requires_grad());
  CHECK(xt::all(xt::equal(m.block->fc->weight.to_double(), before)));  // float32 -> float64 is exact
  CHECK(m(ones({5, 3}, kFloat64)).dtype() == kFloat64);
  m.to(kFloat32);
  CHECK(m.head->weight.dtype() == kFloat32);
  CHECK_THROWS_WITH(m.to(kInt64), Catch::Contains("float32 or float64"));
}

TEST_CASE("module: load_state_dict checks names, shapes and dtypes before writing") {
  Model src, dst;
  auto state = src.state_dict();
  dst.load_state_dict(state);
  CHECK(xt::all(xt::equal(dst.block->fc->weight.to_double(), src.block->fc->weight.to_double())));
  CHECK(!dst.block->fc->weight.is_same(src.block->fc->weight));  // values copied, not handles

  Model fresh;
  const xt::xarray<double> original = fresh.block->fc->weight.to_double();
  SECTION("strict: missing entry") {
    auto partial = state;
    partial.erase("head.weight");
    CHECK_THROWS_WITH(fresh.load_state_dict(partial), Catch::Contains("missing 'head.weight'"));
  }
  SECTION("strict: unexpected entry") {
    auto extra = state;
    extra.emplace("head.bias", zeros({2}));
    CHECK_THROWS_WITH(fresh.load_state_dict(extra), Catch::Contains("unexpected 'head.bias'"));
  }
  SECTION("wrong shape, even when not strict") {
    auto wrong = state;
    wrong["head.weight"] = zeros({4, 2});
    CHECK_THROWS_WITH(fresh.load_state_dict(wrong, false),
                      Catch::Contains("entry 'head.weight' has shape (4,2) but the model's is (2,4)"));
  }
  SECTION("wrong dtype") {
    auto wrong = state;
    wrong["scale"] = ones({1}, kFloat64);
    CHECK_THROWS_WITH(fresh.load_state_dict(wrong), Catch::Contains("'scale' has dtype float64"));
  }
  SECTION("non-strict reports what it skipped") {
    auto partial = state;
    partial.erase("scale");
    partial.emplace("other", zeros({1}));
    const nn::LoadResult r = fresh.load_state_dict(partial, false);
    CHECK(r.missing_keys == std::vector<std::string>{"scale"});
    CHECK(r.unexpected_keys == std::vector<std::string>{"other"});
    CHECK(xt::all(xt::equal(fresh.block->fc->weight.to_double(), src.block->fc->weight.to_double())));
    return;
  }
  // Every failing load above left the model untouched.
  CHECK(xt::all(xt::equal(fresh.block->fc->weight.to_double(), original)));
}

TEST_CASE("module: prints as PyTorch does, and summarises parameters") {
  nn::MLP mlp({4, 8, 3}, nn::ReLU(), nn::MLPOptions{0.5});
  std::ostringstream os;
  os << mlp;
  CHECK(os.str() ==
        "MLP(\n"
        "  sizes=[4, 8, 3]\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=8, bias=true)\n"
        "    (1): ReLU()\n"
        "    (2): Dropout(p=0.5)\n"
        "    (3): Linear(in_features=8, out_features=3, bias=true)\n"
        "  )\n"
        ")");
  const std::string summary = mlp.summary();
  INFO(summary);
  CHECK_THAT(summary, Catch::Contains("layers.0.weight") && Catch::Contains("(8,4)") &&
                          Catch::Contains("layers.3.bias") &&
                          Catch::Contains("parameters: 67 (trainable 67, frozen 0)"));
  nn::BatchNorm1d bn(5, 1e-3, std::nullopt, false);
  CHECK(tg::testing::streamed(bn) ==
        "BatchNorm1d(5, eps=0.001, momentum=None, affine=false, track_running_stats=true)");
}

TEST_CASE("sequential: chains modules, indexes them, and names them by position") {
  auto fc = std::make_shared<nn::Linear>(3, 2);
  nn::Sequential seq{fc, std::make_shared<nn::Tanh>()};
  seq.push_back("out", std::make_shared<nn::Sigmoid>());
  CHECK(seq.size() == 3);
  CHECK(seq[0] == fc);
  CHECK(seq[-1]->type_name() == "Sigmoid");
  CHECK(seq.at<nn::Linear>(0)->out_features == 2);
  CHECK_THROWS_WITH(seq.at<nn::Linear>(1), Catch::Contains("Tanh"));
  CHECK_THROWS_WITH(seq[3], Catch::Contains("index 3 is out of range for 3 modules"));
  std::mt19937_64 gen(1);
  const Tensor x = from_double(tg::testing::random_array(gen, {4, 3}));
  const Tensor expected = sigmoid(tanh(linear(x, fc->weight, fc->bias)));
  CHECK(xt::allclose(seq(x).to_double(), expected.to_double()));
  CHECK(names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
}

TEST_CASE("sequential: variadic, as libtorch writes it: nn::Sequential(fc1, nn::Sigmoid(), fc2)") {
  auto fc1 = std::make_shared<nn::Linear>(3, 4);
  auto fc2 = std::make_shared<nn::Linear>(4, 2);
  nn::Sequential net(fc1, nn::Sigmoid(), fc2);
  CHECK(net.size() == 3);
  CHECK(net[0] == fc1);
  CHECK(net[2] == fc2);
  CHECK(net[1]->type_name() == "Sigmoid");
  CHECK(names_of(net.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  std::mt19937_64 gen(2);
  const Tensor x = from_double(tg::testing::random_array(gen, {5, 3}));
  const Tensor expected = linear(sigmoid(linear(x, fc1->weight, fc1->bias)), fc2->weight, fc2->bias);
  CHECK(xt::allclose(net(x).to_double(), expected.to_double()));

  // A module value is copied, and a copy shares its parameters; a shared_ptr holder works too.
  nn::Linear fc3(2, 1);
  auto shared = std::make_shared<nn::Sequential>(fc1, nn::Tanh(), fc3);
  CHECK(shared->size() == 3);
  CHECK(shared->at<nn::Linear>(2)->weight.is_same(fc3.weight));
  // Nested, and a one-module Sequential.
  nn::Sequential outer(std::make_shared<nn::Sequential>(fc1), nn::ReLU());
  CHECK(names_of(outer.named_parameters()) == std::vector<std::string>{"0.0.weight", "0.0.bias"});
  // The copy constructor is still the copy constructor (a shallow copy, not a nesting).
  nn::Sequential copy(net);
  CHECK(copy.size() == 3);
}

TEST_CASE("mlp: layer sizes, activation, optional batchnorm and dropout") {
  nn::MLP mlp({784, 256, 128, 10}, nn::ReLU());
  CHECK(names_of(mlp.named_parameters()) ==
        std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                 "layers.4.weight", "layers.4.bias"});
  CHECK(mlp.layers->at<nn::Linear>(0)->weight.shape() == Shape{256, 784});
  CHECK(mlp.layers->at<nn::Linear>(4)->weight.shape() == Shape{10, 128});
  CHECK(mlp.layers->at<nn::Linear>(0)->weight.name() == "layers.0.weight");
  CHECK(mlp(zeros({2, 784})).shape() == Shape{2, 10});

  nn::MLP full({4, 6, 5, 2}, nn::LeakyReLU(0.2), nn::MLPOptions{0.1, true, false});
  std::vector<std::string> kinds;
  for (const auto& child : full.layers->children()) kinds.push_back(child->type_name());
  CHECK(kinds == std::vector<std::string>{"Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Linear", "BatchNorm1d",
                                          "LeakyReLU", "Dropout", "Linear"});
  CHECK(full.layers->at<nn::LeakyReLU>(2)->negative_slope == 0.2);
  CHECK(!full.layers->at<nn::Linear>(0)->bias.defined());
  CHECK(full.layers->at<nn::Linear>(2 * 2)->bias.defined() == false);

  // Each hidden layer gets its own activation module from a factory.
  int made = 0;
  nn::MLP custom({3, 4, 4, 1}, nn::ActivationFactory([&] {
                   ++made;
                   return std::make_shared<nn::Tanh>();
                 }));
  CHECK(made == 2);
  CHECK(custom.layers->children()[1] != custom.layers->children()[3]);

  nn::Module with_state("Stateful");
  with_state.register_parameter("p", zeros({1}));
  CHECK_THROWS_WITH(nn::MLP({2, 2, 2}, with_state), Catch::Contains("activation prototype"));
  CHECK_THROWS_WITH(nn::MLP({2}), Catch::Contains("at least an input and an output size"));
}

TEST_CASE("mlp: gradcheck in float64 through every layer kind") {
  std::mt19937_64 gen(9);
  nn::MLP mlp({3, 4, 2}, nn::Tanh(), nn::MLPOptions{0.0, true});
  mlp.to(kFloat64);
  Tensor x(tg::testing::random_array(gen, {5, 3}), true);
  const auto report = tg::testing::module_gradcheck(mlp, x);
  INFO(report);
  CHECK(report);
}
