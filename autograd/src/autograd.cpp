// The reverse sweep: one task per backward()/grad() call.
//
// A task runs nodes in descending sequence number, a topological order (tape.hpp): when a
// node's turn comes every consumer has a larger number and has run, so its adjoint, kept in the
// task, is complete. grad() first finds the nodes reachable from the roots and marks the ones on
// a path to a requested input; backward() skips that pass (nodes join a max-heap as a gradient
// first reaches them) unless a post-accumulate hook exists, which must fire as soon as its leaf's
// gradient is whole: only discovery says how many nodes feed a leaf. Each leaf's gradient is
// summed in the task and delivered once: into grad() (backward, under a lock), or into the
// result (grad()). Nothing else is written, so tasks nest (a backward that calls grad) and run
// on several threads at once. Without retain_graph a node releases its saved tensors and edges
// once it has run; the task holds a reference to every node it has reached until its turn.
#include "tapegrad/autograd.hpp"

#include <algorithm>
#include <functional>
#include <mutex>

#include "hooks.hpp"
#include "kernels.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tape.hpp"

namespace tg {

// ---- Hooks ---------------------------------------------------------------------------------------

namespace detail {

std::atomic<long> g_post_accumulate_hooks{0};

void fail_empty_callback() { fail("called an empty tg::Callback (a hook, closure or factory that was never set)"); }

Tensor HookList::run_on_grad(Tensor grad) {
  std::vector<Callback<Tensor(const Tensor&)>> hooks;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& h : on_grad) hooks.push_back(h.second);
  }
  for (const auto& h : hooks) {
    Tensor replaced = h(grad);
    if (replaced.defined()) {
      if (replaced.dtype() != grad.dtype() || replaced.shape() != grad.shape())
        fail("hook: returned a gradient ", to_string(replaced.dtype()), to_string(replaced.shape()),
             " for a gradient ", to_string(grad.dtype()), to_string(grad.shape()));
      grad = std::move(replaced);
    }
  }
  return grad;
}

void HookList::run_after_accumulate(const Tensor& leaf) {
  std::vector<Callback<void(const Tensor&)>> hooks;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& h : after_accumulate) hooks.push_back(h.second);
  }
  for (const auto& h : hooks) h(leaf);
}

bool HookList::has_after_accumulate() {
  std::lock_guard<std::mutex> lock(mutex);
  return !after_accumulate.empty();
}

}  // namespace detail

namespace {

std::mutex g_hook_install;  // creating a tensor's or node's HookList

template <class Fn, class Member>
HookHandle add_hook(std::shared_ptr<detail::HookList>& slot, std::atomic<bool>& flag, Member member,
                    Fn fn) {
  std::shared_ptr<detail::HookList> list;
  {
    std::lock_guard<std::mutex> lock(g_hook_install);
    if (!slot) slot = std::make_shared<detail::HookList>();
    list = slot;
  }
  flag.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(list->mutex);
  const std::uint64_t id = list->next_id++;
  ((*list).*member).emplace_back(id, std::move(fn));
  return HookHandle(list, id);
}

std::shared_ptr<detail::HookList> hooks_of(const std::shared_ptr<detail::HookList>& slot,
                                           const std::atomic<bool>& flag) {
  if (!flag.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard<std::mutex> lock(g_hook_install);
  return slot;
}

/// Leaves' grad() is written under one of these (two threads may backward into one leaf).
std::mutex& grad_lock(const void* leaf) {
  static std::mutex locks[64];
  return locks[(reinterpret_cast<std::uintptr_t>(leaf) >> 6) % 64];
}

}  // namespace

HookHandle Tensor::register_hook(Callback<Tensor(const Tensor&)> hook) const {
  detail::TensorImpl& impl = const_cast<detail::TensorImpl&>(checked());
  if (!impl.requires_grad)
    fail("register_hook: the tensor (", to_string(dtype()), to_string(shape()),
         ") does not require grad, so no gradient will reach it");
  if (!hook) fail("register_hook: empty hook");
  if (Node* n = impl.grad_fn)
    return add_hook(n->hooks, n->has_hooks, &detail::HookList::on_grad, std::move(hook));
  return add_hook(impl.hooks, impl.has_hooks, &detail::HookList::on_grad, std::move(hook));
}

HookHandle Tensor::register_post_accumulate_grad_hook(Callback<void(const Tensor&)> hook) const {
  detail::TensorImpl& impl = const_cast<detail::TensorImpl&>(checked());
  if (impl.grad_fn || !impl.requires_grad)
    fail("register_post_accumulate_grad_hook: only leaves that require grad accumulate a "
         "gradient; this tensor ", impl.grad_fn ? "is the output of '" + grad_fn_name() + "'"
                                                : std::string("does not require grad"));
  if (!hook) fail("register_post_accumulate_grad_hook: empty hook");
  HookHandle handle =
      add_hook(impl.hooks, impl.has_hooks, &detail::HookList::after_accumulate, std::move(hook));
  detail::g_post_accumulate_hooks.fetch_add(1);
  return handle;
}

void HookHandle::remove() {
  std::shared_ptr<detail::HookList> list = list_.lock();
  list_.reset();
  if (!list) return;
  std::lock_guard<std::mutex> lock(list->mutex);
  auto drop = [&](auto& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& h) { return h.first == id_; }), v.end());
  };
  drop(list->on_grad);
  const std::size_t before = list->after_accumulate.size();
  drop(list->after_accumulate);
  detail::g_post_accumulate_hooks.fetch_sub(static_cast<long>(before - list->after_accumulate.size()));
}

