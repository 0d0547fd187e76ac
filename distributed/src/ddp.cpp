// DistributedDataParallel: gradient buckets all-reduced while backward runs.
//
// The reducer keeps one flat tensor per bucket. A parameter's post-accumulate hook copies its
// gradient into its slot; when a bucket's last slot is filled, that bucket and every full bucket
// after the last one started are launched, in bucket order (so all ranks issue the same
// collectives in the same order, whatever order the gradients arrive in). The first hook of a
// backward queues a callback on the engine that runs when the sweep ends: it launches what is
// left (slots with no gradient are zeros), waits for every bucket and writes the means back into
// grad().
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "tapegrad/autograd.hpp"
#include "tapegrad/distributed.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/reduce.hpp"

namespace tg::nn {

using distributed::ProcessGroup;
using distributed::ReduceOp;
using distributed::Work;

struct DistributedDataParallel::Reducer {
  struct Bucket {
    DType dtype = kFloat32;
    Tensor flat;
    std::vector<std::size_t> params;   // indices into Reducer::params
    std::vector<std::size_t> offsets;  // element offset of each in flat
    std::size_t pending = 0;
    bool launched = false;
    std::shared_ptr<Work> work;
  };

  ProcessGroup* group = nullptr;
  std::vector<Tensor> params;
  std::vector<std::size_t> bucket_of, slot_of;
  std::vector<char> filled;
  std::vector<Bucket> buckets;
  std::vector<HookHandle> hooks;
  std::size_t next_launch = 0;
  bool in_backward = false;
  bool sync = true;
  double last_wait_seconds = 0;
  /// Set when a backward that had started reducing ended without finishing (an exception in
  /// the sweep). Shared with that sweep's callback, which the engine destroys after the sweep.
  std::shared_ptr<bool> failed = std::make_shared<bool>(false);

  /// The finishing callback of one backward. The engine drops a failed sweep's callbacks
  /// without running them: then this marks the reducer failed.
  struct Finish {
    Reducer* reducer;
    std::shared_ptr<bool> failed;
    std::shared_ptr<bool> ran = std::make_shared<bool>(false);
    struct Sentinel {
      Sentinel(std::shared_ptr<bool> f, std::shared_ptr<bool> r) : failed(std::move(f)), ran(std::move(r)) {}
      Sentinel(const Sentinel&) = delete;
      Sentinel& operator=(const Sentinel&) = delete;
      ~Sentinel() {
        if (!*ran) *failed = true;
      }
      std::shared_ptr<bool> failed, ran;
    };
    // Shared by the callback's copies; its destructor runs with the last of them.
    std::shared_ptr<Sentinel> sentinel = std::make_shared<Sentinel>(failed, ran);
    void operator()() const {
      *ran = true;
      reducer->finish();
    }
  };

  /// A backward that started all-reducing and failed midway leaves this rank's collectives out
  /// of step with the other ranks' (which buckets were launched depends on where each failed),
  /// and its gradients unaveraged: no later all-reduce of this module can be trusted to pair
  /// with the right one, so it raises, as PyTorch's reducer does, instead of hanging or mixing
  /// buckets.
  void check_not_failed(const char* where) const {
    if (*failed)
      fail("DistributedDataParallel: ", where, " after a backward that failed midway on this rank (an exception ",
           "in the sweep after gradients had started to be all-reduced); the ranks' collectives may be out of ",
           "step, so this module cannot go on training: end the job (e.g. MPI_Abort) and resume from a checkpoint");
  }

  void start_backward() {
    check_not_failed("a backward");
    in_backward = true;
    next_launch = 0;
    std::fill(filled.begin(), filled.end(), 0);
    for (Bucket& b : buckets) {
      b.pending = b.params.size();
      b.launched = false;
      b.work.reset();
    }
    queue_callback(Finish{this, failed});
  }

