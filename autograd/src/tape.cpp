// The thread-local tape, grad mode and anomaly detection.
#include "tapegrad/tape.hpp"

#include <cmath>

#include "kernels.hpp"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;
thread_local bool t_anomaly_enabled = false;
thread_local const char* t_backward_of = nullptr;  // op whose backward is running (for messages)
}  // namespace

bool is_grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }
bool is_anomaly_enabled() { return t_anomaly_enabled; }
void set_anomaly_enabled(bool enabled) { t_anomaly_enabled = enabled; }

// ---- Node ----------------------------------------------------------------------------------------

void Node::set_inputs(const Tensor* first, std::size_t count) {
  num_inputs_ = count;
  for (std::size_t i = 0; i < count && i < kInlineInputs; ++i) inline_inputs_[i] = first[i];
  if (count > kInlineInputs) more_inputs_.assign(first + kInlineInputs, first + count);
}

void Node::release() {
  backward.reset();
  for (auto& t : inline_inputs_) t = Tensor();
  std::vector<Tensor>().swap(more_inputs_);
  num_inputs_ = 0;
  adjoint = Tensor();
}

// ---- Tape ----------------------------------------------------------------------------------------

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

Tape::~Tape() {
  // Tensors that outlive their thread's tape become leaves with their values intact.
  for (std::uint64_t i = end_; i-- > begin_;) {
    Node& n = at(i);
    if (n.state == Node::State::dead) continue;
    n.release();
    if (n.output.defined()) {
      n.output.impl()->node = nullptr;
      n.output.impl()->requires_grad = false;
    }
    n.output = Tensor();
  }
}

Node& Tape::at(std::uint64_t index) {
  const std::uint64_t offset = index - begin_;
  return blocks_[offset / kBlockSize][offset % kBlockSize];
}

Node& Tape::append(const char* name, Tensor output, const Tensor* inputs, std::size_t count) {
  if (end_ >= next_collect_ && paused_ == 0) {
    collect();
    next_collect_ = end_ + std::max<std::uint64_t>(4096, 2 * num_alive_);
  }
  const std::uint64_t offset = end_ - begin_;
  if (offset / kBlockSize >= blocks_.size()) {
    if (!spare_blocks_.empty()) {
      blocks_.push_back(std::move(spare_blocks_.back()));
      spare_blocks_.pop_back();
    } else {
      blocks_.push_back(std::make_unique<Node[]>(kBlockSize));
    }
  }
  Node& n = at(end_);
  n.name = name;
  n.tape = this;
  n.index = end_++;
  n.state = Node::State::live;
  n.set_inputs(inputs, count);
  detail::TensorImpl* impl = output.impl();
  impl->node = &n;
  impl->requires_grad = true;
  n.output = std::move(output);
  ++num_alive_;
  ++total_recorded_;
  return n;
}

void Tape::collect() {
  // Newest first: a dead node releases its inputs before their producers are looked at.
  for (std::uint64_t i = end_; i-- > begin_;) {
    Node& n = at(i);
    if (n.state == Node::State::dead) continue;
    if (n.output.impl_ptr().use_count() > 1) continue;
    n.release();
    n.output.impl()->node = nullptr;
    n.output = Tensor();
    n.state = Node::State::dead;
    --num_alive_;
  }
  trim();
}

void Tape::trim() {
  while (end_ > begin_ && at(end_ - 1).state == Node::State::dead) --end_;
  // Whole leading blocks of dead nodes go back to the spare list.
  std::size_t drop = 0;
  while (drop < blocks_.size() && begin_ + (drop + 1) * kBlockSize <= end_) {
    const Node* block = blocks_[drop].get();
    bool all_dead = true;
    for (std::size_t k = 0; k < kBlockSize && all_dead; ++k)
      all_dead = block[k].state == Node::State::dead;
    if (!all_dead) break;
    ++drop;
  }
  if (end_ == begin_) {
    drop = blocks_.size();
  }
  for (std::size_t k = 0; k < drop; ++k) spare_blocks_.push_back(std::move(blocks_[k]));
  blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(drop));
  if (end_ == begin_) {
    begin_ = end_ = 0;
  } else {
    begin_ += drop * kBlockSize;
  }
  // Keep a few spare blocks for the next step, return the rest.
  const std::size_t keep = std::max<std::size_t>(4, blocks_.size());
  if (spare_blocks_.size() > keep) spare_blocks_.resize(keep);
}

std::size_t Tape::reserved_bytes() const {
  return (blocks_.size() + spare_blocks_.size()) * kBlockSize * sizeof(Node);
}

namespace detail {

bool should_record(const char* name, const Tensor* inputs, std::size_t count) {
  if (!is_grad_enabled()) return false;
  bool any = false;
  for (std::size_t i = 0; i < count; ++i) {
    const TensorImpl* impl = inputs[i].impl();
    if (!impl || !impl->requires_grad) continue;
    any = true;
    if (impl->node && impl->node->tape != &Tape::current())
      fail(name, ": input ", i, " was recorded on another thread's tape; detach() it before "
           "using it on this thread");
  }
  return any;
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


Node& append_node(const char* name, Tensor output, const Tensor* inputs, std::size_t count) {
  check_anomaly(name, output, "output");
  if (output.impl_ptr().use_count() > 1 || !output.is_leaf()) {
    // The output is shared (an op returned an input, or kept a copy): record on a fresh handle.
    output = Tensor(std::make_shared<TensorImpl>(output.impl()->value));
  }
  return Tape::current().append(name, std::move(output), inputs, count);
}

}  // namespace detail
}  // namespace tg
