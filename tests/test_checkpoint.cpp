// Activation checkpointing: gradients equal to the plain run bit for bit (same ops), dropout
// masks reproduced, higher order through create_graph, only the inputs kept, clear errors.
#include <catch2/catch.hpp>

#include "tape.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;

namespace {

/// Linear-Tanh-Dropout blocks, float64, with seeded initialisation.
std::shared_ptr<nn::Sequential> deep_net(std::size_t blocks, std::size_t width, double dropout) {
  manual_seed(21);
  auto seq = std::make_shared<nn::Sequential>();
  for (std::size_t b = 0; b < blocks; ++b) {
    seq->push_back(std::make_shared<nn::Linear>(width, width));
    seq->push_back(std::make_shared<nn::Tanh>());
    if (dropout > 0) seq->push_back(std::make_shared<nn::Dropout>(dropout));
  }
  seq->to(kFloat64);
  return seq;
}

std::vector<std::vector<double>> grads_of(const std::vector<Tensor>& params) {
  std::vector<std::vector<double>> g;
  g.reserve(params.size());
  for (const Tensor& p : params) g.push_back(p.grad().to_vector());
  return g;
}

}  // namespace

TEST_CASE("checkpoint_sequential: gradients and output equal the plain run exactly, dropout masks included") {
  auto seq = deep_net(4, 6, 0.3);
  manual_seed(99);
  Tensor x = randn({5, 6}, kFloat64);

  manual_seed(1234);
  Tensor plain = (*seq)(x);
  std::vector<Tensor> masks;
  for (std::size_t i = 0; i < seq->size(); ++i)
    if (auto d = std::dynamic_pointer_cast<nn::Dropout>((*seq)[static_cast<long>(i)])) masks.push_back(d->last_mask());
  (plain * plain).sum().backward();
  const auto expected = grads_of(seq->parameters());
  seq->zero_grad();

  for (std::size_t segments : {1, 2, 3, 4}) {
    manual_seed(1234);
    Tensor y = nn::checkpoint_sequential(*seq, segments, x);
    CHECK(y.to_vector() == plain.to_vector());
    (y * y).sum().backward();
    INFO("segments " << segments);
    CHECK(grads_of(seq->parameters()) == expected);
    // The recompute drew the forward's masks again (last_mask is the recompute's now).
    std::size_t k = 0;
    for (std::size_t i = 0; i < seq->size(); ++i)
      if (auto d = std::dynamic_pointer_cast<nn::Dropout>((*seq)[static_cast<long>(i)]))
        CHECK(d->last_mask().to_vector() == masks[k++].to_vector());
    seq->zero_grad();
  }

  // Without the saved random stream the recompute draws other masks: other gradients.
  manual_seed(1234);
  Tensor y = nn::checkpoint_sequential(*seq, 4, x, CheckpointOptions().preserve_rng_state(false));
  (y * y).sum().backward();
  CHECK(grads_of(seq->parameters()) != expected);
}

TEST_CASE("checkpoint: grad() with respect to inputs and parameters, several outputs") {
  auto lin = std::make_shared<nn::Linear>(3, 3);
  lin->to(kFloat64);
  Tensor a = tensor({{0.3, -0.7, 1.1}, {0.2, 0.5, -1.4}}, kFloat64).requires_grad_();
  Tensor b = tensor({0.9, -0.2, 0.4}, kFloat64).requires_grad_();
  auto fn = [lin](const std::vector<Tensor>& in) {
    Tensor h = tanh(lin->forward(in[0]) * in[1]);
    return std::vector<Tensor>{h, sum(exp(h), {0}), in[1] * 2.0};
  };
  std::vector<Tensor> wrt{a, b, lin->weight, lin->bias};
  auto loss_of = [](const std::vector<Tensor>& outs) {
    return (outs[0] * outs[0]).sum() + (outs[1] * 3.0).sum() + outs[2].sum();
  };
  const auto plain = grad({loss_of(fn({a, b}))}, wrt);
  const auto outs = checkpoint(fn, {a, b}, CheckpointOptions().parameters(lin->parameters()));
  REQUIRE(outs.size() == 3);
  CHECK(outs[1].shape() == Shape{3});
  const auto checked = grad({loss_of(outs)}, wrt);
  for (std::size_t i = 0; i < wrt.size(); ++i) CHECK(checked[i].to_vector() == plain[i].to_vector());
}

