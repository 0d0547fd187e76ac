// The MPI process group: MPI_COMM_WORLD duplicated, errors returned (MPI_ERRORS_RETURN) and
// raised as tg::Error, non-blocking collectives waited for with a timeout.
#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tapegrad/distributed.hpp"

namespace tg::distributed {

namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

void check(int code, const char* call) {
  if (code != MPI_SUCCESS) fail(call, ": ", mpi_message(code));
}

/// Finalises MPI at exit if this library initialised it (and nobody finalised it since).
struct MpiLifetime {
  bool initialised_here = false;
  ~MpiLifetime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (initialised_here && !finalized) MPI_Finalize();
  }
};

void ensure_initialised() {
  static std::mutex mutex;
  static MpiLifetime lifetime;
  std::lock_guard<std::mutex> lock(mutex);
  int initialised = 0, finalized = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalized);
  if (finalized) fail("init_mpi: MPI has already been finalised in this process");
  if (initialised) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  lifetime.initialised_here = true;
  // Errors on the world communicator too come back as codes (the default aborts the job with
  // MPI's own message).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_SERIALIZED)
    fail("init_mpi: this MPI provides thread level ", provided, ", tapegrad needs MPI_THREAD_SERIALIZED (",
         MPI_THREAD_SERIALIZED, ")");
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return MPI_FLOAT;
    case DType::float64: return MPI_DOUBLE;
    case DType::int64: return MPI_INT64_T;
    case DType::boolean: return MPI_BYTE;  // one byte per bool
  }
  return MPI_BYTE;
}

void* raw_data(Tensor& t) {
  switch (t.dtype()) {
    case DType::float32: return t.data_ptr<float>();
    case DType::float64: return t.data_ptr<double>();
    case DType::int64: return t.data_ptr<std::int64_t>();
    case DType::boolean: return t.data_ptr<bool>();
  }
  return nullptr;
}

int element_count(const char* op, const Tensor& t) {
  if (!t.defined()) fail(op, ": the tensor is undefined");
  if (t.numel() > static_cast<std::size_t>(INT_MAX))
    fail(op, ": tensor ", to_string(t.dtype()), to_string(t.shape()), " has more than ", INT_MAX,
         " elements, MPI's count limit");
  return static_cast<int>(t.numel());
}

/// Waits for request with MPI_Test, as MPI_Wait would, but with a deadline: polls (yielding the
/// core between polls, since the other ranks may share it) for the first second, which is every
/// collective of a healthy job; after that it sleeps between polls, so a rank waiting for a stuck
/// one does not burn a core. Non-blocking collectives move on only inside MPI calls, so sleeping
/// early would slow every round of a large all-reduce. Raises after timeout_seconds.
void wait_for(MPI_Request& request, const char* what, double timeout_seconds) {
  using clock = std::chrono::steady_clock;
  const clock::time_point start = clock::now();
  for (long polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    if (polls < 2000) continue;
    const double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout_seconds)
      fail(what, ": no answer from the other ranks after ", timeout_seconds,
           " s (a rank may have died or stopped calling collectives); the job cannot continue");
    if (waited < 1.0) sched_yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

class MpiWork final : public Work {
 public:
  MpiWork(Tensor tensor, ReduceOp op, int world_size, double timeout)
      : tensor_(std::move(tensor)), op_(op), world_size_(world_size), timeout_(timeout) {}
  ~MpiWork() override {
    // A collective still running writes into the tensor this holds: wait (or give up quietly,
    // after an error the job is ending anyway).
    if (!done_ && request_ != MPI_REQUEST_NULL) {
      try {
        wait();
      } catch (...) {
      }
    }
  }
  MPI_Request request_ = MPI_REQUEST_NULL;

  bool is_completed() override {
    if (done_) return true;
    int flag = 0;
    check(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "all_reduce");
    if (flag) finish();
    return done_;
  }
  void wait() override {
    if (done_) return;
    wait_for(request_, "all_reduce", timeout_);
    finish();
  }

 private:
  void finish() {
    done_ = true;
    if (op_ != ReduceOp::mean) return;
    // Divide (not multiply by 1/N): correctly rounded, so N = 2, 4, ... add no error.
    const std::size_t n = tensor_.numel();
    if (tensor_.dtype() == kFloat64) {
      double* p = tensor_.data_ptr<double>();
      const double w = world_size_;
      for (std::size_t i = 0; i < n; ++i) p[i] /= w;
    } else {
      float* p = tensor_.data_ptr<float>();
      const float w = static_cast<float>(world_size_);
      for (std::size_t i = 0; i < n; ++i) p[i] /= w;
    }
  }
  Tensor tensor_;
  ReduceOp op_;
  int world_size_;
  double timeout_;
  bool done_ = false;
};

class MpiProcessGroup final : public ProcessGroup {
 public:
  explicit MpiProcessGroup(MpiOptions options) : options_(options) {
    ensure_initialised();
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  ~MpiProcessGroup() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> all_reduce_async(const Tensor& tensor, ReduceOp op) override {
    const int count = element_count("all_reduce", tensor);
    if (!tensor.is_floating_point())
      fail("all_reduce: needs a float32 or float64 tensor, got ", to_string(tensor.dtype()), to_string(tensor.shape()));
    Tensor t = tensor;
    t.bump_version();
    auto work = std::make_shared<MpiWork>(t, op, size_, options_.timeout_seconds_);
    check(MPI_Iallreduce(MPI_IN_PLACE, raw_data(t), count, mpi_type(t.dtype()), MPI_SUM, comm_, &work->request_),
          "all_reduce (MPI_Iallreduce)");
    return work;
  }

  void broadcast(const Tensor& tensor, int root) override {
    const int count = element_count("broadcast", tensor);
    if (root < 0 || root >= size_) fail("broadcast: root ", root, " is outside [0, ", size_, ")");
    Tensor t = tensor;
    t.bump_version();
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ibcast(raw_data(t), count, mpi_type(t.dtype()), root, comm_, &request), "broadcast (MPI_Ibcast)");
    wait_for(request, "broadcast", options_.timeout_seconds_);
  }

  void barrier() override {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(comm_, &request), "barrier (MPI_Ibarrier)");
    wait_for(request, "barrier", options_.timeout_seconds_);
  }

 private:
  MpiOptions options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<ProcessGroup> init_mpi(MpiOptions options) {
  if (!(options.timeout_seconds_ > 0))
    fail("init_mpi: timeout_seconds must be positive, got ", options.timeout_seconds_);
  return std::make_shared<MpiProcessGroup>(options);
}

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

void abort_job(int code) {
  int initialised = 0, finalized = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalized);
  if (initialised && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace tg::distributed
