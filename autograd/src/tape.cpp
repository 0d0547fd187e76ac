// Nodes: their pool, reference counts and recording; grad mode and anomaly detection.
#include "tape.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "hooks.hpp"
#include "kernels.hpp"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;
thread_local bool t_anomaly_enabled = false;
thread_local const char* t_backward_of = nullptr;  // op whose backward is running (for messages)

// Sequence numbers are handed out in blocks, so recording a node costs no atomic operation: a
// thread takes the next block from the process-wide counter when its block runs out, or when
// an input's node has a number at least its next one (that node came from a newer block of
// another thread; any block taken later is above it). So a node's number is always larger than
// its inputs' nodes' numbers.
constexpr std::uint64_t kSequenceBlock = 4096;
std::atomic<std::uint64_t> g_next_block{0};
thread_local std::uint64_t t_next_sequence = 0;
thread_local std::uint64_t t_sequence_end = 0;

std::uint64_t next_sequence(std::uint64_t above) {
  if (t_next_sequence == t_sequence_end || above >= t_next_sequence) {
    t_next_sequence = g_next_block.fetch_add(kSequenceBlock, std::memory_order_relaxed);
    t_sequence_end = t_next_sequence + kSequenceBlock;
  }
  return t_next_sequence++;
}

// Nodes alive = made - freed, each counted per thread without atomic read-modify-writes (only
// the owning thread writes its counters); live_nodes() adds them up.
struct NodeCounts {
  std::atomic<std::int64_t> made{0}, freed{0};
  NodeCounts();
  ~NodeCounts();
  void bump(std::atomic<std::int64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};
std::mutex g_counts_mutex;
std::vector<NodeCounts*> g_counts;
std::int64_t g_counts_of_ended_threads = 0;  // made - freed of threads that have ended
NodeCounts::NodeCounts() {
  std::lock_guard<std::mutex> lock(g_counts_mutex);
  g_counts.push_back(this);
}
thread_local bool t_counts_alive = true;  // false once this thread's NodeCounts is destroyed
NodeCounts::~NodeCounts() {
  t_counts_alive = false;
  std::lock_guard<std::mutex> lock(g_counts_mutex);
  g_counts_of_ended_threads += made.load() - freed.load();
  g_counts.erase(std::find(g_counts.begin(), g_counts.end(), this));
}
thread_local NodeCounts t_counts;
}  // namespace

bool is_grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }
bool is_anomaly_enabled() { return t_anomaly_enabled; }
void set_anomaly_enabled(bool enabled) { t_anomaly_enabled = enabled; }

// ---- Node memory ---------------------------------------------------------------------------------

namespace {

/// Freed node memory of this thread, reused by the next nodes it records. Bounded, so a thread
/// that frees another thread's large graph does not hoard it.
struct NodePool {
  static constexpr std::size_t kMaxFree = 16384;
  std::vector<void*> free;
  ~NodePool() {
    for (void* p : free) ::operator delete(p);
    free.clear();
    free.shrink_to_fit();
    alive = false;
  }
  static thread_local bool alive;  // false once this thread's pool is destroyed (thread exit)
};
thread_local bool NodePool::alive = true;
thread_local NodePool t_pool;

void* allocate_node() {
  if (NodePool::alive && !t_pool.free.empty()) {
    void* p = t_pool.free.back();
    t_pool.free.pop_back();
    // The next node recorded gets the next free block: start fetching it for writing now. Its
    // memory was last touched when a long-finished sweep freed it, and the first locked
    // instruction of the next record (a reference count) would wait for its stores.
    if (!t_pool.free.empty()) detail::prefetch_node<1>(t_pool.free.back());
    return p;
  }
  return ::operator new(sizeof(Node));
}

void deallocate_node(void* p) noexcept {
  if (NodePool::alive && t_pool.free.size() < NodePool::kMaxFree) {
    try {
      t_pool.free.push_back(p);
      return;
    } catch (...) {
    }
  }
  ::operator delete(p);
}

// Nodes whose count reached zero while another node was being freed on this thread: freeing
// a chain is a loop here instead of a recursion through destructors.
thread_local Node* t_to_free = nullptr;
thread_local bool t_freeing = false;

void destroy(Node* n) noexcept {
  n->~Node();
  deallocate_node(n);
  if (t_counts_alive) {
    t_counts.bump(t_counts.freed);
  } else {
    std::lock_guard<std::mutex> lock(g_counts_mutex);
    --g_counts_of_ended_threads;
  }
}

}  // namespace