  void on_grad(std::size_t i) {
    if (!sync) return;
    if (*failed) check_not_failed("a backward");
    if (!in_backward) start_backward();
    if (filled[i]) return;
    Bucket& b = buckets[bucket_of[i]];
    copy_into(b, slot_of[i], params[i].grad());
    filled[i] = 1;
    --b.pending;
    launch_ready();
    // MPI moves non-blocking collectives on only inside MPI calls: poke the ones in flight.
    for (std::size_t k = 0; k < next_launch; ++k) buckets[k].work->is_completed();
  }

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      b.launched = true;
      b.work = group->all_reduce_async(b.flat, ReduceOp::mean);
    }
  }

  void finish() {
    in_backward = false;
    // Parameters that got no gradient in this backward contribute zeros.
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (filled[i]) continue;
      Bucket& b = buckets[bucket_of[i]];
      copy_into(b, slot_of[i], Tensor());
      filled[i] = 1;
      --b.pending;
    }
    launch_ready();
    const auto start = std::chrono::steady_clock::now();
    for (Bucket& b : buckets) b.work->wait();
    last_wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (Bucket& b : buckets) {
      for (std::size_t s = 0; s < b.params.size(); ++s) copy_out(b, s, params[b.params[s]]);
      b.work.reset();
    }
  }

  static std::size_t bytes_of(const Bucket& b, std::size_t slot, std::size_t numel) {
    (void)slot;
    return numel * element_size(b.dtype);
  }

  void copy_into(Bucket& b, std::size_t slot, const Tensor& grad) {
    const std::size_t n = params[b.params[slot]].numel();
    char* dst = static_cast<char*>(b.dtype == kFloat64 ? static_cast<void*>(b.flat.data_ptr<double>())
                                                       : static_cast<void*>(b.flat.data_ptr<float>())) +
                b.offsets[slot] * element_size(b.dtype);
    if (!grad.defined()) {
      std::memset(dst, 0, bytes_of(b, slot, n));
      return;
    }
    if (grad.dtype() != b.dtype || grad.numel() != n)
      fail("DistributedDataParallel: parameter ", b.params[slot], " has a gradient ", to_string(grad.dtype()),
           to_string(grad.shape()), " that does not match the parameter (", to_string(b.dtype), ", ", n,
           " elements)");
    const void* src = b.dtype == kFloat64 ? static_cast<const void*>(grad.data_ptr<double>())
                                          : static_cast<const void*>(grad.data_ptr<float>());
    std::memcpy(dst, src, bytes_of(b, slot, n));
  }

  void copy_out(Bucket& b, std::size_t slot, Tensor& param) {
    const std::size_t n = param.numel();
    const char* src =
        static_cast<const char*>(b.dtype == kFloat64 ? static_cast<const void*>(b.flat.data_ptr<double>())
                                                     : static_cast<const void*>(b.flat.data_ptr<float>())) +
        b.offsets[slot] * element_size(b.dtype);
    Tensor grad = param.grad();
    if (!grad.defined()) {
      NoGradGuard no_grad;
      param.set_grad(zeros(param.shape(), b.dtype));
      grad = param.grad();
    }
    void* dst =
        b.dtype == kFloat64 ? static_cast<void*>(grad.data_ptr<double>()) : static_cast<void*>(grad.data_ptr<float>());
    std::memcpy(dst, src, bytes_of(b, slot, n));
    grad.bump_version();
  }
};

