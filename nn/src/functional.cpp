// Stateless layer computations (see functional.hpp).
#include "tapegrad/nn/functional.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "internal.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/random.hpp"

namespace tg::nn::functional {

// ---- Dropout -----------------------------------------------------------------------------------

Tensor dropout_mask(const Tensor& x, double p, Generator* gen) {
  if (!x.defined() || !x.is_floating_point()) fail("dropout: expected a float32 or float64 input");
  if (!(p >= 0.0 && p <= 1.0)) fail("dropout: probability p must be in [0, 1], got ", p);
  return lt(rand(x.shape(), TensorOptions(x.dtype()), gen), 1.0 - p).to(x.dtype());  // u < 1 - p
}

Tensor dropout_with_mask(const Tensor& x, const Tensor& mask, double p) {
  if (!(p >= 0.0 && p <= 1.0)) fail("dropout: probability p must be in [0, 1], got ", p);
  if (!x.defined() || !mask.defined() || x.shape() != mask.shape())
    fail("dropout: mask of shape ", mask.defined() ? to_string(mask.shape()) : std::string("(undefined)"),
         " does not match input of shape ", x.defined() ? to_string(x.shape()) : std::string("(undefined)"));
  if (p == 1.0) return x * 0.0;
  const Tensor m = mask.dtype() == x.dtype() ? mask : mask.to(x.dtype());
  return x * (m / (1.0 - p));
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  if (!training || p == 0.0) return x;
  return dropout_with_mask(x, dropout_mask(x, p, gen), p);
}

// ---- Batch normalisation -----------------------------------------------------------------------

namespace {
/// t of shape (C,) viewed so it broadcasts against (N, C) or (N, C, L).
Tensor per_channel(const Tensor& t, std::size_t ndim) {
  return ndim == 3 ? unsqueeze(t, 1) : t;
}

void check_channel_tensor(const char* what, const Tensor& t, const Tensor& x, std::size_t channels) {
  if (!t.defined()) return;
  if (t.dtype() != x.dtype() || t.shape() != Shape{channels})
    fail("batch_norm: ", what, " is ", to_string(t.dtype()), to_string(t.shape()), " but the input ",
         to_string(x.dtype()), to_string(x.shape()), " needs ", to_string(x.dtype()), "(", channels, ")");
}
}  // namespace

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  if (!x.defined() || !x.is_floating_point() || (x.dim() != 2 && x.dim() != 3))
    fail("batch_norm: expected a float input of shape (N, C) or (N, C, L), got ",
         x.defined() ? to_string(x.shape()) : std::string("(undefined)"));
  const std::size_t channels = x.size(1);
  check_channel_tensor("running_mean", running_mean, x, channels);
  check_channel_tensor("running_var", running_var, x, channels);
  check_channel_tensor("weight", weight, x, channels);
  check_channel_tensor("bias", bias, x, channels);
  if (running_mean.defined() != running_var.defined())
    fail("batch_norm: give both running_mean and running_var, or neither");
  const Axes axes = x.dim() == 3 ? Axes{0, 2} : Axes{0};
  const std::size_t n = x.numel() / channels;

  Tensor y;
  if (training || !running_mean.defined()) {
    if (training && n <= 1)
      fail("batch_norm: expected more than 1 value per channel when training, got input of shape ",
           to_string(x.shape()));
    const Tensor mean = tg::mean(x, axes, /*keepdim=*/true);
    const Tensor centred = x - mean;
    const Tensor var = tg::mean(centred * centred, axes, /*keepdim=*/true);  // biased
    y = centred / sqrt(var + eps);
    if (training && running_mean.defined()) {
      NoGradGuard no_grad;
      const auto c = static_cast<std::int64_t>(channels);
      const Tensor batch_mean = reshape(mean.detach(), {c});
      const Tensor unbiased_var = reshape(var.detach(), {c}) * (static_cast<double>(n) / static_cast<double>(n - 1));
      detail::copy_values(running_mean, running_mean * (1.0 - momentum) + batch_mean * momentum);
      detail::copy_values(running_var, running_var * (1.0 - momentum) + unbiased_var * momentum);
    }
  } else {
    y = (x - per_channel(running_mean, x.dim())) / sqrt(per_channel(running_var, x.dim()) + eps);
  }
  if (weight.defined()) y = y * per_channel(weight, x.dim());
  if (bias.defined()) y = y + per_channel(bias, x.dim());
  return y;
}

