// tapegrad_bench's copies and transcendental workloads (issue 19); torch_bench.py has the same
// rows and bench/copies_compare.py runs both side by side.
#pragma once

#include "bench_util.hpp"

namespace bench {

/// The options of both workloads and their defaults.
extern const std::map<std::string, std::string> kCopiesDefaults;

/// Shape-op copies (transpose, permute, expand, a middle-axis broadcast, a middle-axis sum,
/// softmax) on 8-16 MiB float32 tensors, each beside its floor: a memcpy of the same bytes, or
/// exp of the same size. One JSON line per row.
int run_copies(const Options& opt);

/// float32 exp, tanh, sigmoid and log on 1M elements beside a memcpy of the same bytes.
int run_transcendental(const Options& opt);

}  // namespace bench