// ---- The task ------------------------------------------------------------------------------------

namespace {

thread_local detail::SweepStats t_last_sweep;

void accumulate(Tensor& slot, Tensor g) {
  if (!slot.defined()) slot = std::move(g);
  else slot = slot + g;
}

/// retain_graph's value, else create_graph. An empty optional<bool>'s payload byte is
/// uninitialised; inlined, GCC tests payload and flag with one 16-bit compare, which valgrind
/// reports as a jump on an uninitialised value (the xor valgrind test). Out of line, each byte
/// is read on its own.
[[gnu::noinline]] bool retain_of(const std::optional<bool>& retain_graph, bool create_graph) {
  if (!retain_graph.has_value()) return create_graph;
  return *retain_graph;
}

struct SweepOptions {
  bool retain_graph = false;
  bool create_graph = false;
  bool into_leaf_grads = true;  // backward(): leaves' grad(); grad(): only the requested inputs
  const char* caller = "backward";
};

[[noreturn]] void freed(const char* caller, const Node* n) {
  fail(caller, ": the graph through '", n->name, "' (output shape ", to_string(n->output_shape.to_shape()),
       ") was already freed by an earlier backward; pass retain_graph=true to the first backward "
       "to run backward through it again");
}

Tensor seed_gradient(const char* caller, const Tensor& root, const Tensor* given, std::size_t i) {
  if (given && given->defined()) {
    if (given->shape() != root.shape() || given->dtype() != root.dtype())
      fail(caller, ": gradient for output ", i, " has ", to_string(given->dtype()),
           to_string(given->shape()), " but the output is ", to_string(root.dtype()),
           to_string(root.shape()));
    return *given;
  }
  if (root.numel() != 1)
    fail(caller, ": output ", i, " has shape ", to_string(root.shape()),
         "; a gradient can be implied only for one-element outputs, so pass one explicitly");
  return ones_like(root);
}

/// Pointer -> index, open addressing (a task looks up every edge; a node-based map would
/// allocate per node). Nodes are keyed by their sequence number, so the nodes of one graph
/// (recorded one after the other) sit in neighbouring slots and a sweep reads the index almost
/// in order instead of at random.
class PtrIndex {
 public:
  static constexpr std::uint32_t kAbsent = 0xffffffffu;
  /// Empties the index in O(1): slots of an older generation count as empty.
  void clear() {
    count_ = 0;
    if (++generation_ == 0) {
      std::fill(slots_.begin(), slots_.end(), Slot{});
      generation_ = 1;
    }
  }
  /// The index of p, inserting `next` for a new p; `added` says which.
  std::uint32_t find_or_add(const void* p, std::uint64_t hash, std::uint32_t next, bool& added) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = hash & (slots_.size() - 1);
    while (slots_[i].generation == generation_) {
      if (slots_[i].key == p) {
        added = false;
        return slots_[i].value;
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] = {p, next, generation_, hash};
    ++count_;
    added = true;
    return next;
  }
  std::uint32_t find(const void* p, std::uint64_t hash) const {
    if (slots_.empty()) return kAbsent;
    for (std::size_t i = hash & (slots_.size() - 1); slots_[i].generation == generation_;
         i = (i + 1) & (slots_.size() - 1))
      if (slots_[i].key == p) return slots_[i].value;
    return kAbsent;
  }
  /// A hash for keys that have no sequence number of their own (leaves).
  static std::uint64_t hash_pointer(const void* p) {
    return ((reinterpret_cast<std::uintptr_t>(p) >> 4) * 0x9E3779B97F4A7C15ull) >> 20;
  }
  std::size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    const void* key = nullptr;
    std::uint32_t value = 0;
    std::uint32_t generation = 0;
    std::uint64_t hash = 0;
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const std::uint32_t old_generation = generation_;
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    generation_ = 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.generation != old_generation) continue;
      std::size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].generation == generation_) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = {s.key, s.value, generation_, s.hash};
      ++count_;
    }
  }
  std::vector<Slot> slots_;
  std::size_t count_ = 0;
  std::uint32_t generation_ = 1;
};