TEST_CASE("checkpoint: higher order through create_graph, and gradcheck/gradgradcheck through it") {
  Tensor w = tensor({0.7, -1.2, 0.4}, kFloat64).requires_grad_();
  auto block = [](const std::vector<Tensor>& in) { return tanh(in[0] * in[1]) * in[0]; };
  Tensor x = tensor({0.5, -1.5, 2.0}, kFloat64).requires_grad_();
  auto second = [&](bool use_checkpoint) {
    Tensor y = use_checkpoint ? checkpoint(block, {x, w}) : block({x, w});
    Tensor g = grad({y.sum()}, {x}, {}, std::nullopt, true)[0];
    return grad({(g * g).sum()}, {x, w});
  };
  const auto plain = second(false);
  const auto checked = second(true);
  for (std::size_t i = 0; i < 2; ++i) CHECK(checked[i].to_vector() == plain[i].to_vector());

  auto through = [](const std::vector<Tensor>& in) {
    return checkpoint([](const std::vector<Tensor>& v) { return sin(v[0]) * v[1] * v[1]; }, in);
  };
  CHECK(gradcheck(through, {x, w}));
  CHECK(gradcheck(through, {x, w}, GradcheckOptions().fast_mode(true)));
  CHECK(gradgradcheck(through, {x, w}));
}

TEST_CASE("checkpoint: only the inputs are kept; the activations are recomputed in backward") {
  auto seq = deep_net(8, 4, 0.0);  // 16 modules: 8 x (Linear, Tanh)
  Tensor x = ones({2, 4}, kFloat64);
  const std::size_t before = detail::live_nodes();
  std::size_t plain_nodes = 0;
  {
    Tensor y = (*seq)(x);
    plain_nodes = detail::live_nodes() - before;
  }
  Tensor y = nn::checkpoint_sequential(*seq, 4, x);
  const std::size_t checked_nodes = detail::live_nodes() - before;
  // Three checkpoint nodes, then the last segment's 4 modules as usual.
  CHECK(plain_nodes >= 16);
  CHECK(checked_nodes == 3 + plain_nodes / 4);
  y.sum().backward();
  for (const Tensor& p : seq->parameters()) CHECK(p.grad().defined());
}

TEST_CASE("checkpoint: clear errors") {
  Tensor w = tensor({0.7, -1.2}, kFloat64).requires_grad_();
  w.set_name("w");
  Tensor x = tensor({0.5, 1.5}, kFloat64).requires_grad_();
  // A tensor requiring grad read but not declared: refused, not dropped.
  Tensor y = checkpoint([&w](const std::vector<Tensor>& in) { return in[0] * w; }, {x});
  CHECK_THROWS_WITH(y.sum().backward(),
                    Catch::Contains("neither an input nor in the parameters option") && Catch::Contains("'w'"));
  // An input written in place between forward and backward.
  Tensor z = tensor({0.5, 1.5}, kFloat64).requires_grad_();
  Tensor u = z * 2.0;
  Tensor v = checkpoint([](const std::vector<Tensor>& in) { return exp(in[0]); }, {u});
  u.mutable_value<double>()(0) = 3.0;
  CHECK_THROWS_WITH(v.sum().backward(), Catch::Contains("checkpoint") && Catch::Contains("input 0"));
  // Segments out of range, undefined inputs, outputs of two dtypes.
  auto seq = deep_net(2, 3, 0.0);
  CHECK_THROWS_WITH(nn::checkpoint_sequential(*seq, 0, ones({1, 3}, kFloat64)), Catch::Contains("segments"));
  CHECK_THROWS_WITH(nn::checkpoint_sequential(*seq, 5, ones({1, 3}, kFloat64)), Catch::Contains("segments"));
  CHECK_THROWS_WITH(checkpoint([](const std::vector<Tensor>& in) { return in[0]; }, {x, Tensor()}),
                    Catch::Contains("input 1 is undefined"));
  CheckpointFunction mixed = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] * 2.0, in[0].to(kFloat32)};
  };
  CHECK_THROWS_WITH(checkpoint(mixed, {x}), Catch::Contains("one floating dtype"));
  // Forward mode does not go through a checkpoint.
  forward_ad::DualLevel level;
  Tensor dual = forward_ad::make_dual(x, ones_like(x));
  CHECK_THROWS_WITH(checkpoint([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {dual}),
                    Catch::Contains("checkpoint"));
}

TEST_CASE("checkpoint: without grad mode, or with nothing requiring grad, it is a plain call") {
  Tensor x = ones({3}, kFloat64);
  Tensor y = checkpoint([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {x});
  CHECK(!y.requires_grad());
  CHECK(y.to_vector() == std::vector<double>{2, 2, 2});
  Tensor p = ones({3}, kFloat64).requires_grad_();
  NoGradGuard off;
  CHECK(!checkpoint([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {p}).requires_grad());
}
