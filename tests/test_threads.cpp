// Thread safety as documented: each thread records on its own tape, so two threads training
// their own models get exactly the results of the same runs done one after the other.
#include <catch2/catch.hpp>

#include <thread>

#include "tapegrad/tapegrad.hpp"

using namespace tg;

namespace {
/// A small MLP trained with Adam for 200 steps from `seed`; returns the final parameters.
std::vector<xt::xarray<float>> train(std::uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> p{randn({16, 8}, kFloat32, &gen) * 0.3, zeros({16}), randn({3, 16}, kFloat32, &gen) * 0.3,
                        zeros({3})};
  for (auto& t : p) t = t.detach().requires_grad_();
  const Tensor x = randn({32, 8}, kFloat32, &gen);
  const Tensor y = randint(0, 3, {32}, &gen);
  optim::Adam opt(p, optim::AdamOptions(1e-2));
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(linear(tanh(linear(x, p[0], p[1])), p[2], p[3]), y);
    loss.backward();
    opt.step();
  }
  std::vector<xt::xarray<float>> out;
  for (const auto& t : p) out.push_back(t.value<float>());
  return out;
}
}  // namespace

TEST_CASE("threads: concurrent training is bit-identical to sequential training") {
  const auto a_seq = train(11), b_seq = train(12);
  std::vector<xt::xarray<float>> a_par, b_par;
  std::thread ta([&] { a_par = train(11); });
  std::thread tb([&] { b_par = train(12); });
  ta.join();
  tb.join();
  REQUIRE(a_par.size() == a_seq.size());
  for (std::size_t i = 0; i < a_seq.size(); ++i) {
    CHECK(bool(a_par[i] == a_seq[i]));
    CHECK(bool(b_par[i] == b_seq[i]));
  }
  CHECK(bool(a_seq[0] != b_seq[0]));  // the two runs really differ
}
