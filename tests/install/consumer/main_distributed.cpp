// Uses the installed tapegrad::distributed: links it (and so MPI, found again by the installed
// config) and shards an epoch with the DistributedSampler, without starting MPI.
#include <cstdio>
#include <tapegrad/distributed.hpp>
#include <tapegrad/tapegrad.hpp>

int main() {
  // Not under mpirun here; the call makes the program link the MPI backend.
  const bool under_mpirun = tg::distributed::launched_by_mpirun();
  tg::data::DistributedSampler first(10, 3, 0), second(10, 3, 1);
  const bool ok = !under_mpirun && first.num_samples() == 4 && second.indices(0).size() == 4 &&
                  first.indices(0)[0] != second.indices(0)[0];
  std::printf("distributed: under mpirun %d, shard of %zu: %s\n", under_mpirun, first.num_samples(),
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
