// Thread count of the BLAS backend.
#include "tapegrad/threads.hpp"

#include <cblas.h>

#include "tapegrad/error.hpp"

namespace tg {

void set_num_threads(int n) {
  if (n < 1) fail("set_num_threads: need at least 1 thread, got ", n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return openblas_get_num_threads(); }

}  // namespace tg
