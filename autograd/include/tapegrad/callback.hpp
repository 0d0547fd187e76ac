/// \file
/// tg::Callback<R(Args...)>: a callable the library stores and calls back (hooks, closures,
/// factories), what std::function is in libtorch's API.
///
/// Why not std::function: \<functional\> brings \<unordered_map\> and the searchers with it, about a
/// third of what \<tapegrad/tapegrad.hpp\> costs a file that includes it (bench/header-cost). Any
/// callable converts to a Callback, a std::function included, so calling code reads the same.
/// Copies copy the callable (value semantics, as std::function); an empty one (default, nullptr,
/// an empty std::function or a null function pointer) is false and raises tg::Error when called.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace tg {

namespace detail {
[[noreturn]] void fail_empty_callback();
}  // namespace detail

template <class Signature>
class Callback;

/// A copyable type-erased callable R(Args...), as std::function (see the file comment).
template <class R, class... Args>
class Callback<R(Args...)> {
 public:
  /// An empty callback (false; calling it raises tg::Error).
  ///@{
  Callback() = default;
  Callback(std::nullptr_t) {}  // NOLINT: implicit, as std::function's
  ///@}
  /// Stores a copy of f, any callable invocable as R(Args...). A null function pointer or an empty
  /// std::function gives an empty callback.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Callback> &&
                                              !std::is_member_pointer_v<std::decay_t<F>> &&
                                              std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
  Callback(F&& f) {  // NOLINT: implicit, so a lambda can be passed where a Callback is expected
    using Fn = std::decay_t<F>;
    if constexpr (std::is_pointer_v<std::remove_reference_t<F>>) {
      if (f == nullptr) return;  // a null function pointer
    } else if constexpr (std::is_class_v<Fn> && std::is_constructible_v<bool, const Fn&> &&
                         !std::is_convertible_v<const Fn&, bool>) {
      if (!static_cast<bool>(f)) return;  // an empty std::function (explicit operator bool)
    }
    target_ = std::make_unique<Model<Fn>>(std::forward<F>(f));
  }
  /// Copies copy the callable; moves leave `other` empty.
  ///@{
  Callback(const Callback& other) : target_(other.target_ ? other.target_->clone() : nullptr) {}
  Callback(Callback&&) noexcept = default;
  Callback& operator=(const Callback& other) {
    if (this != &other) target_ = other.target_ ? other.target_->clone() : nullptr;
    return *this;
  }
  Callback& operator=(Callback&&) noexcept = default;
  ///@}
  ~Callback() = default;

  /// Calls the stored callable; tg::Error when empty.
  R operator()(Args... args) const {
    if (!target_) detail::fail_empty_callback();
    return target_->call(std::forward<Args>(args)...);
  }
  /// True when a callable is stored.
  explicit operator bool() const { return target_ != nullptr; }
  /// Compares with nullptr: `c == nullptr` when empty.
  ///@{
  friend bool operator==(const Callback& c, std::nullptr_t) { return !c; }
  friend bool operator!=(const Callback& c, std::nullptr_t) { return static_cast<bool>(c); }
  ///@}

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual R call(Args... args) = 0;
    virtual std::unique_ptr<Concept> clone() const = 0;
  };
  template <class Fn>
  struct Model final : Concept {
    template <class F>
    // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): Model is never copied, only cloned
    explicit Model(F&& f) : fn(std::forward<F>(f)) {}
    R call(Args... args) override {
      if constexpr (std::is_void_v<R>) fn(std::forward<Args>(args)...);
      else return fn(std::forward<Args>(args)...);
    }
    std::unique_ptr<Concept> clone() const override { return std::make_unique<Model>(fn); }
    Fn fn;
  };
  std::unique_ptr<Concept> target_;
};

}  // namespace tg