// ---- Maxout and radial basis units -------------------------------------------------------------

Tensor maxout(const Tensor& x, const Tensor& weight, const Tensor& bias, std::size_t pieces) {
  if (pieces == 0) fail("maxout: the number of pieces must be at least 1");
  if (!weight.defined() || weight.dim() != 2 || weight.size(0) % pieces != 0)
    fail("maxout: weight must be 2-D (units * pieces, in) with pieces = ", pieces, ", got shape ",
         weight.defined() ? to_string(weight.shape()) : std::string("(undefined)"));
  const Tensor z = linear(x, weight, bias);
  std::vector<std::int64_t> shape;
  for (std::size_t d : z.shape()) shape.push_back(static_cast<std::int64_t>(d));
  shape.back() = static_cast<std::int64_t>(weight.size(0) / pieces);
  shape.push_back(static_cast<std::int64_t>(pieces));
  return max(reshape(z, shape), -1);
}

Tensor rbf(const Tensor& x, const Tensor& centres, double sigma) {
  if (!(sigma > 0)) fail("rbf: sigma must be > 0, got ", sigma);
  if (!centres.defined() || centres.dim() != 2)
    fail("rbf: centres must be 2-D (units, in), got shape ",
         centres.defined() ? to_string(centres.shape()) : std::string("(undefined)"));
  if (!x.defined() || x.dim() == 0 || x.shape().back() != centres.size(1))
    fail("rbf: input of shape ", x.defined() ? to_string(x.shape()) : std::string("(undefined)"),
         " does not match centres of shape ", to_string(centres.shape()), " (expected last extent ",
         centres.size(1), ")");
  const Tensor diff = unsqueeze(x, -2) - centres;  // (..., units, in)
  return exp(sum(diff * diff, {-1}) * (-1.0 / (sigma * sigma)));
}

// ---- One-hot -------------------------------------------------------------------------------------

Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype) {
  if (!labels.defined() || labels.dtype() != kInt64)
    fail("one_hot: labels must be an int64 tensor",
         labels.defined() ? ", got " + std::string(to_string(labels.dtype())) + to_string(labels.shape()) : "");
  const auto& l = labels.value<std::int64_t>();
  if (num_classes < -1) fail("one_hot: num_classes must be -1 (inferred) or at least 0, got ", num_classes);
  if (num_classes == -1) {
    if (l.size() == 0)
      fail("one_hot: cannot infer num_classes from an empty labels tensor ", to_string(labels.shape()));
    num_classes = *std::max_element(l.begin(), l.end()) + 1;
  }
  for (std::size_t i = 0; i < l.size(); ++i)
    if (l.data()[i] < 0 || l.data()[i] >= num_classes)
      fail("one_hot: label ", l.data()[i], " at flat index ", i, " is out of range for ", num_classes, " classes");
  const auto classes = static_cast<std::size_t>(num_classes);
  Shape shape = labels.shape();
  shape.push_back(classes);
  Tensor out = zeros(shape, TensorOptions(dtype));  // zeros checks the size
  auto set_ones = [&](auto* values) {
    using T = std::remove_pointer_t<decltype(values)>;
    for (std::size_t i = 0; i < l.size(); ++i) values[i * classes + static_cast<std::size_t>(l.data()[i])] = T(1);
  };
  switch (dtype) {
    case DType::float32:
      set_ones(out.data_ptr<float>());
      break;
    case DType::float64:
      set_ones(out.data_ptr<double>());
      break;
    case DType::int64:
      set_ones(out.data_ptr<std::int64_t>());
      break;
    case DType::boolean:
      set_ones(out.data_ptr<bool>());
      break;
  }
  return out;
}

}  // namespace tg::nn::functional
