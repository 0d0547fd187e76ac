/// \file
/// Sequential: modules applied one after another.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// forward(x) = m_n(... m_2(m_1(x))). Children are named "0", "1", ... in order (as PyTorch),
/// so parameters read `0.weight`, `2.bias`; push_back(name, module) chooses the name instead.
///
/// \code{.cpp}
///   auto fc1 = std::make_shared<nn::Linear>(4, 8);
///   nn::Sequential net(fc1, nn::ReLU(), nn::Linear(8, 2));           // as libtorch writes it
///   auto shared = std::make_shared<nn::Sequential>(fc1, nn::ReLU());  // held by shared_ptr
/// \endcode
/// Each argument is a std::shared_ptr to a module (shared: the Sequential holds that module) or a
/// module value (copied into a new shared_ptr; copies of a module share its parameters).
class Sequential : public Module {
 private:
  template <class T>
  struct is_shared_module : std::false_type {};
  template <class M>
  struct is_shared_module<std::shared_ptr<M>> : std::is_base_of<Module, M> {};
  /// A shared_ptr to a module, or a module other than a Sequential (whose copy constructor must
  /// stay the copy constructor).
  template <class A>
  static constexpr bool is_module_argument() {
    using T = std::decay_t<A>;
    return is_shared_module<T>::value || (std::is_base_of_v<Module, T> && !std::is_same_v<T, Sequential>);
  }
  template <class M>
  static std::shared_ptr<Module> module_pointer(std::shared_ptr<M> module) {
    return module;
  }
  template <class M, std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>, int> = 0>
  static std::shared_ptr<Module> module_pointer(M&& module) {
    return std::make_shared<std::decay_t<M>>(std::forward<M>(module));
  }

 public:
  /// Empty (forward is the identity until modules are added).
  Sequential() : Module("Sequential") {}
  /// The modules in order, named "0", "1", ...
  ///@{
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules)
      : Sequential(std::vector<std::shared_ptr<Module>>(modules)) {}
  ///@}
  /// The modules in order, each a std::shared_ptr<M> or a module value (see the class comment).
  template <class... Ms, std::enable_if_t<(sizeof...(Ms) > 0) && (is_module_argument<Ms>() && ...), int> = 0>
  explicit Sequential(Ms&&... modules) : Sequential() {
    (push_back(module_pointer(std::forward<Ms>(modules))), ...);
  }

  /// Appends a module named by its position.
  void push_back(std::shared_ptr<Module> module);
  /// Appends a module under a chosen name.
  void push_back(std::string name, std::shared_ptr<Module> module);
  /// Number of modules.
  std::size_t size() const { return named_children().size(); }
  /// True without modules.
  bool empty() const { return size() == 0; }
  /// The i-th module (bounds-checked; negative counts from the end).
  std::shared_ptr<Module> operator[](long index) const;
  /// The i-th module cast to M, or a tg::Error if it is not an M.
  template <class M>
  std::shared_ptr<M> at(long index) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[index]);
    if (!m) fail("Sequential::at: module ", index, " is a ", (*this)[index]->type_name(), ", not the type asked for");
    return m;
  }

  Tensor forward(const Tensor& input) override;
};

}  // namespace tg::nn