class GraphTask {
 public:
  /// A task of this thread's pool, ready for one sweep. Tasks are reused so that a training
  /// loop's sweeps find their vectors and index already sized; a nested sweep takes another.
  static GraphTask* acquire(const SweepOptions& opt);
  static void give_back(GraphTask* task) noexcept;

  /// grad(): the gradient of each requested input.
  std::vector<Tensor> results;
  /// queue_callback(): run in order once the sweep has delivered every gradient.
  std::vector<Callback<void()>> callbacks;

  void run(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
           const std::vector<Tensor>* inputs);

 private:
  /// Where input i of a node sends its gradient in this task.
  struct Edge {
    enum Kind : std::uint8_t { none, node, leaf } kind = none;
    std::uint32_t index = 0;
  };
  struct TaskNode {
    // The task's reference: a node run and released without retain_graph drops its edges, and
    // its inputs' nodes must live until their turn. Dropped once the node has run, so a graph
    // is freed as the sweep goes, not at its end.
    detail::NodeRef node;
    Tensor adjoint;
    std::uint64_t sequence = 0;    // copied from the node, so later passes stay in the task
    std::uint32_t num_inputs = 0;
    std::uint32_t first_edge = 0;  // its inputs' edges: edges_[first_edge, + num_inputs)
    int target = -1;               // grad(): index of the input this node's output is
    bool needed = false;
    bool released = false;
  };
  struct TaskLeaf {
    detail::TensorImpl* impl;
    Tensor sum;
    std::size_t pending = 0;  // needed nodes that feed it and have not run
    int target = -1;
    bool counted = false;     // backward: requires grad; grad(): requested
    bool done = false;
  };

