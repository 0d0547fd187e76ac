/// \file
/// Data parallelism across processes: a process group (all-reduce, broadcast, barrier) with an
/// MPI backend, and nn::DistributedDataParallel, which averages gradients over the processes while
/// backward runs.
///
/// \code
///   auto group = tg::distributed::init_mpi();           // under mpirun -np N
///   auto model = std::make_shared<tg::nn::DistributedDataParallel>(net, group);
///   tg::optim::SGD opt(model->parameters(), {0.1});
///   loss_fn(model->forward(x), y).backward();           // gradients are averaged over the N ranks
///   opt.step();
/// \endcode
///
/// Not part of tapegrad.hpp: this header and the tapegrad_distributed library exist only when
/// CMake found MPI (target tapegrad::distributed). Nothing here includes <mpi.h>.
///
/// Invariants
/// - Every rank issues the same collectives in the same order (MPI requires it): buckets are
///   all-reduced strictly in bucket order, whatever order their gradients complete in.
/// - Every collective waits at most the group's timeout, then raises tg::Error; every MPI error is
///   returned (MPI_ERRORS_RETURN) and raised as tg::Error naming the call, never an abort inside
///   MPI. After such an error the job cannot continue: call abort_job() to stop every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::distributed {

/// How all_reduce combines the ranks' tensors.
enum class ReduceOp : std::uint8_t {
  sum,   ///< elementwise sum over the ranks
  mean,  ///< the sum divided by world_size()
};

/// A collective started without waiting for it (e.g. MPI_Iallreduce).
class Work {
 public:
  virtual ~Work() = default;
  /// True once the collective has completed (and its result is in the tensor). Calling it also
  /// lets the backend make progress (MPI moves non-blocking collectives on inside MPI calls).
  virtual bool is_completed() = 0;
  /// Blocks until completed; raises tg::Error on an MPI error or after the group's timeout.
  virtual void wait() = 0;
};

/// The processes of one job and the collectives among them. A backend (MPI here; Gloo or NCCL
/// could follow) implements the virtual functions. Tensors are changed in place (their version is
/// bumped), must be contiguous float32 or float64 (broadcast: any dtype) and have the same shape
/// and dtype on every rank.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  /// This process's index in [0, world_size()).
  virtual int rank() const = 0;
  /// The number of processes in the group.
  virtual int world_size() const = 0;
  /// "mpi".
  virtual std::string backend() const = 0;
  /// Starts replacing tensor, on every rank, by the sum (or mean) over ranks. The tensor must not
  /// be read or written until the returned Work has completed.
  virtual std::shared_ptr<Work> all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::sum) = 0;
  /// all_reduce_async(tensor, op)->wait().
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum) { all_reduce_async(tensor, op)->wait(); }
  /// Copies root's tensor into every rank's tensor.
  virtual void broadcast(const Tensor& tensor, int root = 0) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;
};

/// Options of init_mpi().
struct MpiOptions {
  /// Longest wait for one collective before it raises tg::Error (a rank died or hangs).
  double timeout_seconds_ = 300;
  /// Sets timeout_seconds_ (chained).
  MpiOptions& timeout_seconds(double s) { timeout_seconds_ = s; return *this; }
};

/// The group of every process mpirun started (MPI_COMM_WORLD, duplicated). Initialises MPI on
/// the first call (MPI_Init_thread, serialized: only one thread at a time may use the group) and
/// finalises it at exit; later calls return new groups over the same processes. Raises tg::Error
/// when MPI cannot start. Without mpirun this is a group of one process.
std::shared_ptr<ProcessGroup> init_mpi(MpiOptions options = {});

/// True when this process was started by mpirun or mpiexec (their environment variables are set).
bool launched_by_mpirun();

/// Ends every process of the job with exit code `code` (MPI_Abort), after printing nothing: print
/// the reason first. Without MPI initialised, exits this process.
[[noreturn]] void abort_job(int code);

}  // namespace tg::distributed

