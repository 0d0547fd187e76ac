// Which instruction sets tapegrad's own vector kernels (float32 exp, tanh, sigmoid, log and
// division; the transposing copies' blocks) may use: the CPU's, capped by TAPEGRAD_MAX_ISA.
//
// Each kernel has an SSE2 version (x86-64's baseline) and wider ones chosen at run time from the
// CPU. The cap lets a test run the narrower versions on a CPU that would never pick them
// (scripts/run-tests runs the suite again with TAPEGRAD_MAX_ISA=sse2), and lets a user rule out a
// wide path. The optimizers' element loops are not covered: the loader picks their clones
// (optim/src/param_update.hpp), which compute the same bits at every width.
#pragma once

namespace tg::detail {

/// The levels of tapegrad's kernels, lowest first.
enum class Isa { kSse2, kAvx, kAvx2 };

/// Whether TAPEGRAD_MAX_ISA (sse2, avx or avx2, any case; unset or empty: no cap) allows kernels
/// of level `isa`. The caller still checks that the CPU has what the kernel needs. The variable is
/// read once per process; an unknown value is reported once on stderr and ignored.
bool isa_allowed(Isa isa);

/// The widest level this CPU runs under the cap: "AVX2" (with FMA), "AVX" or "SSE2".
const char* kernel_isa();

}  // namespace tg::detail