  std::uint32_t node_index(Node* n) {
    bool added;
    const auto k = node_ids_.find_or_add(n, n->sequence, static_cast<std::uint32_t>(nodes_.size()), added);
    if (added) {
      TaskNode tn{detail::NodeRef(n), Tensor()};
      tn.sequence = n->sequence;
      tn.num_inputs = n->num_inputs;
      tn.released = n->released.load(std::memory_order_acquire);
      // backward() needs every node it reaches (each leads to a leaf that required grad);
      // grad() decides after discovery.
      tn.needed = !prune_;
      nodes_.push_back(std::move(tn));
      if (stream_) {
        ready_.emplace_back(n->sequence, k);
        std::push_heap(ready_.begin(), ready_.end());
      } else {
        stack_.push_back(k);
      }
    }
    return k;
  }
  std::uint32_t leaf_index(detail::TensorImpl* impl) {
    bool added;
    const auto k = leaf_ids_.find_or_add(impl, PtrIndex::hash_pointer(impl),
                                         static_cast<std::uint32_t>(leaves_.size()), added);
    if (added) {
      leaves_.push_back(TaskLeaf{impl, Tensor()});
      if (!prune_) leaves_.back().counted = impl->requires_grad;
    }
    return k;
  }
  bool edge_needed(const Edge& e) const {
    if (e.kind == Edge::node) return nodes_[e.index].needed;
    return e.kind == Edge::leaf && leaves_[e.index].counted;
  }
  void discover();
  void execute(TaskNode& tn);
  void execute_streaming(std::uint32_t k);
  void done_with(TaskNode& tn, bool ran);
  /// Input i's gradient g from node n, checked and summed to the input's shape.
  Tensor fit(Node* n, std::size_t i, Tensor g, bool anomaly) const;
  void finish_leaf(TaskLeaf& leaf);

  void clear() noexcept;

  const SweepOptions* opt_ = nullptr;
  bool prune_ = false;  // grad(): keep only the nodes on a path to a requested input
  // backward() while no post-accumulate hook exists: no discovery pass. Nodes join a max-heap
  // on their sequence number as a gradient first reaches them, and run as they leave it.
  bool stream_ = false;
  // grad() whose inputs all have a grad_fn: a node numbered below every input's node reaches
  // only nodes numbered lower still, so never an input; discovery stops there (PyTorch's
  // topological-number pruning) and skips leaves, so the cost follows the graph above the inputs.
  std::uint64_t cut_below_ = 0;
  bool cut_leaves_ = false;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> ready_;
  std::vector<TaskNode> nodes_;
  std::vector<TaskLeaf> leaves_;
  std::vector<Edge> edges_;
  PtrIndex node_ids_, leaf_ids_;
  std::vector<std::uint32_t> stack_;
  std::vector<detail::NodeRef> keep_;  // the roots' nodes stay alive while the task runs
  // Under anomaly detection nodes are released only once the sweep has completed, so after an
  // error (a NaN it caught, a failed hook) the graph is as it was: look, or try again.
  bool defer_release_ = false;
  std::vector<Node*> ran_;
  std::size_t closures_run_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order_;
};

namespace {
struct TaskPool {
  std::vector<GraphTask*> free;
  ~TaskPool() {
    for (GraphTask* t : free) delete t;
  }
};
thread_local TaskPool t_tasks;
}  // namespace

GraphTask* GraphTask::acquire(const SweepOptions& opt) {
  GraphTask* t;
  if (t_tasks.free.empty()) {
    t = new GraphTask();
  } else {
    t = t_tasks.free.back();
    t_tasks.free.pop_back();
  }
  t->opt_ = &opt;
  return t;
}

void GraphTask::give_back(GraphTask* task) noexcept {
  task->clear();
  // A sweep over a huge graph does not keep its memory; a few tasks serve any nesting.
  constexpr std::size_t kKeepEntries = std::size_t{1} << 16;
  if (task->node_ids_.capacity() > 2 * kKeepEntries || t_tasks.free.size() >= 4) {
    delete task;
    return;
  }
  try {
    t_tasks.free.push_back(task);
  } catch (...) {
    delete task;
  }
}

void GraphTask::clear() noexcept {
  results.clear();
  callbacks.clear();
  nodes_.clear();
  leaves_.clear();
  edges_.clear();
  node_ids_.clear();
  leaf_ids_.clear();
  stack_.clear();
  keep_.clear();
  ran_.clear();
  defer_release_ = false;
  order_.clear();
  ready_.clear();
  closures_run_ = 0;
  prune_ = false;
  stream_ = false;
  cut_below_ = 0;
  cut_leaves_ = false;
}

