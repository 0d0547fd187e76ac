// TAPEGRAD_MAX_ISA: the cap on the instruction sets of tapegrad's own kernels (autograd/src/isa.hpp).
// tests/isa_child.cpp runs under each cap (it is read once per process) and reports the level and
// what every kernel computed; the narrower kernels must compute the same bits as the wider ones.
#include <catch2/catch.hpp>
#include <string>

#include "python.hpp"
#include "tapegrad/tapegrad.hpp"

namespace {

/// The child's output under `env` (a prefix for env(1)), its first line and the rest apart.
struct ChildRun {
  std::string kernels, results, all;
};
ChildRun run_child(const std::string& env) {
  const tg::testing::CommandOutput run = tg::testing::run_command("env " + env + " " + TAPEGRAD_ISA_CHILD + " 2>&1");
  INFO("env " << env << ":\n" << run.out);
  REQUIRE(run.status == 0);
  ChildRun r;
  r.all = run.out;
  const std::size_t end = run.out.find('\n');
  REQUIRE(end != std::string::npos);
  r.kernels = run.out.substr(0, end);
  r.results = run.out.substr(end + 1);
  return r;
}

}  // namespace

TEST_CASE("TAPEGRAD_MAX_ISA caps tapegrad's kernels, and every level computes the same bits") {
  __builtin_cpu_init();
  const bool avx = __builtin_cpu_supports("avx"), avx2 = __builtin_cpu_supports("avx2"),
             fma = __builtin_cpu_supports("fma");
  const std::string widest = avx2 ? (fma ? "AVX2" : "AVX2 (tanh SSE2: no FMA)") : avx ? "AVX" : "SSE2";

  const ChildRun free = run_child("-u TAPEGRAD_MAX_ISA");
  CHECK(free.kernels == "tapegrad kernels " + widest);
  const ChildRun sse2 = run_child("TAPEGRAD_MAX_ISA=sse2");
  CHECK(sse2.kernels == "tapegrad kernels SSE2");
  const ChildRun capped_avx = run_child("TAPEGRAD_MAX_ISA=AVX");
  CHECK(capped_avx.kernels == std::string("tapegrad kernels ") + (avx ? "AVX" : "SSE2"));
  const ChildRun capped_avx2 = run_child("TAPEGRAD_MAX_ISA=avx2");
  CHECK(capped_avx2.kernels == free.kernels);

  // The same bits whatever the level (on a CPU without AVX all runs take the SSE2 kernels).
  CHECK(sse2.results == free.results);
  CHECK(capped_avx.results == free.results);
  CHECK(capped_avx2.results == free.results);
  CHECK(free.results.find("exp ") != std::string::npos);
  CHECK(free.results.find("transpose float64 ") != std::string::npos);

  // A value it does not know is said once on stderr and changes nothing.
  const ChildRun unknown = run_child("TAPEGRAD_MAX_ISA=avx512");
  const std::string said = "tapegrad: TAPEGRAD_MAX_ISA=avx512 is not one of sse2, avx, avx2; ignored\n";
  CHECK(unknown.all == said + free.all);
}
