// Module: registries, traversal, modes, dtype conversion, state dicts and printing.
#include "tapegrad/nn/module.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "internal.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/xtensor.hpp"
#include "tensor_impl.hpp"

namespace tg::nn {

// ---- Helpers shared by the nn sources (internal.hpp) ----------------------------------------

namespace detail {

void copy_values(Tensor& dst, const Tensor& src) {
  switch (dst.dtype()) {
    case DType::float32: dst.mutable_value<float>() = src.value<float>(); break;
    case DType::float64: dst.mutable_value<double>() = src.value<double>(); break;
    case DType::int64: dst.mutable_value<std::int64_t>() = src.value<std::int64_t>(); break;
    case DType::boolean: dst.mutable_value<bool>() = src.value<bool>(); break;
  }
}

void replace_values(Tensor& dst, const Tensor& src) {
  if (!dst.is_leaf()) fail("replace_values: only leaves can have their values replaced");
  dst.impl()->set_value(src.impl()->value);
  dst.bump_version();  // an in-place write: a graph that saved dst must not use the new values
}

}  // namespace detail

// ---- Registration ------------------------------------------------------------------------------

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Tensor Module::forward(const Tensor&) {
  fail(type_name_, ": this module does not implement forward(const Tensor&)");
}

void Module::check_new_name(const char* what, const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    fail(what, ": name '", name, "' must be non-empty and contain no '.' (", type_name_, ")");
  auto taken = [&](const auto& registry) {
    return std::any_of(registry.begin(), registry.end(), [&](const auto& e) { return e.first == name; });
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_))
    fail(what, ": name '", name, "' is already registered in ", type_name_);
}

Tensor Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check_new_name("register_parameter", name);
  if (!tensor.defined()) fail("register_parameter: '", name, "' is an undefined tensor");
  if (!tensor.is_floating_point())
    fail("register_parameter: '", name, "' must be float32 or float64, got ", to_string(tensor.dtype()));
  if (!tensor.is_leaf())
    fail("register_parameter: '", name, "' is the output of '", tensor.grad_fn_name(),
         "', not a leaf (register tensor.detach())");
  tensor.requires_grad_(requires_grad);
  tensor.set_name(name);
  parameters_.emplace_back(std::move(name), tensor);
  return tensor;
}

Tensor Module::register_buffer(std::string name, Tensor tensor) {
  check_new_name("register_buffer", name);
  if (!tensor.defined()) fail("register_buffer: '", name, "' is an undefined tensor");
  if (!tensor.is_leaf()) fail("register_buffer: '", name, "' must be a leaf (register tensor.detach())");
  tensor.set_name(name);
  buffers_.emplace_back(std::move(name), tensor);
  return tensor;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name("register_module", name);
  if (!module) fail("register_module: '", name, "' is a null module");
  if (module.get() == this) fail("register_module: ", type_name_, " cannot contain itself");
  for (auto& [path, t] : module->named_parameters()) t.set_name(name + "." + path);
  for (auto& [path, t] : module->named_buffers()) t.set_name(name + "." + path);
  children_.emplace_back(std::move(name), std::move(module));
}

// ---- Traversal ---------------------------------------------------------------------------------

void Module::collect(const std::string& prefix, bool recurse, bool buffers, NamedTensors& out,
                     std::vector<const tg::detail::TensorImpl*>& seen) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) {
    if (std::find(seen.begin(), seen.end(), t.impl()) != seen.end()) continue;
    seen.push_back(t.impl());
    out.emplace_back(prefix + name, t);
  }
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", true, buffers, out, seen);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::vector<const tg::detail::TensorImpl*> seen;
  collect("", recurse, false, out, seen);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::vector<const tg::detail::TensorImpl*> seen;
  collect("", recurse, true, out, seen);
  return out;
}

namespace {
std::vector<Tensor> values_of(const NamedTensors& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& entry : named) out.push_back(entry.second);
  return out;
}
}  // namespace

std::vector<Tensor> Module::parameters(bool recurse) const { return values_of(named_parameters(recurse)); }
std::vector<Tensor> Module::buffers(bool recurse) const { return values_of(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& entry : children_) out.push_back(entry.second);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (const auto& [path, m] : child->named_modules())
      out.emplace_back(path.empty() ? name : name + "." + path, m);
  return out;
}

void Module::apply(const Callback<void(Module&)>& fn) {
  for (const auto& entry : children_) entry.second->apply(fn);
  fn(*this);
}

