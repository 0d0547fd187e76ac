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

/// Whether a kernel may use AVX; AVX2; AVX2 and FMA: the CPU has them and TAPEGRAD_MAX_ISA (sse2,
/// avx or avx2, any case; unset or empty: no cap) allows them. The variable is read once per
/// process; an unknown value is reported once on stderr and ignored. Safe from static
/// initialisers (they ask libgcc's CPU model, filling it in first).
bool use_avx();
bool use_avx2();
bool use_avx2_fma();

/// The widest level this CPU runs under the cap: "AVX2", "AVX2 (tanh SSE2: no FMA)" (glibc's AVX2
/// tanhf needs FMA), "AVX" or "SSE2".
const char* kernel_isa();

}  // namespace tg::detail