void GraphTask::discover() {
  while (!stack_.empty()) {
    const std::uint32_t k = stack_.back();
    stack_.pop_back();
    Node* n = nodes_[k].node.get();
    nodes_[k].first_edge = static_cast<std::uint32_t>(edges_.size());
    for (std::size_t i = 0; i < n->num_inputs; ++i) {
      const Node::Input& in = n->input(i);
      Edge e;
      if (in.producer) {
        if (in.producer->sequence >= cut_below_) e = {Edge::node, node_index(in.producer.get())};
      } else if (in.leaf.defined() && !cut_leaves_) {
        e = {Edge::leaf, leaf_index(in.leaf.impl())};
        if (!prune_ && leaves_[e.index].counted) ++leaves_[e.index].pending;
      }
      edges_.push_back(e);
    }
  }
}

void GraphTask::run(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
                    const std::vector<Tensor>* inputs) {
  if (!root_grads.empty() && root_grads.size() != roots.size())
    fail(opt_->caller, ": got ", roots.size(), " outputs but ", root_grads.size(), " gradients");
  prune_ = inputs != nullptr;
  stream_ = !prune_ && detail::g_post_accumulate_hooks.load(std::memory_order_relaxed) == 0;
  if (inputs && !inputs->empty()) {
    cut_below_ = ~std::uint64_t{0};
    for (const Tensor& input : *inputs) {
      const Node* n = input.impl()->grad_fn;
      cut_below_ = n ? std::min(cut_below_, n->sequence) : 0;
    }
    cut_leaves_ = cut_below_ > 0;
  }
  defer_release_ = is_anomaly_enabled();
  std::vector<Tensor> seeds;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    detail::require_defined(opt_->caller, root);
    if (!root.requires_grad())
      fail(opt_->caller, ": output ", i, " (shape ", to_string(root.shape()),
           ") does not require grad and has no grad_fn");
    if (Node* n = root.impl()->grad_fn; n && n->released.load(std::memory_order_acquire))
      freed(opt_->caller, n);
    seeds.push_back(seed_gradient(opt_->caller, root, root_grads.empty() ? nullptr : &root_grads[i], i));
  }

  // Reachable nodes and leaves, seeded adjoints.
  for (std::size_t i = 0; i < roots.size(); ++i) {
    detail::TensorImpl* impl = roots[i].impl();
    if (impl->grad_fn) {
      keep_.emplace_back(impl->grad_fn);
      const std::uint32_t k = node_index(impl->grad_fn);
      if (!stream_) discover();
      accumulate(nodes_[k].adjoint, seeds[i]);
    } else {
      accumulate(leaves_[leaf_index(impl)].sum, seeds[i]);
    }
  }

  // Targets: every leaf that requires grad (backward) or the requested inputs (grad).
  if (inputs) {
    results.assign(inputs->size(), Tensor());
    for (std::size_t j = 0; j < inputs->size(); ++j) {
      detail::TensorImpl* impl = (*inputs)[j].impl();
      if (impl->grad_fn) {
        const auto k = node_ids_.find(impl->grad_fn, impl->grad_fn->sequence);
        if (k != PtrIndex::kAbsent && nodes_[k].target < 0) nodes_[k].target = static_cast<int>(j);
      } else {
        const auto k = leaf_ids_.find(impl, PtrIndex::hash_pointer(impl));
        if (k != PtrIndex::kAbsent && leaves_[k].target < 0) {
          leaves_[k].target = static_cast<int>(j);
          leaves_[k].counted = true;
        }
      }
    }
  }

  struct ModeGuard {
    bool previous;
    ~ModeGuard() { set_grad_enabled(previous); }
  } mode_guard{is_grad_enabled()};
  set_grad_enabled(opt_->create_graph);

  if (stream_) {
    // Every consumer of the node on top has a larger number, so it has run: the node's adjoint
    // is complete. Leaves are delivered at the end.
    while (!ready_.empty()) {
      std::pop_heap(ready_.begin(), ready_.end());
      const std::uint32_t k = ready_.back().second;
      ready_.pop_back();
      execute_streaming(k);
    }
    for (TaskLeaf& l : leaves_)
      if (l.counted) finish_leaf(l);
  } else {
    // Descending sequence numbers (discovery order already is, for chains).
    std::vector<std::pair<std::uint64_t, std::uint32_t>>& order = order_;
    order.resize(nodes_.size());
    for (std::uint32_t k = 0; k < order.size(); ++k) order[k] = {nodes_[k].sequence, k};
    if (!std::is_sorted(order.begin(), order.end(), std::greater<>()))
      std::sort(order.begin(), order.end(), std::greater<>());

    // grad(): the needed nodes (ascending: inputs first), then how many of them feed each leaf.
    for (auto it = order.rbegin(); prune_ && it != order.rend(); ++it) {
      TaskNode& tn = nodes_[it->second];
      const std::size_t count = tn.num_inputs;
      // A released node has lost its edges: a gradient reaching it must raise, not vanish.
      bool needed = tn.target >= 0 || tn.released;
      for (std::size_t i = 0; i < count && !needed; ++i) needed = edge_needed(edges_[tn.first_edge + i]);
      tn.needed = needed;
      if (!needed) continue;
      for (std::size_t i = 0; i < count; ++i) {
        const Edge& e = edges_[tn.first_edge + i];
        if (e.kind == Edge::leaf && leaves_[e.index].counted) ++leaves_[e.index].pending;
      }
    }

    for (const auto& entry : order) {
      TaskNode& tn = nodes_[entry.second];
      if (tn.needed) execute(tn);
    }
    for (TaskLeaf& l : leaves_)
      if (l.counted && !l.done && l.pending == 0) finish_leaf(l);
  }
  // Inputs first: a node's consumers (larger numbers) still hold it when it is released.
  for (auto it = ran_.rbegin(); it != ran_.rend(); ++it) (*it)->release_saved();
  t_last_sweep = {nodes_.size(), closures_run_};
  // By index: a callback may queue another, which runs in this sweep too.
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    Callback<void()> fn = std::move(callbacks[i]);
    fn();
  }
}

