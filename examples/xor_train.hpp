// The network of Trask's NumPy tutorial "Tuning alpha" (A Neural Network in 11 Lines of Python,
// part 2), trained with tapegrad's autograd instead of hand-written deltas. Shared by
// examples/xor.cpp and tests/test_xor.cpp.
#pragma once

#include <cstddef>
#include <ostream>

#include "python_print.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace examples {

/// The four XOR patterns; the constant third column stands in for a bias.
inline tg::Tensor xor_inputs() {
  return tg::tensor({{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}}, tg::kFloat64);
}
/// The XOR of the first two columns, as a column (4, 1).
inline tg::Tensor xor_targets() { return tg::tensor({{0}, {1}, {1}, {0}}, tg::kFloat64); }

/// The two weight matrices: synapse_0 (3, hidden) and synapse_1 (hidden, 1).
struct Synapses {
  tg::Tensor synapse_0, synapse_1;
};

/// Trains from NumPy's seed-1 start (np.random.seed(1); 2*random((3,hidden)) - 1, then
/// 2*random((hidden,1)) - 1) with `iterations` full-batch gradient-descent steps on
/// loss = 0.5 * sum((layer_2 - y)^2), where layer_1 = sigmoid(X @ synapse_0) and
/// layer_2 = sigmoid(layer_1 @ synapse_1); each step does synapse -= alpha * gradient.
/// At every iteration j with j % 10000 == 0 it calls on_checkpoint(j, mean(|layer_2 - y|)),
/// measured before that iteration's update, as the tutorial prints it.
template <class OnCheckpoint>
Synapses train_xor(double alpha, std::size_t hidden, std::size_t iterations,
                   OnCheckpoint on_checkpoint) {
  const tg::Tensor X = xor_inputs(), y = xor_targets();
  tg::NumpyRandomState numpy_random(1);
  tg::Tensor synapse_0 = 2.0 * numpy_random.random({3, hidden}) - 1.0;
  tg::Tensor synapse_1 = 2.0 * numpy_random.random({hidden, 1}) - 1.0;
  synapse_0.requires_grad_();
  synapse_1.requires_grad_();

  for (std::size_t j = 0; j < iterations; ++j) {
    tg::Tensor layer_1 = tg::sigmoid(tg::matmul(X, synapse_0));
    tg::Tensor layer_2 = tg::sigmoid(tg::matmul(layer_1, synapse_1));
    tg::Tensor layer_2_error = layer_2 - y;
    if (j % 10000 == 0) {
      tg::NoGradGuard no_grad;
      on_checkpoint(j, tg::mean(tg::abs(layer_2_error)).item());
    }
    tg::Tensor loss = 0.5 * tg::sum(layer_2_error.pow(2));
    loss.backward();

    tg::NoGradGuard no_grad;  // the update is not part of any graph
    for (tg::Tensor* synapse : {&synapse_0, &synapse_1}) {
      synapse->mutable_value<double>() -= alpha * synapse->grad().value<double>();
      synapse->zero_grad();
    }
  }
  return {synapse_0, synapse_1};
}

/// Prints what the tutorial program (examples/xor_numpy.py) prints: for each alpha in
/// [0.001, 0.01, 0.1, 1, 10, 100, 1000], the error every 10,000 iterations and the final synapses.
inline void print_alpha_sweep(std::ostream& out, std::size_t hidden, std::size_t iterations) {
  // Python prints the list [0.001, 0.01, 0.1, 1, 10, 100, 1000]: the last four are ints.
  const struct { double value; const char* text; } alphas[] = {
      {0.001, "0.001"}, {0.01, "0.01"}, {0.1, "0.1"}, {1, "1"},
      {10, "10"},       {100, "100"},   {1000, "1000"}};
  for (const auto& alpha : alphas) {
    out << "\nTraining With Alpha:" << alpha.text << "\n";
    const Synapses trained = train_xor(alpha.value, hidden, iterations, [&](std::size_t j, double error) {
      out << "Error after " << j << " iterations:" << python_float_repr(error) << std::endl;
    });
    out << "Synapse 0\n" << numpy_str(trained.synapse_0.value<double>()) << "\n"
        << "Synapse 1\n" << numpy_str(trained.synapse_1.value<double>()) << "\n";
  }
}

}  // namespace examples