namespace tg::nn {

/// Options of DistributedDataParallel, with chained setters.
struct DistributedDataParallelOptions {
  /// Gradients are packed into buckets of about this many bytes (a bucket closes when it
  /// reaches it, or when the dtype changes); each bucket is one all-reduce. PyTorch's default.
  std::size_t bucket_cap_bytes_ = 25u << 20;
  /// Copy rank 0's buffers (BatchNorm running statistics) to every rank before each training
  /// forward, as PyTorch's default.
  bool broadcast_buffers_ = true;
  /// Sets bucket_cap_bytes_.
  DistributedDataParallelOptions& bucket_cap_bytes(std::size_t b) { bucket_cap_bytes_ = b; return *this; }
  /// Sets broadcast_buffers_.
  DistributedDataParallelOptions& broadcast_buffers(bool on) { broadcast_buffers_ = on; return *this; }
};

/// Wraps a module for data-parallel training over a process group, as
/// torch.nn.parallel.DistributedDataParallel:
/// - construction copies rank 0's parameters and buffers to every rank (after checking that every
///   rank's model has the same parameter shapes);
/// - during backward each parameter's gradient, once accumulated (post-accumulate-grad hook), is
///   copied into its bucket (parameters in reverse registration order, roughly the order backward
///   reaches them); a full bucket's all-reduce (mean) starts at once, so communication overlaps the
///   rest of backward; backward() returns after every bucket is reduced and written back, so
///   step() sees grad() = the mean over ranks of each rank's gradient;
/// - a parameter that got no gradient on a rank contributes zeros (its grad() is then the mean of
///   the others');
/// - under no_sync() gradients accumulate locally; the next synchronised backward averages the
///   accumulated sums (gradient accumulation);
/// - a backward that fails (an exception in the sweep) before any parameter's gradient arrived
///   leaves nothing to undo; one that fails after the all-reduces began makes every later
///   training forward and backward raise tg::Error, since the ranks' collectives may be out of
///   step (as PyTorch's reducer, which refuses to start a new reduction); evaluation (eval()
///   and no grad mode) still works. End the job and resume from a checkpoint.
/// The wrapped module is the child "module" (state_dict keys start with "module."); save
/// module() to get the plain model's keys. Not copyable.
class DistributedDataParallel : public Module {
 public:
  /// Wraps module for training over group; collective: every rank must construct it at the same point.
  DistributedDataParallel(std::shared_ptr<Module> module, std::shared_ptr<distributed::ProcessGroup> group,
                          DistributedDataParallelOptions options = {});
  ~DistributedDataParallel() override;
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  /// Broadcasts the buffers from rank 0 (training, broadcast_buffers), then module()->forward.
  Tensor forward(const Tensor& input) override;

  /// The wrapped module.
  const std::shared_ptr<Module>& module() const { return module_; }
  /// The group gradients are averaged over.
  const std::shared_ptr<distributed::ProcessGroup>& process_group() const { return group_; }

  /// While alive, backward does not communicate: gradients accumulate in each rank's grad().
  class NoSync {
   public:
    /// Turns synchronisation off for ddp until this guard is destroyed.
    explicit NoSync(DistributedDataParallel& ddp);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  /// `{ auto guard = ddp.no_sync(); loss.backward(); }` accumulates without all-reduce.
  NoSync no_sync() { return NoSync(*this); }

  /// Buckets in all-reduce order; each lists indices into parameters() (of the trainable ones).
  std::vector<std::vector<std::size_t>> bucket_assignment() const;

  /// Seconds the last synchronised backward waited for all-reduces after its sweep (the
  /// communication backward did not hide), and their total count so far. For benchmarks.
  double last_wait_seconds() const;

  struct Reducer;  // the buckets and hooks (distributed/src/ddp.cpp)

 private:
  std::shared_ptr<Module> module_;
  std::shared_ptr<distributed::ProcessGroup> group_;
  DistributedDataParallelOptions options_;
  std::unique_ptr<Reducer> reducer_;
};

}  // namespace tg::nn
