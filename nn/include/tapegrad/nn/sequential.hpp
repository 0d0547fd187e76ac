/// \file
/// Sequential: modules applied one after another.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/nn/module.hpp"

namespace tg::nn {

/// forward(x) = m_n(... m_2(m_1(x))). Children are named "0", "1", ... in order (as PyTorch),
/// so parameters read `0.weight`, `2.bias`; push_back(name, module) chooses the name instead.
///
/// \code{.cpp}
///   auto net = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
///       std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
///       std::make_shared<nn::Linear>(8, 2)});
/// \endcode
class Sequential : public Module {
 public:
  /// Empty (forward is the identity until modules are added).
  Sequential() : Module("Sequential") {}
  /// The modules in order, named "0", "1", ...
  ///@{
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules)
      : Sequential(std::vector<std::shared_ptr<Module>>(modules)) {}
  ///@}

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