namespace detail {

void free_node(Node* node) noexcept {
  node->next_to_free = t_to_free;
  t_to_free = node;
  if (t_freeing) return;
  t_freeing = true;
  while (Node* n = t_to_free) {
    t_to_free = n->next_to_free;
    destroy(n);
  }
  t_freeing = false;
}

std::size_t live_nodes() {
  std::lock_guard<std::mutex> lock(g_counts_mutex);
  std::int64_t live = g_counts_of_ended_threads;
  for (const NodeCounts* c : g_counts) live += c->made.load() - c->freed.load();
  return static_cast<std::size_t>(live);
}

namespace {
struct OutputLock {
  explicit OutputLock(Node* n) : n_(n) {
    while (n_->output_lock.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~OutputLock() { n_->output_lock.clear(std::memory_order_release); }
  Node* n_;
};
}  // namespace

void last_handle_gone(TensorHead* head) noexcept {
  auto* impl = static_cast<TensorImpl*>(head);
  Node* n = impl->grad_fn;
  if (n && n->saves_output) {
    bool kept;
    {
      OutputLock lock(n);
      kept = n->output == impl;
    }
    // The node keeps the impl for its backward; the impl no longer keeps the node.
    if (kept) return release(n);
  }
  delete impl;
}

}  // namespace detail

detail::TensorImpl::~TensorImpl() {
  // Acquire: pairs with the level's exit clearing the tangent, so that write is not a race.
  if (__builtin_expect(tangent_level.load(std::memory_order_acquire) != 0, 0)) detail::forget_tangent(this);
  if (grad_fn) detail::release(grad_fn);
  recycle_value();
}

void detail::TensorImpl::recycle_value() noexcept {
  std::visit([](auto& a) { recycle_storage(a.storage()); }, value);
}

void detail::SmallShape::assign(const std::size_t* dims, std::size_t n) {
  n_ = n;
  if (n <= kInline) {
    std::copy(dims, dims + n, inline_);
  } else {
    big_.reset(new std::size_t[n]);
    std::copy(dims, dims + n, big_.get());
  }
}

bool detail::SmallShape::equals(const std::size_t* dims, std::size_t n) const {
  return n == n_ && std::equal(dims, dims + n, data());
}

void Node::resize_inputs(std::size_t n) {
  num_inputs = static_cast<std::uint32_t>(n);
  if (n > kInline) more_inputs_.resize(n - kInline);
}

void Node::release_saved() noexcept {
  backward.reset();
  for (std::size_t i = 0; i < num_inputs; ++i) input(i) = Input();
  std::vector<Input>().swap(more_inputs_);
  if (saves_output) {
    detail::TensorImpl* orphan = nullptr;
    {
      detail::OutputLock lock(this);
      // Still referenced by handles: they own it (and this node) from now on.
      if (output && handle_count(output, __ATOMIC_ACQUIRE) == 0) orphan = output;
      output = nullptr;
    }
    if (orphan) {
      orphan->grad_fn = nullptr;  // its reference to this node went with its last handle
      delete orphan;
    }
  }
  released.store(true, std::memory_order_release);
}

Node::~Node() {
  if (saves_output && output) {
    // No handle is left (a handle would own a reference to this node).
    output->grad_fn = nullptr;
    delete output;
  }
}

// ---- Saved tensors -------------------------------------------------------------------------------

void detail::check_saved_version(const char* op, const std::string& what, const Tensor& t,
                                 std::uint32_t saved_version) {
  const std::uint32_t now = t.version();
  if (now == saved_version) return;
  fail(op, " backward: ", what, " (", to_string(t.dtype()), to_string(t.shape()),
       "), saved for the gradient, was modified by an in-place operation: it is at version ", now,
       ", expected version ", saved_version, ". Compute the gradient before writing to it, or "
       "write to a clone()");
}

const Tensor& BackwardContext::input(std::size_t i) const {
  if (i >= node_.num_inputs) fail(node_.name, " backward: no input ", i);
  const Node::Input& in = node_.input(i);
  if (!in.saved.defined()) {
    if (node_.released.load(std::memory_order_acquire))
      fail(node_.name, " backward: its saved tensors were freed by an earlier backward; pass "
           "retain_graph=true to the first backward to run backward through it again");
    fail(node_.name, " backward: input ", i, " was not saved for backward (the op's Save flags "
         "must name every tensor its backward reads)");
  }
  detail::check_saved_version(node_.name, "input " + std::to_string(i), in.saved, in.version);
  return in.saved;
}

const Tensor& BackwardContext::output() const {
  if (output_.defined()) return output_;
  if (!node_.saves_output)
    fail(node_.name, " backward: the output was not saved for backward (the op's Save flags must "
         "include kSaveOutput)");
  detail::TensorImpl* impl;
  {
    detail::OutputLock lock(&node_);
    impl = node_.output;
    // A handle again: if the last one had gone, the impl takes back its reference to the node.
    if (impl && detail::add_handle(impl, __ATOMIC_ACQ_REL) == 0) detail::retain(&node_);
  }
  if (!impl)
    fail(node_.name, " backward: its saved output was freed by an earlier backward; pass "
         "retain_graph=true to the first backward to run backward through it again");
  output_ = Tensor::adopt(impl);
  detail::check_saved_version(node_.name, "its output", output_, node_.output_version);
  return output_;
}

// ---- Recording -----------------------------------------------------------------------------------

namespace detail {

bool should_record(const Tensor* inputs, std::size_t count) {
  if (!is_grad_enabled()) return false;
  for (std::size_t i = 0; i < count; ++i) {
    const TensorImpl* impl = inputs[i].impl();
    if (impl && impl->requires_grad) return true;
  }
  return false;
}

void check_anomaly(const char* name, const Tensor& t, const char* what) {
  if (!is_anomaly_enabled() || !t.defined() || !t.is_floating_point()) return;
  const bool bad = std::visit(
      [](const auto& a) {
        using T = typename std::decay_t<decltype(a)>::value_type;
        if constexpr (std::is_floating_point_v<T>) {
          for (std::size_t i = 0; i < a.size(); ++i)
            if (!std::isfinite(a.data()[i])) return true;
        }
        return false;
      },
      t.impl()->value);
  if (!bad) return;
  if (t_backward_of)
    fail("anomaly detected: the backward of '", t_backward_of,
         "' produced NaN or Inf in a gradient (in the ", what, " of '", name, "', shape ",
         to_string(t.shape()), ")");
  fail("anomaly detected: '", name, "' produced NaN or Inf in its ", what, " (shape ",
       to_string(t.shape()), ")");
}

BackwardScope::BackwardScope(const char* name) : previous_(t_backward_of) { t_backward_of = name; }
BackwardScope::~BackwardScope() { t_backward_of = previous_; }

Node& append_node(const char* name, Tensor& output, const Tensor* inputs, std::size_t count,
                  Save saves) {
  check_anomaly(name, output, "output");
  if (output.use_count() > 1 || !output.is_leaf() || output.impl()->hooks) {
    // The output is shared (an op returned an input, or kept a copy): record on a fresh handle.
    output = Tensor::adopt(new TensorImpl(output.impl()->value));
  }
  // Default-initialised, not value-initialised: every member has its initialiser, and "Node()"
  // would first zero all of the node.
  Node* n = new (allocate_node()) Node;
  if (t_counts_alive) {
    t_counts.bump(t_counts.made);
  } else {
    std::lock_guard<std::mutex> lock(g_counts_mutex);
    ++g_counts_of_ended_threads;
  }
  n->name = name;
  std::uint64_t above = 0;
  for (std::size_t i = 0; i < count; ++i)
    if (const TensorImpl* impl = inputs[i].impl(); impl && impl->grad_fn)
      above = std::max(above, impl->grad_fn->sequence);
  n->sequence = next_sequence(above);
  try {
    n->resize_inputs(count);
    for (std::size_t i = 0; i < count; ++i) {
      const Tensor& t = inputs[i];
      Node::Input& in = n->input(i);
      if (!t.defined()) continue;
      TensorImpl* impl = t.impl();
      in.dtype = t.dtype();
      if (impl->requires_grad) {
        if (impl->grad_fn) in.producer = NodeRef(impl->grad_fn);
        else in.leaf = t;
      }
      const bool save = i < 31 ? (saves & (1u << i)) != 0 : saves == kSaveAll;
      if (save) {
        in.saved = t;
        in.version = t.version();
      }
    }
  } catch (...) {
    release(n);
    throw;
  }
  TensorImpl* out = output.impl();
  std::visit([&](const auto& a) { n->output_shape.assign(a.shape().data(), a.shape().size()); },
             out->value);
  if (saves & kSaveOutput) {
    n->saves_output = true;
    n->output = out;
    n->output_version = version_of(out);
  }
  out->grad_fn = n;  // the reference n was made with
  out->requires_grad = true;
  return *n;
}

// ---- In-place writes -----------------------------------------------------------------------------

Tensor inplace_source(const char* op, const Tensor& self) {
  TensorImpl* xi = self.impl();
  Tensor source = Tensor::adopt(new TensorImpl(xi->value));
  TensorImpl* si = source.impl();
  si->version = version_of(xi);  // what a node that saved self as its output recorded
  si->requires_grad = xi->requires_grad;
  si->grad_fn = xi->grad_fn;
  if (si->grad_fn) retain(si->grad_fn);
  if (forward_ad_possible()) {
    Tensor tangent = live_tangent(op, self);
    if (tangent.defined()) attach_tangent(op, source, std::move(tangent));
  }
  return source;
}

void commit_inplace(const char* op, Tensor& self, const Tensor& source, Tensor result) {
  if (result.dtype() != self.dtype() || !same_shape(result, self))
    fail(op, ": the result ", to_string(result.dtype()), to_string(result.shape()),
         " cannot be written in place into a tensor ", to_string(self.dtype()), to_string(self.shape()),
         " (an in-place op keeps the tensor's dtype and shape)");
  TensorImpl* xi = self.impl();
  TensorImpl* ri = result.impl();
  std::visit(
      [&](auto& dst) {
        using T = elem_t<decltype(dst)>;
        const auto& src = std::get<xt::xarray<T>>(ri->value);
        std::copy(src.data(), src.data() + src.size(), dst.data());
      },
      xi->value);
  self.bump_version();
  if (Node* m = ri->grad_fn) {
    if (result.use_count() > 1 || ri->hooks) fail(op, ": internal error: the recorded result is shared");
    if (Node* n = xi->grad_fn; n && n->saves_output) {
      OutputLock lock(n);
      if (n->output == xi) n->output = source.impl();
    }
    ri->grad_fn = nullptr;  // self takes over this reference
    if (m->saves_output) {
      OutputLock lock(m);
      if (m->output == ri) {
        m->output = xi;
        m->output_version = version_of(xi);
      }
    }
    if (xi->grad_fn) release(xi->grad_fn);
    xi->grad_fn = m;
    xi->requires_grad = true;
  }
  if (forward_ad_possible()) {
    Tensor tangent = has_live_tangent(result) ? ri->tangent : Tensor();
    if (!tangent.defined() && has_live_tangent(self)) tangent = zeros_like(self);
    if (tangent.defined()) attach_tangent(op, self, std::move(tangent));
  }
}

}  // namespace detail
}  // namespace tg
