// Sequential container and Flatten.
#include "tapegrad/nn/sequential.hpp"

#include "tapegrad/nn/flatten.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg::nn {

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) { push_back(std::to_string(size()), std::move(module)); }

void Sequential::push_back(std::string name, std::shared_ptr<Module> module) {
  register_module(std::move(name), std::move(module));
}

std::shared_ptr<Module> Sequential::operator[](long index) const {
  const long n = static_cast<long>(size());
  const long i = index < 0 ? index + n : index;
  if (i < 0 || i >= n) fail("Sequential: index ", index, " is out of range for ", n, " modules");
  return named_children()[static_cast<std::size_t>(i)].second;
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& entry : named_children()) x = entry.second->forward(x);
  return x;
}

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }

std::string Flatten::extra_repr() const {
  return tg::detail::cat("start_dim=", start_dim, ", end_dim=", end_dim);
}

}  // namespace tg::nn
