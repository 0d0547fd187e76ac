// The tape: a flat, append-only record of the differentiable ops one thread has run.
//
// Invariants
// - Nodes are appended in creation order, which is already a topological order: a node's inputs
//   are leaves or outputs of earlier nodes. backward() walks the tape from the root's node back
//   to the start; nothing recurses over the graph and nothing is sorted.
// - A node owns its output tensor and holds its inputs. A backward closure may capture more
//   tensors, but never the node's own output (it reads BackwardContext::output()), so ownership
//   never forms a cycle.
// - A node is dead once nothing but the tape refers to its output. collect() finds dead nodes
//   in one reverse pass (later nodes release their inputs before earlier ones are looked at) and
//   recycles whole blocks of nodes, so a loop that records and backwards the same graph each
//   step reuses the same node memory and closures live inline in the nodes (no allocation).
// - backward() without retain_graph frees the nodes it swept: their closures and inputs are
//   released at once, and a second backward through them raises tg::Error.
// - Each thread records on its own tape. A tensor recorded on one thread cannot join another
//   thread's graph (detach() it first); tensors without history move freely.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "tapegrad/grad_mode.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

class BackwardContext;
class Tape;

namespace detail {

/// A type-erased backward closure stored inline in its node when small enough.
class Closure {
 public:
  static constexpr std::size_t kInlineBytes = 64;
  Closure() = default;
  Closure(const Closure&) = delete;
  Closure& operator=(const Closure&) = delete;
  ~Closure() { reset(); }

  template <class F>
  void emplace(F&& f) {
    using Fn = std::decay_t<F>;
    reset();
    if constexpr (sizeof(Fn) <= kInlineBytes && alignof(Fn) <= alignof(std::max_align_t)) {
      target_ = new (storage_) Fn(std::forward<F>(f));
      destroy_ = [](void* p) noexcept { static_cast<Fn*>(p)->~Fn(); };
    } else {
      target_ = new Fn(std::forward<F>(f));
      destroy_ = [](void* p) noexcept { delete static_cast<Fn*>(p); };
    }
    invoke_ = [](void* p, BackwardContext& ctx) { (*static_cast<Fn*>(p))(ctx); };
  }
  void operator()(BackwardContext& ctx) { invoke_(target_, ctx); }
  explicit operator bool() const { return invoke_ != nullptr; }
  void reset() noexcept {
    if (destroy_) destroy_(target_);
    invoke_ = nullptr;
    destroy_ = nullptr;
    target_ = nullptr;
  }

 private:
  void (*invoke_)(void*, BackwardContext&) = nullptr;
  void (*destroy_)(void*) noexcept = nullptr;
  void* target_ = nullptr;
  alignas(std::max_align_t) unsigned char storage_[kInlineBytes];
};

}  // namespace detail

/// One recorded op: its name, output, inputs, backward closure and (during a sweep) the
/// gradient flowing into its output.
struct Node {
  enum class State : std::uint8_t { live, freed, dead };

  const char* name = "";
  Tensor output;
  Tensor adjoint;  // d(root)/d(output), only during backward
  detail::Closure backward;
  Tape* tape = nullptr;
  std::uint64_t index = 0;
  State state = State::dead;

  std::size_t num_inputs() const { return num_inputs_; }
  const Tensor& input(std::size_t i) const {
    return i < kInlineInputs ? inline_inputs_[i] : more_inputs_[i - kInlineInputs];
  }
  void set_inputs(const Tensor* first, std::size_t count);
  void release();  // drops closure, inputs, adjoint (the output stays)

 private:
  static constexpr std::size_t kInlineInputs = 3;
  std::array<Tensor, kInlineInputs> inline_inputs_;
  std::vector<Tensor> more_inputs_;
  std::size_t num_inputs_ = 0;
};