namespace {
/// Gradient slots for one node's inputs: on the stack for small nodes. A nested task (a
/// backward that calls grad) gets its own.
class GradSlots {
 public:
  explicit GradSlots(std::size_t count) {
    if (count > kSmall) {
      big_grads_.resize(count);
      big_needs_.assign(count, 0);
    }
    grads = count > kSmall ? big_grads_.data() : small_grads_;
    needs = count > kSmall ? big_needs_.data() : small_needs_;
  }
  Tensor* grads;
  char* needs;

 private:
  static constexpr std::size_t kSmall = 4;
  Tensor small_grads_[kSmall];
  char small_needs_[kSmall] = {};
  std::vector<Tensor> big_grads_;
  std::vector<char> big_needs_;
};

void run_closure(Node* n, const Tensor& adjoint, GradSlots& slots) {
  BackwardContext ctx(*n, slots.grads, slots.needs, adjoint);
  detail::BackwardScope scope(n->name);
  n->backward(ctx);
}
}  // namespace

Tensor GraphTask::fit(Node* n, std::size_t i, Tensor g, bool anomaly) const {
  const Node::Input& in = n->input(i);
  if (g.dtype() != in.dtype)
    fail(n->name, " backward: gradient for input ", i, " is ", to_string(g.dtype()),
         " but the input is ", to_string(in.dtype));
  // The input's shape: its producer's output shape, or the leaf's.
  const bool fits =
      in.producer ? std::visit([&](const auto& a) {
                      return in.producer->output_shape.equals(a.shape().data(), a.shape().size());
                    }, g.impl()->value)
                  : detail::same_shape(g, in.leaf);
  if (!fits) g = sum_to(g, in.producer ? in.producer->output_shape.to_shape() : in.leaf.shape());
  if (anomaly) {
    detail::BackwardScope scope(n->name);
    detail::check_anomaly(n->name, g, "gradient");
  }
  return g;
}

