/// \file
/// tg::nn::Module: the base of every layer and model.
///
/// Invariants
/// - A module owns three registries, each in registration order: parameters (leaf tensors that
///   train), buffers (state that is saved but not trained: running statistics, counters) and
///   submodules. Names are unique within a module across the three and contain no '.', so a
///   dotted path (`layers.0.weight`) names one tensor of a model.
/// - Registered tensors are handles: a layer keeps a member copy (Linear::weight) that shares the
///   registry's tensor. Whatever changes a registered tensor (to(), load_state_dict(), the
///   initialisers, optimizers) changes it in place, so member and registry never diverge.
/// - Every registered tensor carries its dotted name (Tensor::name()), for graph exports and error
///   messages; registering a module into a parent prefixes its tensors' names (so build a child
///   fully before registering it; tensors added to it later keep the shorter name).
/// - Modules are held by std::shared_ptr. (libtorch wraps the shared_ptr in a ModuleHolder made by
///   TORCH_MODULE; we use the plain shared_ptr to keep the machinery small.)
/// - forward takes and returns one tensor, so any module can sit in a Sequential. (libtorch lets
///   forward have any signature and erases it with AnyModule; a module needing more inputs adds
///   its own overloads next to this one.)
#pragma once

#include <cstddef>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::nn {

/// Tensors with their (dotted) names, in registration order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
/// A model's state by dotted name: parameters and buffers, as save()/load() read and write it.
using StateDict = std::map<std::string, Tensor>;

/// What a non-strict load_state_dict() skipped (both empty after a strict load).
struct LoadResult {
  std::vector<std::string> missing_keys;     ///< in the model but not in the state
  std::vector<std::string> unexpected_keys;  ///< in the state but not in the model
};

/// The base of every layer and model (see the file comment for the invariants), as torch.nn.Module.
class Module {
 public:
  /// type_name is the class name used when printing ("Linear").
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  /// Copies are shallow (they share parameters, buffers and submodules), as in libtorch.
  ///@{
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  ///@}

  /// The class name used when printing ("Linear").
  const std::string& type_name() const { return type_name_; }

  /// The module's computation. The base version throws: containers need not define it.
  virtual Tensor forward(const Tensor& input);
  /// model(x) is model.forward(x).
  Tensor operator()(const Tensor& input) { return forward(input); }

  // ---- Registration --------------------------------------------------------------------------

  /// Registers a floating leaf tensor as a trainable parameter and returns it (the same handle),
  /// after setting requires_grad. Throws for a duplicate or dotted name, an undefined,
  /// non-floating or non-leaf tensor.
  Tensor register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  /// Registers state that is saved and converted with the module but not trained.
  Tensor register_buffer(std::string name, Tensor tensor);
  /// Registers a submodule; its tensors' names get the prefix "name.". Returns the module.
  template <class M>
  std::shared_ptr<M> register_module(std::string name, const std::shared_ptr<M>& module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from tg::nn::Module");
    std::shared_ptr<Module> base = module;  // a call clang-tidy can resolve: it takes the name by value
    add_child(std::move(name), std::move(base));
    return module;
  }

  // ---- Traversal -----------------------------------------------------------------------------

  /// Parameters of this module and (recurse) its descendants, depth first in registration order.
  /// A tensor registered in two places is listed once (the first place), as in PyTorch.
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// parameters() with their dotted names ("layers.0.weight").
  NamedTensors named_parameters(bool recurse = true) const;
  /// Buffers of this module and (recurse) its descendants, in the order of parameters().
  std::vector<Tensor> buffers(bool recurse = true) const;
  /// buffers() with their dotted names ("bn.running_mean").
  NamedTensors named_buffers(bool recurse = true) const;
  /// Direct submodules in registration order.
  std::vector<std::shared_ptr<Module>> children() const;
  /// Direct submodules with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  /// This module ("" ) and every descendant with its dotted path, depth first.
  std::vector<std::pair<std::string, Module*>> named_modules();
  /// Calls fn on every descendant and then on this module (children first, as torch's apply).
  void apply(const Callback<void(Module&)>& fn);
  /// Number of parameter elements (only those requiring grad when trainable_only).
  std::size_t num_parameters(bool trainable_only = false) const;

  // ---- Modes and conversion ------------------------------------------------------------------

  /// Sets training mode (Dropout drops, BatchNorm uses batch statistics) here and below.
  virtual void train(bool on = true);
  /// Evaluation mode: train(false).
  void eval() { train(false); }
  /// True in training mode (the default), false after eval().
  bool is_training() const { return training_; }
  /// Clears every parameter's gradient: undefined (set_to_none) or zero-filled in place.
  void zero_grad(bool set_to_none = true);
  /// Converts floating parameters, buffers and their gradients to dtype (float32 or float64) in
  /// place, keeping every handle valid; integer buffers (num_batches_tracked) are left alone.
  /// Do not convert while a recorded graph that uses the parameters still awaits backward.
  Module& to(DType dtype);

  // ---- State ---------------------------------------------------------------------------------

  /// Parameters and buffers by dotted name (handles to the live tensors, not copies).
  StateDict state_dict() const;
  /// Copies values from state into the model's tensors. Every entry is checked before anything
  /// is written, so a failed load leaves the model unchanged. strict: a missing or unexpected
  /// entry throws, naming it; non-strict: they are skipped and reported in the result. A shape
  /// or dtype mismatch throws in both modes, naming every such entry ("load_state_dict: entry
  /// 'fc1.weight' has shape (4,5) but the model's is (5,4)").
  LoadResult load_state_dict(const StateDict& state, bool strict = true);
  /// Writes state_dict() to a .npz file (atomically; see tapegrad/nn/serialize.hpp).
  void save(const std::string& path) const;
  /// Reads a .npz file written by save() (or numpy.savez) and load_state_dict()s it.
  LoadResult load(const std::string& path, bool strict = true);

  // ---- Printing ------------------------------------------------------------------------------

  /// The arguments shown between the parentheses, e.g. "in_features=4, out_features=5, bias=true".
  virtual std::string extra_repr() const { return ""; }
  /// Writes the module tree as PyTorch prints it: "Linear(in_features=4, ...)" for a leaf,
  /// "Type(\n  extra_repr\n  (name): child\n)" for a container.
  void pretty_print(std::ostream& os, int indent = 0) const;
  /// The tree, then a table of every parameter and buffer (dotted name, shape, dtype, elements)
  /// and the totals.
  std::string summary() const;

 private:
  void add_child(std::string name, std::shared_ptr<Module> module);
  void check_new_name(const char* what, const std::string& name) const;
  void collect(const std::string& prefix, bool recurse, bool buffers, NamedTensors& out,
               std::vector<const tg::detail::TensorImpl*>& seen) const;

  std::string type_name_;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Prints the module tree (pretty_print).
std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace tg::nn