/// Handed to a backward closure: the upstream gradient, the node's output and inputs, and where
/// to put each input's gradient. Gradients may have the broadcast shape; the engine sums them
/// back to the input's shape.
class BackwardContext {
 public:
  BackwardContext(Node& node, std::vector<Tensor>& grads) : node_(node), grads_(grads) {}
  /// Gradient of the root with respect to this node's output (same shape as output()).
  const Tensor& grad() const { return node_.adjoint; }
  const Tensor& output() const { return node_.output; }
  const Tensor& input(std::size_t i) const { return node_.input(i); }
  std::size_t num_inputs() const { return node_.num_inputs(); }
  /// True when input i takes part in differentiation (skip computing its gradient otherwise).
  bool needs_grad(std::size_t i) const {
    const Tensor& in = node_.input(i);
    return in.defined() && in.requires_grad();
  }
  /// Sets the gradient for input i (an undefined tensor means zero).
  void set_grad(std::size_t i, Tensor grad) { grads_[i] = std::move(grad); }
  const char* name() const { return node_.name; }

 private:
  Node& node_;
  std::vector<Tensor>& grads_;
};

/// The recording of one thread. Most code never touches it directly: ops call record().
class Tape {
 public:
  Tape() = default;
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// The calling thread's tape.
  static Tape& current();

  /// Appends a node (state live); the output becomes its product and requires grad.
  Node& append(const char* name, Tensor output, const Tensor* inputs, std::size_t count);
  Node& at(std::uint64_t index);
  /// Index one past the newest node.
  std::uint64_t end_index() const { return end_; }
  std::uint64_t begin_index() const { return begin_; }
  /// Number of nodes not yet dead (live or freed).
  std::size_t num_nodes() const { return num_alive_; }
  /// Bytes held by node blocks (including recycled ones).
  std::size_t reserved_bytes() const;
  /// Releases dead nodes and recycles blocks; runs by itself after backward and as the tape grows.
  void collect();
  /// Nodes recorded since the tape was created (for statistics).
  std::uint64_t total_recorded() const { return total_recorded_; }
  /// While a sweep runs, append() must not collect (nodes being swept are referenced by index).
  void pause_collect() { ++paused_; }
  void resume_collect() { --paused_; }

 private:
  static constexpr std::size_t kBlockSize = 256;
  void trim();
  std::vector<std::unique_ptr<Node[]>> blocks_;
  std::vector<std::unique_ptr<Node[]>> spare_blocks_;
  std::uint64_t begin_ = 0;  // index of blocks_[0][0]
  std::uint64_t end_ = 0;
  std::size_t num_alive_ = 0;
  std::uint64_t next_collect_ = 4096;
  std::uint64_t total_recorded_ = 0;
  int paused_ = 0;
};

namespace detail {
/// True when an op with these inputs must be recorded (grad mode on, some input requires grad).
/// Throws if an input belongs to another thread's graph.
bool should_record(const char* name, const Tensor* inputs, std::size_t count);
/// Under anomaly detection, throws if t holds NaN/Inf ("what" says forward output or gradient).
void check_anomaly(const char* name, const Tensor& t, const char* what);
/// Marks the backward of an op as running, so anomaly messages name it.
class BackwardScope {
 public:
  explicit BackwardScope(const char* name);
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;

 private:
  const char* previous_;
};
Node& append_node(const char* name, Tensor output, const Tensor* inputs, std::size_t count);
}  // namespace detail

/// Records an op: `output` was computed from `inputs` by the forward pass; `backward` is a
/// callable `void(BackwardContext&)` that sets each input's gradient using tapegrad ops (so the
/// same formula serves first and higher order). Returns the output (now requiring grad) or,
/// when nothing needs recording, the output unchanged.
template <class F>
Tensor record(const char* name, Tensor output, const Tensor* inputs, std::size_t count,
              F&& backward) {
  if (!detail::should_record(name, inputs, count)) {
    detail::check_anomaly(name, output, "output");
    return output;
  }
  Node& node = detail::append_node(name, std::move(output), inputs, count);
  node.backward.emplace(std::forward<F>(backward));
  return node.output;
}

template <class F>
Tensor record(const char* name, Tensor output, std::initializer_list<Tensor> inputs, F&& backward) {
  return record(name, std::move(output), inputs.begin(), inputs.size(), std::forward<F>(backward));
}

template <class F>
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, F&& backward) {
  return record(name, std::move(output), inputs.data(), inputs.size(), std::forward<F>(backward));
}

}  // namespace tg