namespace {
/// Every rank's model must have the same parameter shapes: compared through an all-reduce, so
/// that every rank raises (a rank that raised alone would leave the others waiting).
void check_same_model(ProcessGroup& group, const std::vector<Tensor>& params) {
  // Per parameter: elements, dimensions and dtype, as float64 (exact below 2^53). The lengths
  // are compared first: collectives of different lengths would not match.
  std::vector<double> signature;
  for (const Tensor& p : params) {
    signature.push_back(static_cast<double>(p.numel()));
    signature.push_back(static_cast<double>(p.dim()));
    signature.push_back(p.dtype() == kFloat64 ? 2.0 : 1.0);
  }
  const double world = group.world_size();
  Tensor count = from_vector({static_cast<double>(params.size())}, {1}, kFloat64);
  Tensor first_count = count.detach();
  group.all_reduce(count, ReduceOp::sum);
  group.broadcast(first_count, 0);
  if (count.item() != first_count.item() * world)
    fail("DistributedDataParallel: the ranks' models differ: rank ", group.rank(), " has ", params.size(),
         " trainable parameters, rank 0 has ", first_count.item());
  if (signature.empty()) return;
  Tensor total = from_vector(signature, {signature.size()}, kFloat64);
  Tensor first = total.detach();
  group.all_reduce(total, ReduceOp::sum);
  group.broadcast(first, 0);
  const std::vector<double> t = total.to_vector(), f = first.to_vector();
  for (std::size_t k = 0; k < signature.size(); ++k)
    if (t[k] != f[k] * world)
      fail("DistributedDataParallel: the ranks' models differ: parameter ", k / 3,
           " does not have the same shape and dtype on every rank as on rank 0");
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<Module> module,
                                                 std::shared_ptr<distributed::ProcessGroup> group,
                                                 DistributedDataParallelOptions options)
    : Module("DistributedDataParallel"), module_(std::move(module)), group_(std::move(group)), options_(options) {
  if (!module_) fail("DistributedDataParallel: module is null");
  if (!group_) fail("DistributedDataParallel: process group is null");
  if (options_.bucket_cap_bytes_ == 0) fail("DistributedDataParallel: bucket_cap_bytes must be positive");
  register_module("module", module_);

  auto reducer = std::make_unique<Reducer>();
  reducer->group = group_.get();
  for (const Tensor& p : module_->parameters())
    if (p.requires_grad()) reducer->params.push_back(p);
  check_same_model(*group_, reducer->params);

  // Rank 0's values everywhere, as PyTorch's _sync_module_states.
  {
    NoGradGuard no_grad;
    for (const Tensor& p : module_->parameters()) group_->broadcast(p, 0);
    for (const Tensor& b : module_->buffers()) group_->broadcast(b, 0);
  }

  // Buckets over the parameters in reverse order: backward produces the last layer's gradients
  // first.
  const std::size_t n = reducer->params.size();
  reducer->bucket_of.assign(n, 0);
  reducer->slot_of.assign(n, 0);
  reducer->filled.assign(n, 0);
  std::size_t bytes = 0;
  for (std::size_t j = n; j-- > 0;) {
    const Tensor& p = reducer->params[j];
    auto& buckets = reducer->buckets;
    if (buckets.empty() || buckets.back().dtype != p.dtype() || bytes >= options_.bucket_cap_bytes_) {
      buckets.emplace_back();
      buckets.back().dtype = p.dtype();
      bytes = 0;
    }
    Reducer::Bucket& b = buckets.back();
    const std::size_t offset = b.offsets.empty() ? 0 : b.offsets.back() + reducer->params[b.params.back()].numel();
    reducer->bucket_of[j] = buckets.size() - 1;
    reducer->slot_of[j] = b.params.size();
    b.params.push_back(j);
    b.offsets.push_back(offset);
    bytes += p.numel() * element_size(p.dtype());
  }
  for (Reducer::Bucket& b : reducer->buckets) {
    const std::size_t total = b.offsets.back() + reducer->params[b.params.back()].numel();
    b.flat = zeros({total}, b.dtype);
    b.pending = b.params.size();
  }
  Reducer* r = reducer.get();
  for (std::size_t j = 0; j < n; ++j)
    reducer->hooks.push_back(
        reducer->params[j].register_post_accumulate_grad_hook([r, j](const Tensor&) { r->on_grad(j); }));
  reducer_ = std::move(reducer);
}

DistributedDataParallel::~DistributedDataParallel() {
  for (HookHandle& h : reducer_->hooks) h.remove();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  // Training forwards broadcast buffers and recorded ones lead to a backward: both collective.
  if (is_grad_enabled() || is_training()) reducer_->check_not_failed("a forward");
  if (is_training() && options_.broadcast_buffers_ && group_->world_size() > 1) {
    NoGradGuard no_grad;
    for (const Tensor& b : module_->buffers()) group_->broadcast(b, 0);
  }
  return module_->forward(input);
}

DistributedDataParallel::NoSync::NoSync(DistributedDataParallel& ddp) : ddp_(ddp), previous_(ddp.reducer_->sync) {
  ddp_.reducer_->sync = false;
}
DistributedDataParallel::NoSync::~NoSync() { ddp_.reducer_->sync = previous_; }

std::vector<std::vector<std::size_t>> DistributedDataParallel::bucket_assignment() const {
  std::vector<std::vector<std::size_t>> out;
  for (const Reducer::Bucket& b : reducer_->buckets) out.push_back(b.params);
  return out;
}

double DistributedDataParallel::last_wait_seconds() const { return reducer_->last_wait_seconds; }

}  // namespace tg::nn
