/// \file
/// Weight initialisers, as torch.nn.init: each fills a floating leaf tensor in place (bypassing
/// autograd, like torch's no_grad fills) and returns the same handle, so
/// `nn::init::xavier_uniform_(linear->weight)` changes the layer's weight.
///
/// Fans: for a weight of shape (out, in, k1, k2, ...) fan_in = in * k1 * k2 * ... and
/// fan_out = out * k1 * k2 * ... (the receptive field multiplies both); a Linear weight (out, in)
/// has fan_in = in, fan_out = out. Fans need at least 2 axes.
///
/// Random draws come from a tg::Generator (nullptr: the calling thread's default generator, so
/// tg::manual_seed makes initialisation reproducible) through tg::uniform / tg::normal / tg::randn.
/// Empty tensors are left as they are (fans of 0 would give infinite bounds).
#pragma once

#include <cstddef>
#include <string>

#include "tapegrad/random.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn::init {

/// fan_in and fan_out of a weight tensor (see the header comment).
struct Fans {
  std::size_t fan_in = 0;   ///< size(1) times the receptive field (the product of the axes after the first two)
  std::size_t fan_out = 0;  ///< size(0) times the receptive field
};
/// Throws for tensors with fewer than 2 axes.
Fans calculate_fans(const Tensor& weight);

/// The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain: 1 for "linear",
/// "identity" and "sigmoid", 5/3 for "tanh", sqrt(2) for "relu", sqrt(2 / (1 + param^2)) for
/// "leaky_relu" (param = negative slope), 3/4 for "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

/// Every element set to value.
Tensor constant_(Tensor t, double value);
/// constant_(t, 0) and constant_(t, 1).
///@{
Tensor zeros_(Tensor t);
Tensor ones_(Tensor t);
///@}

/// Independent draws from U(a, b).
Tensor uniform_(Tensor t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
/// Independent draws from N(mean, std^2).
Tensor normal_(Tensor t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);

/// Glorot & Bengio (2010): U(-b, b) with b = gain sqrt(6 / (fan_in + fan_out)), so the variance
/// is gain^2 * 2 / (fan_in + fan_out).
Tensor xavier_uniform_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
/// Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);

/// He et al. (2015): variance gain^2 / fan with gain = calculate_gain(nonlinearity, a) and fan
/// = fan_in (mode "fan_in", preserves forward variance) or fan_out ("fan_out", backward). For
/// "relu" that is 2 / fan_in. Uniform: U(-b, b) with b = sqrt(3) gain / sqrt(fan).
Tensor kaiming_uniform_(Tensor t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
/// Normal: N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor t, double a = 0.0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

/// LeCun et al. (1998): variance 1 / fan_in. Uniform U(-b, b) with b = sqrt(3 / fan_in).
Tensor lecun_uniform_(Tensor t, Generator* gen = nullptr);
/// N(0, 1 / fan_in). (JAX's lecun_normal uses a truncated normal; this is the plain one.)
Tensor lecun_normal_(Tensor t, Generator* gen = nullptr);

/// Saxe et al. (2014): the tensor viewed as a (rows, cols) matrix with rows = size(0) becomes
/// gain times a matrix with orthonormal rows (rows <= cols) or columns (rows >= cols), drawn
/// uniformly (Gram-Schmidt on a Gaussian matrix with the signs fixed so the implied R has a
/// positive diagonal, which is what torch's QR-and-sign-fix gives). Needs at least 2 axes.
Tensor orthogonal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace tg::nn::init
