// The tape: the graph of recorded ops, one node per op, linked from outputs back to inputs.
//
// Invariants
// - Ownership runs backwards, from outputs to inputs, so it never forms a cycle: a tensor owns
//   a reference to its producer node (grad_fn); a node owns references to its inputs' producers
//   and to the leaves whose gradient it feeds, and a handle on each tensor its backward reads.
//   A node never owns its output's handle: a node whose backward reads its output keeps the
//   output impl alive without a handle (tensor_impl.hpp) and hands out a handle during backward.
// - A node is freed the moment its last reference goes: no scan, no collect. Freeing a long
//   chain is iterative (a per-thread list of nodes to free), so it cannot overflow the stack.
//   Node memory comes from a per-thread free list, so a loop that records and frees the same
//   graph each step allocates no node memory after the first step. A node may be freed on a
//   thread other than the one that made it.
// - Each node gets a sequence number from one process-wide counter when it is recorded. An
//   op's inputs exist before the op runs, so a node's number is larger than its inputs' nodes'
//   numbers, whichever threads recorded them: descending numbers are a topological order.
// - A node saves only the inputs (and output) its backward reads, declared at record time
//   (`Save` flags), each with the version it had then; the backward reads them through
//   BackwardContext, which raises tg::Error if a saved tensor was written in place since.
// - backward()/grad() run as a per-call task (autograd.cpp) with their own gradient storage:
//   nothing in a node or a tensor changes while a sweep runs, except .grad of leaves (under a
//   lock) and, without retain_graph, each swept node's saved state, released once it has run
//   (the task holds the nodes it reached until their turn). So a backward may call
//   backward/grad (re-entrant), and threads may differentiate graphs that share nodes or
//   leaves at the same time.
// - Forward mode (forward_ad.hpp): record() also takes the op's JVP rule, a callable
//   `Tensor(const JvpContext&)` giving the output's tangent from the primals and the inputs'
//   tangents, written in tapegrad ops next to the backward. It runs at once, inside record(),
//   only when a DualLevel is active and some input has a tangent (so it may capture by
//   reference: nothing is stored), with propagation suspended on the thread. The rule may
//   return a tangent of a shape the output's broadcasts from (it is expanded) or undefined
//   (zero). record() without a rule refuses a tangent with tg::Error.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "tapegrad/forward_ad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/tensor.hpp"
#include "tensor_impl.hpp"