void GraphTask::execute(TaskNode& tn) {
  Node* n = tn.node.get();
  const std::size_t count = tn.num_inputs;
  // The adjoint leaves the task as this node runs, so its memory goes as soon as possible.
  Tensor adjoint = std::move(tn.adjoint);
  bool ran = false;
  if (adjoint.defined()) {
    if (tn.released) freed(opt_->caller, n);
    if (auto hooks = hooks_of(n->hooks, n->has_hooks)) adjoint = hooks->run_on_grad(std::move(adjoint));
    if (tn.target >= 0) accumulate(results[static_cast<std::size_t>(tn.target)], adjoint);
    GradSlots slots(count);
    bool any = false;
    for (std::size_t i = 0; i < count; ++i) {
      slots.needs[i] = edge_needed(edges_[tn.first_edge + i]);
      any = any || slots.needs[i];
    }
    if (any) {
      run_closure(n, adjoint, slots);
      ran = true;
      ++closures_run_;
      const bool anomaly = is_anomaly_enabled();
      for (std::size_t i = 0; i < count; ++i) {
        if (!slots.grads[i].defined() || !slots.needs[i]) continue;
        Tensor g = fit(n, i, std::move(slots.grads[i]), anomaly);
        const Edge& e = edges_[tn.first_edge + i];
        if (e.kind == Edge::node) accumulate(nodes_[e.index].adjoint, std::move(g));
        else accumulate(leaves_[e.index].sum, std::move(g));
      }
    }
  }
  // Leaves fed by this node: complete once their last feeder has run.
  for (std::size_t i = 0; i < count; ++i) {
    const Edge& e = edges_[tn.first_edge + i];
    if (e.kind != Edge::leaf) continue;
    TaskLeaf& l = leaves_[e.index];
    if (l.counted && --l.pending == 0) finish_leaf(l);
  }
  done_with(tn, ran);
}

void GraphTask::execute_streaming(std::uint32_t k) {
  // nodes_ grows while this runs (inputs' nodes join it): index it, hold no reference.
  Node* n = nodes_[k].node.get();
  Tensor adjoint = std::move(nodes_[k].adjoint);
  // No gradient reached it: none will (its consumers have run), and none goes on from it.
  if (!adjoint.defined()) return done_with(nodes_[k], false);
  if (nodes_[k].released) freed(opt_->caller, n);
  const std::size_t count = nodes_[k].num_inputs;
  GradSlots slots(count);
  bool any = false;
  for (std::size_t i = 0; i < count; ++i) {
    const Node::Input& in = n->input(i);
    // Its input's node runs next in a chain: without this the step from node to input node
    // waits for memory every time.
    if (in.producer) detail::prefetch_node(in.producer.get());
    slots.needs[i] = in.producer || (in.leaf.defined() && in.leaf.impl()->requires_grad);
    any = any || slots.needs[i];
  }
  if (auto hooks = hooks_of(n->hooks, n->has_hooks)) adjoint = hooks->run_on_grad(std::move(adjoint));
  if (!any) return done_with(nodes_[k], false);
  run_closure(n, adjoint, slots);
  ++closures_run_;
  const bool anomaly = is_anomaly_enabled();
  for (std::size_t i = 0; i < count; ++i) {
    if (!slots.grads[i].defined() || !slots.needs[i]) continue;
    Tensor g = fit(n, i, std::move(slots.grads[i]), anomaly);
    const Node::Input& in = n->input(i);
    if (in.producer) {
      const std::uint32_t j = node_index(in.producer.get());
      accumulate(nodes_[j].adjoint, std::move(g));
    } else {
      accumulate(leaves_[leaf_index(in.leaf.impl())].sum, std::move(g));
    }
  }
  done_with(nodes_[k], true);
}

void GraphTask::done_with(TaskNode& tn, bool ran) {
  // Without retain_graph, what the backward read goes now, as in PyTorch: saved activations
  // are freed during the sweep, not after it (so a sweep that fails midway has released the
  // nodes it ran, except under anomaly detection).
  if (ran && !opt_->retain_graph) {
    if (defer_release_) return ran_.push_back(tn.node.get());
    tn.node->release_saved();
  }
  tn.node = detail::NodeRef();
}