std::size_t Module::num_parameters(bool trainable_only) const {
  std::size_t n = 0;
  for (const Tensor& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

// ---- Modes and conversion ----------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (const auto& entry : children_) entry.second->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) p.zero_grad(set_to_none);
}

Module& Module::to(DType dtype) {
  if (!is_floating(dtype)) fail("to: modules convert to float32 or float64, not ", to_string(dtype));
  NoGradGuard no_grad;
  auto convert = [&](Tensor t) {
    if (!t.is_floating_point() || t.dtype() == dtype) return;
    const Tensor grad = t.grad();
    detail::replace_values(t, t.detach().to(dtype));
    t.set_grad(grad.defined() ? grad.detach().to(dtype) : Tensor());
  };
  for (const Tensor& p : parameters()) convert(p);
  for (const Tensor& b : buffers()) convert(b);
  return *this;
}

// ---- State -------------------------------------------------------------------------------------

StateDict Module::state_dict() const {
  StateDict state;
  for (const auto& [name, t] : named_parameters()) state.emplace(name, t);
  for (const auto& [name, t] : named_buffers()) state.emplace(name, t);
  return state;
}

namespace {
std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", '" : "'") + names[i] + "'";
  return s;
}
}  // namespace

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  StateDict own = state_dict();
  LoadResult result;
  for (const auto& entry : own)
    if (!state.count(entry.first)) result.missing_keys.push_back(entry.first);
  for (const auto& entry : state)
    if (!own.count(entry.first)) result.unexpected_keys.push_back(entry.first);
  if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
    std::string msg = "load_state_dict: the state does not match " + type_name_ + ":";
    if (!result.missing_keys.empty()) msg += " missing " + quoted_list(result.missing_keys) + ";";
    if (!result.unexpected_keys.empty()) msg += " unexpected " + quoted_list(result.unexpected_keys) + ";";
    fail(msg, " (pass strict = false to skip them)");
  }
  // Check everything before writing anything, and report every mismatch at once.
  std::vector<std::string> problems;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    const Tensor& src = it->second;
    if (!src.defined())
      problems.push_back("entry '" + name + "' is an undefined tensor");
    else if (src.dtype() != t.dtype())
      problems.push_back(tg::detail::cat("entry '", name, "' has dtype ", to_string(src.dtype()),
                                         " but the model's is ", to_string(t.dtype()),
                                         " (convert the model with to() first)"));
    else if (src.shape() != t.shape())
      problems.push_back(tg::detail::cat("entry '", name, "' has shape ", to_string(src.shape()),
                                         " but the model's is ", to_string(t.shape())));
  }
  if (!problems.empty()) {
    std::string msg = "load_state_dict: ";
    for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    fail(msg);
  }
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it != state.end() && !it->second.is_same(t)) detail::copy_values(t, it->second);
  }
  return result;
}

// ---- Printing ----------------------------------------------------------------------------------

void Module::pretty_print(std::ostream& os, int indent) const {
  const std::string extra = extra_repr();
  os << type_name_ << "(";
  if (children_.empty()) {
    os << extra << ")";
    return;
  }
  // As PyTorch: a container's own arguments go on the first indented line, then the children.
  const std::string pad(static_cast<std::size_t>(indent) + 2, ' ');
  os << "\n";
  if (!extra.empty()) os << pad << extra << "\n";
  for (const auto& [name, child] : children_) {
    os << pad << "(" << name << "): ";
    child->pretty_print(os, indent + 2);
    os << "\n";
  }
  os << std::string(static_cast<std::size_t>(indent), ' ') << ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  module.pretty_print(os);
  return os;
}

std::string Module::summary() const {
  std::ostringstream os;
  pretty_print(os);
  os << "\n";
  struct Row { std::string name, shape, dtype, count; };
  std::vector<Row> rows{{"name", "shape", "dtype", "elements"}};
  std::size_t trainable = 0, frozen = 0, buffer_elements = 0;
  for (const auto& [name, p] : named_parameters()) {
    rows.push_back({name, to_string(p.shape()), to_string(p.dtype()), std::to_string(p.numel())});
    (p.requires_grad() ? trainable : frozen) += p.numel();
  }
  for (const auto& [name, b] : named_buffers()) {
    rows.push_back({name + " (buffer)", to_string(b.shape()), to_string(b.dtype()), std::to_string(b.numel())});
    buffer_elements += b.numel();
  }
  std::size_t w[3] = {0, 0, 0};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.name.size());
    w[1] = std::max(w[1], r.shape.size());
    w[2] = std::max(w[2], r.dtype.size());
  }
  for (const Row& r : rows)
    os << std::left << std::setw(static_cast<int>(w[0] + 2)) << r.name << std::setw(static_cast<int>(w[1] + 2))
       << r.shape << std::setw(static_cast<int>(w[2] + 2)) << r.dtype << std::right << r.count << "\n";
  os << "parameters: " << trainable + frozen << " (trainable " << trainable << ", frozen " << frozen
     << "), buffer elements: " << buffer_elements << "\n";
  return os.str();
}

}  // namespace tg::nn