namespace tg {

class BackwardContext;

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
    constexpr bool kFits = sizeof(Fn) <= kInlineBytes, kAligned = alignof(Fn) <= alignof(std::max_align_t);
    if constexpr (kFits && kAligned) {
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

// Node reference counting: inline (after Node below), since every recorded op takes references
// to its inputs' nodes; freeing goes out of line.
inline void retain(Node* node) noexcept;
inline void release(Node* node) noexcept;
/// Frees a node whose last reference went, and then any nodes that frees, iteratively.
void free_node(Node* node) noexcept;

/// An owning pointer to a node (intrusive count).
class NodeRef {
 public:
  NodeRef() = default;
  explicit NodeRef(Node* n) noexcept : n_(n) { if (n_) retain(n_); }
  NodeRef(const NodeRef& o) noexcept : NodeRef(o.n_) {}
  NodeRef(NodeRef&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
  NodeRef& operator=(NodeRef o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~NodeRef() { if (n_) release(n_); }
  Node* get() const { return n_; }
  Node* operator->() const { return n_; }
  explicit operator bool() const { return n_ != nullptr; }

 private:
  Node* n_ = nullptr;
};

}  // namespace detail

/// What a node keeps for its backward: bit i saves input i, kSaveOutput the output. An op
/// declares exactly what its backward reads; reading anything else raises tg::Error.
enum Save : std::uint32_t {
  kSaveNone = 0,
  kSaveInput0 = 1u << 0,
  kSaveInput1 = 1u << 1,
  kSaveInput2 = 1u << 2,
  kSaveOutput = 1u << 31,
  kSaveAll = 0xffffffffu,  // every input and the output (custom code that does not say)
};
constexpr Save operator|(Save a, Save b) { return static_cast<Save>(std::uint32_t(a) | std::uint32_t(b)); }

namespace detail {
/// A shape stored without allocating up to six axes (a node's output shape).
class SmallShape {
 public:
  void assign(const std::size_t* dims, std::size_t n);
  std::size_t size() const { return n_; }
  const std::size_t* data() const { return n_ <= kInline ? inline_ : big_.get(); }
  bool equals(const std::size_t* dims, std::size_t n) const;
  Shape to_shape() const { return Shape(data(), data() + n_); }

 private:
  static constexpr std::size_t kInline = 6;
  std::size_t inline_[kInline];  // the first n_ are set (no need to zero the rest)
  std::size_t n_ = 0;
  std::unique_ptr<std::size_t[]> big_;
};
}  // namespace detail

/// One recorded op. Built by record(); read by the sweep and by BackwardContext.
struct Node {
  /// One input of the op: where its gradient goes, and its value if the backward reads it.
  struct Input {
    detail::NodeRef producer;  // the input's grad_fn, when it has one and requires grad
    Tensor leaf;               // the input itself, when it is a leaf that requires grad
    Tensor saved;              // the input, when the backward reads it
    std::uint32_t version = 0; // saved's version when recorded
    DType dtype = DType::float32;
  };

  // What a sweep reads of every node comes first (one or two cache lines), the rest after.
  std::atomic<std::uint32_t> refs{1};
  std::uint32_t num_inputs = 0;
  std::uint64_t sequence = 0;
  const char* name = "";
  /// Set when a backward without retain_graph has run it: saved state and edges are gone.
  std::atomic<bool> released{false};
  std::atomic<bool> has_hooks{false};  // hooks is set (read without a lock)
  bool saves_output = false;
  std::atomic_flag output_lock = ATOMIC_FLAG_INIT;
  std::uint32_t output_version = 0;
  detail::SmallShape output_shape;
  detail::Closure backward;
  /// The output impl, when the backward reads the output (kSaveOutput); guarded by output_lock.
  detail::TensorImpl* output = nullptr;
  std::shared_ptr<detail::HookList> hooks;  // register_hook on the output (non-leaf)
  Node* next_to_free = nullptr;             // the per-thread list of nodes being freed

  Input& input(std::size_t i) { return i < kInline ? inline_inputs_[i] : more_inputs_[i - kInline]; }
  const Input& input(std::size_t i) const {
    return i < kInline ? inline_inputs_[i] : more_inputs_[i - kInline];
  }
  /// Makes room for n inputs (reset to defaults).
  void resize_inputs(std::size_t n);
  /// Drops the closure, saved tensors and edges (after a backward without retain_graph).
  void release_saved() noexcept;
  ~Node();

 private:
  static constexpr std::size_t kInline = 3;
  std::array<Input, kInline> inline_inputs_;
  std::vector<Input> more_inputs_;
};

namespace detail {
inline void retain(Node* node) noexcept { node->refs.fetch_add(1, std::memory_order_relaxed); }
/// Starts loading the node-sized block at p into the cache (ForWrite: a free block about to be
/// written), so that a read or a locked instruction on it later does not wait for memory.
template <int ForWrite = 0>
inline void prefetch_node(const void* p) {
  const char* bytes = static_cast<const char*>(p);
  for (std::size_t offset = 0; offset < sizeof(Node); offset += 64) __builtin_prefetch(bytes + offset, ForWrite);
}
inline void release(Node* node) noexcept {
  if (node->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_node(node);
}
}  // namespace detail

/// Handed to a backward closure: the upstream gradient, the saved tensors, and where to put
/// each input's gradient. Gradients may have the broadcast shape; the engine sums them back to
/// the input's shape.
class BackwardContext {
 public:
  BackwardContext(Node& node, Tensor* grads, const char* needs, const Tensor& grad)
      : node_(node), grads_(grads), needs_(needs), grad_(grad) {}
  /// Gradient of the root with respect to this node's output (same shape as the output).
  const Tensor& grad() const { return grad_; }
  /// The op's output (the op must save it: kSaveOutput). Checked against its version.
  const Tensor& output() const;
  /// Input i (the op must save it). Checked against its version.
  const Tensor& input(std::size_t i) const;
  std::size_t num_inputs() const { return node_.num_inputs; }
  /// True when this sweep needs input i's gradient (skip computing it otherwise).
  bool needs_grad(std::size_t i) const { return i < node_.num_inputs && needs_[i]; }
  /// Sets the gradient for input i (an undefined tensor means zero).
  void set_grad(std::size_t i, Tensor grad) {
    if (i < node_.num_inputs) grads_[i] = std::move(grad);
  }
  const char* name() const { return node_.name; }

 private:
  Node& node_;
  Tensor* grads_;
  const char* needs_;
  const Tensor& grad_;
  mutable Tensor output_;
};

namespace detail {
/// True when an op with these inputs must be recorded (grad mode on, some input requires grad).
bool should_record(const Tensor* inputs, std::size_t count);
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
/// Makes the node of a recorded op; `output` becomes its product (and is returned).
Node& append_node(const char* name, Tensor& output, const Tensor* inputs, std::size_t count,
                  Save saves);
/// Raises tg::Error unless t is still at the version it had when `op` saved it ("what" names
/// it, e.g. "input 1"): one message for built-in ops and custom Functions.
void check_saved_version(const char* op, const std::string& what, const Tensor& t,
                         std::uint32_t saved_version);
/// In-place ops (inplace.cpp), in two steps. inplace_source(self) makes a stand-in for self as
/// it is before the write: a copy of its values at its version, with its grad_fn (another
/// reference) and its tangent. The op computes its result out of place from the stand-in, so a
/// node that saves the op's input saves the stand-in, which nothing writes to.
Tensor inplace_source(const char* op, const Tensor& self);
/// commit_inplace copies result's values into self's own array (so pointers into it stay
/// valid) and bumps self's version: nodes that saved self before now refuse to read it. When
/// result was recorded, self takes over its grad_fn (PyTorch's rebase_history); a node that
/// saved self as its output is pointed at the stand-in, which holds the values it saved. self's
/// tangent becomes result's. tg::Error naming op unless result has self's dtype and shape.
void commit_inplace(const char* op, Tensor& self, const Tensor& source, Tensor result);
/// Nodes alive in this process (for tests and benchmarks).
std::size_t live_nodes();
/// What the last backward()/grad() that finished on this thread did: nodes it reached from the
/// roots, and backward closures it ran (after pruning to what the requested inputs need).
struct SweepStats {
  std::size_t reached = 0;
  std::size_t run = 0;
};
SweepStats last_sweep_stats();
}  // namespace detail

namespace detail {
/// The active level's id (0: none); set by forward_ad::DualLevel.
extern std::atomic<std::uint64_t> g_forward_level;
/// True when a level is active: the one check every op pays for forward mode.
inline bool forward_ad_possible() { return g_forward_level.load(std::memory_order_relaxed) != 0; }
/// t's tangent at the active level (undefined: none, no level, or propagation suspended on this
/// thread). tg::Error naming `op` when t was written in place since the tangent was set.
Tensor live_tangent(const char* op, const Tensor& t);
/// True when t has a live tangent (as above, without the staleness check).
bool has_live_tangent(const Tensor& t);
/// Raises "forward AD: <op> has no JVP rule" when some input has a live tangent.
void refuse_tangents(const char* op, const Tensor* inputs, std::size_t count);
/// Sets output's tangent at the active level: checks the dtype, expands a broadcastable shape.
void attach_tangent(const char* op, Tensor& output, Tensor tangent);
/// Removes impl from the live level's registry of tensors with a tangent (~TensorImpl, when
/// impl still holds one).
void forget_tangent(TensorImpl* impl) noexcept;
/// a + b for tangents where undefined means zero.
Tensor add_tangents(const Tensor& a, const Tensor& b);
}  // namespace detail

/// Handed to a JVP rule: the op's primal inputs and output, and the inputs' tangents.
class JvpContext {
 public:
  /// Collects the live tangents of inputs; any() says whether there is one.
  JvpContext(const char* name, const Tensor* inputs, std::size_t count);
  bool any() const { return any_; }
  std::size_t num_inputs() const { return count_; }
  /// Primal input i (its tangent is not propagated inside the rule).
  const Tensor& input(std::size_t i) const { return inputs_[i]; }
  /// The op's output. While grad mode is on, a copy in the graph (gradients reach the output):
  /// the output holds its tangent, so a tangent recorded reading the output itself would hold
  /// it back, a reference cycle.
  const Tensor& output() const;
  bool has_tangent(std::size_t i) const { return tangent(i).defined(); }
  /// Input i's tangent, undefined for zero.
  const Tensor& tangent(std::size_t i) const { return i < kInline ? inline_[i] : more_[i - kInline]; }
  /// Input i's tangent, zeros of the input's shape when it has none.
  Tensor tangent_or_zeros(std::size_t i) const;
  const char* name() const { return name_; }
  void set_output(const Tensor& out) { output_ = out; }

 private:
  static constexpr std::size_t kInline = 3;
  const char* name_;
  const Tensor* inputs_;
  std::size_t count_;
  bool any_ = false;
  Tensor inline_[kInline];
  std::vector<Tensor> more_;
  Tensor output_;
  mutable Tensor output_copy_;
};

/// Records an op: `output` was computed from `inputs` by the forward pass; `backward` is a
/// callable `void(BackwardContext&)` that sets each input's gradient using tapegrad ops (so the
/// same formula serves first and higher order); `saves` names what it reads. Returns the output
/// (now requiring grad) or, when nothing needs recording, the output unchanged.
template <class F>
Tensor record(const char* name, Tensor output, const Tensor* inputs, std::size_t count,
              Save saves, F&& backward) {
  if (__builtin_expect(detail::forward_ad_possible(), 0)) detail::refuse_tangents(name, inputs, count);
  if (!detail::should_record(inputs, count)) {
    detail::check_anomaly(name, output, "output");
    return output;
  }
  Node& node = detail::append_node(name, output, inputs, count, saves);
  node.backward.emplace(std::forward<F>(backward));
  return output;
}

/// As above, with the op's JVP rule `jvp`, a callable `Tensor(const JvpContext&)` run only when
/// some input has a tangent (see the invariants).
template <class F, class J>
Tensor record(const char* name, Tensor output, const Tensor* inputs, std::size_t count, Save saves, F&& backward,
              J&& jvp) {
  if (__builtin_expect(detail::forward_ad_possible(), 0)) {
    JvpContext ctx(name, inputs, count);
    if (ctx.any()) {
      Tensor out;
      {
        // Only the rule gives the tangent: refuse_tangents must not see it.
        forward_ad::detail::SuspendGuard suspend;
        out = record(name, std::move(output), inputs, count, saves, std::forward<F>(backward));
      }
      ctx.set_output(out);
      Tensor tangent;
      {
        forward_ad::detail::SuspendGuard suspend;
        tangent = jvp(static_cast<const JvpContext&>(ctx));
      }
      detail::attach_tangent(name, out, std::move(tangent));
      return out;
    }
  }
  return record(name, std::move(output), inputs, count, saves, std::forward<F>(backward));
}

template <class F>
Tensor record(const char* name, Tensor output, std::initializer_list<Tensor> inputs, Save saves,
              F&& backward) {
  return record(name, std::move(output), inputs.begin(), inputs.size(), saves,
                std::forward<F>(backward));
}

template <class F, class J>
Tensor record(const char* name, Tensor output, std::initializer_list<Tensor> inputs, Save saves, F&& backward,
              J&& jvp) {
  return record(name, std::move(output), inputs.begin(), inputs.size(), saves, std::forward<F>(backward),
                std::forward<J>(jvp));
}

template <class F>
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, Save saves,
              F&& backward) {
  return record(name, std::move(output), inputs.data(), inputs.size(), saves,
                std::forward<F>(backward));
}

template <class F, class J>
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, Save saves, F&& backward, J&& jvp) {
  return record(name, std::move(output), inputs.data(), inputs.size(), saves, std::forward<F>(backward),
                std::forward<J>(jvp));
}

/// As above, saving every input and the output.
template <class F>
Tensor record(const char* name, Tensor output, std::initializer_list<Tensor> inputs, F&& backward) {
  return record(name, std::move(output), inputs.begin(), inputs.size(), kSaveAll,
                std::forward<F>(backward));
}

template <class F>
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, F&& backward) {
  return record(name, std::move(output), inputs.data(), inputs.size(), kSaveAll,
                std::forward<F>(backward));
}

}  // namespace tg