void GraphTask::finish_leaf(TaskLeaf& l) {
  l.done = true;
  if (!l.sum.defined()) return;
  Tensor g = std::move(l.sum);
  detail::TensorImpl* impl = l.impl;
  const auto hooks = hooks_of(impl->hooks, impl->has_hooks);
  if (hooks) g = hooks->run_on_grad(std::move(g));
  if (!opt_->into_leaf_grads) {
    if (l.target >= 0) results[static_cast<std::size_t>(l.target)] = std::move(g);
    return;
  }
  if (!impl->requires_grad) return;
  {
    std::lock_guard<std::mutex> lock(grad_lock(impl));
    if (!impl->grad.defined()) {
      // Own the stored gradient: g may be shared with another input (add passes grad through).
      if (g.use_count() > 1 && !opt_->create_graph) {
        Tensor owned = g.detach();
        // Forward over reverse: the gradient's tangent (its Hessian-vector product) stays with it.
        if (detail::forward_ad_possible())
          detail::attach_tangent("backward", owned, detail::live_tangent("backward", g));
        impl->grad = std::move(owned);
      } else {
        impl->grad = std::move(g);
      }
    } else {
      impl->grad = impl->grad + g;
    }
  }
  if (hooks && hooks->has_after_accumulate()) {
    detail::retain(impl);
    hooks->run_after_accumulate(Tensor::adopt(impl));
  }
}

/// The sweep running on this thread (innermost when they nest), for queue_callback.
thread_local GraphTask* t_current_task = nullptr;

/// Takes a task from the pool for one call and gives it back, also on an exception.
class TaskHandle {
 public:
  explicit TaskHandle(const SweepOptions& opt)
      : task_(GraphTask::acquire(opt)), outer_(t_current_task) {
    t_current_task = task_;
  }
  ~TaskHandle() {
    t_current_task = outer_;
    GraphTask::give_back(task_);
  }
  TaskHandle(const TaskHandle&) = delete;
  TaskHandle& operator=(const TaskHandle&) = delete;
  GraphTask* operator->() const { return task_; }

 private:
  GraphTask* task_;
  GraphTask* outer_;
};

}  // namespace

detail::SweepStats detail::last_sweep_stats() { return t_last_sweep; }

void queue_callback(Callback<void()> fn) {
  if (!fn) fail("queue_callback: empty callback");
  if (!t_current_task)
    fail("queue_callback: no backward() or grad() is running on this thread (call it from a hook)");
  t_current_task->callbacks.push_back(std::move(fn));
}

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph) {
  SweepOptions opt;
  opt.create_graph = create_graph;
  opt.retain_graph = retain_of(retain_graph, create_graph);
  TaskHandle task(opt);
  task->run(tensors, grad_tensors, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    detail::require_defined("grad", inputs[j]);
    if (!inputs[j].requires_grad())
      fail("grad: input ", j, " (shape ", to_string(inputs[j].shape()),
           ") does not require grad, so it has no gradient");
  }
  SweepOptions opt;
  opt.create_graph = create_graph;
  opt.retain_graph = retain_of(retain_graph, create_graph);
  opt.into_leaf_grads = false;
  opt.caller = "grad";
  TaskHandle task(opt);
  task->run(outputs, grad_outputs, &inputs);
  std::vector<Tensor> results = std::move(task->results);
  // A repeated input gets the first occurrence's gradient.
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    for (std::size_t k = 0; k < j; ++k)
      if (inputs[k].is_same(inputs[j])) {
        results[j] = results[k];
        break;
      }
    if (!results[j].defined() && !allow_unused)
      fail("grad: input ", j, " (shape ", to_string(inputs[j].shape()),
           ") is not used to compute the outputs; pass allow_unused=true to get an undefined "
           "gradient for it");
  }
  return results;
}

}  // namespace tg
