/// \file
/// TG_ARG, one option of an option struct, as libtorch's TORCH_ARG: the losses', the functionals'
/// and the DataLoader's options are written with it, so each reads
/// `DataLoaderOptions().batch_size(64).shuffle(true)`, and `options.batch_size()` reads it back.
#pragma once

#include <utility>

/// \cond INTERNAL
/// A public chainable setter `name(value)` returning the struct, getters `name()` (a const
/// reference, and a mutable one as libtorch's), and the private field `name_` initialised with
/// the trailing arguments (none: value-initialised). Members declared after it are private.
#define TG_ARG(T, name, ...)                         \
 public:                                             \
  auto name(T value)->decltype(*this) {              \
    name##_ = std::move(value);                      \
    return *this;                                    \
  }                                                  \
  T const& name() const noexcept { return name##_; } \
  T& name() noexcept { return name##_; }             \
                                                     \
 private:                                            \
  T name##_ { __VA_ARGS__ }
/// \endcond
