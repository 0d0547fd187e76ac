"""Issue 19's rows for bench/driver.py: steady-state per-op chains with their bandwidth floor, ADBench's
GMM objective and gradient, and the wider/other MLPs with the wide one's GEMM floor.

groups(args, setting, tg, torch) gives the driver's groups (one row each); render(w, by_key) writes
their section of RESULTS.md.
"""
import statistics

# (shape, ops per chain, extra arguments). On (1024,1024) a chain of 300 holds 1.2 GB of outputs,
# past tapegrad's per-thread buffer cache (1 GiB), so its tail came fresh from the kernel (77 page
# faults per op): a chain of 64 (256 MiB) measures the ops.
STEADY_SHAPES = (("4", 300, ["--reps", "100"]), ("256x256", 300, ["--reps", "20"]),
                 ("1024x1024", 64, ["--warmup", "2", "--reps", "10"]))
STEADY_OPS = ("mul", "add", "tanh", "mixed")
STEADY_TARGET = ("256x256", "mixed", 0.5)  # issue 19: the steady (256,256) row at or below 0.5x PyTorch
GMM_SIZES = ((2, 5, 1000), (10, 50, 10000), (64, 200, 10000))
WIDE_FLOOR_TARGET = 1.15
# (row of `copies` / `transcendental`, what it is, its floor's target: at most this many times the floor)
COPY_ROWS = (
    ("copies", "copy_4096x512", "copy (reshape / clone) of 4096x512 float32, 8 MiB", None),
    ("copies", "transpose_4096x512", "transpose of 4096x512 float32 made contiguous", 2.0),
    ("copies", "permute_0213_32x128x8x64", "permute (0,2,1,3) of (32,128,8,64) float32 made contiguous", 2.0),
    ("copies", "permute_3210_32x128x8x64", "permute (3,2,1,0) of (32,128,8,64) float32 made contiguous", 2.0),
    ("copies", "transpose_8192x2048", "transpose of 8192x2048 float32 made contiguous, 64 MiB", 2.0),
    ("copies", "permute_3210_256x128x8x64", "permute (3,2,1,0) of (256,128,8,64) float32 made contiguous, 64 MiB", 2.0),
    ("copies", "expand_4096x1_to_4096x512", "expand (4096,1) to (4096,512) made contiguous", None),
    ("copies", "expand_512_to_4096x512", "expand (512) to (4096,512) made contiguous", None),
    ("copies", "sub_64x512x64_minus_64x1x64", "(64,512,64) - (64,1,64)", None),
    ("copies", "sum_64x512x64_axis1", "sum over the middle axis of (64,512,64), keepdim", None),
    ("copies", "exp_4096x1024", "exp of 4096x1024 float32 (16 MiB)", None),
    ("copies", "softmax_4096x1024", "softmax over the last axis of 4096x1024", 2.0),
    ("copies", "log_softmax_4096x1024", "log_softmax over the last axis of 4096x1024", 2.0),
    ("copies", "softmax_64x1024x64_axis1", "softmax over the middle axis of (64,1024,64)", 2.0),
    ("transcendental", "exp_1M", "exp of 1M float32", None),
    ("transcendental", "tanh_1M", "tanh of 1M float32", None),
    ("transcendental", "sigmoid_1M", "sigmoid of 1M float32", None),
    ("transcendental", "log_1M", "log of 1M float32 in [0.1, 10)", None),
)


def shape_text(shape):
    return "(" + shape.replace("x", ",") + ("," if "x" not in shape else "") + ")"


def groups(args, setting, tg, torch):
    data = ["--data", args.data]
    out = []
    for shape, ops, extra in STEADY_SHAPES:
        for op in STEADY_OPS:
            target = STEADY_TARGET[2] if (shape, op) == STEADY_TARGET[:2] else None
            cmd = ["steady", "--shape", shape, "--op", op, "--ops", str(ops), *extra]
            out.append(dict(
                key=f"steady:{shape}:{op}", title=f"3s. steady state, {op} on {shape_text(shape)}, chains of {ops}, fwd+bwd",
                unit="µs/op", target=target,
                settings=[setting("1 thread", "tapegrad", tg(*cmd), 1, "us_per_op"),
                          setting("1 thread", "torch", torch(*cmd), 1, "us_per_op")]))
    for d, k, n in GMM_SIZES:
        cmd = ["gmm", "--d", str(d), "--k", str(k), "--n", str(n), "--reps", "5" if d * k * n < 10 ** 7 else "3"]
        out.append(dict(
            key=f"gmm:{d}x{k}x{n}", title=f"8. GMM gradient (ADBench), d={d} K={k} n={n}, float64",
            unit="µs/call", target=None,
            settings=[setting("1 thread", "tapegrad", tg(*cmd), 1, "gradient_us"),
                      setting("1 thread", "torch", torch(*cmd), 1, "gradient_us")]))
    mlps = (("wide", "9. wide MLP 784-2048-2048-10, batch 256, 20 steps", "µs/step", "us_per_step",
             ["--warmup", "3", "--steps", "20", *data]),
            ("higgs", "9. HIGGS-like 28-300x5-1 tanh, batch 100, epoch of 100 steps", "s/epoch", "epoch_s",
             ["--warmup", "10"]),
            ("mlp64", "9. MNIST mlp epoch in float64", "s/epoch", "epoch_s", ["--warmup", "20", *data]))
    for name, title, unit, metric, extra in mlps:
        out.append(dict(
            key=f"{name}@1", title=f"{title}, 1 thread", unit=unit, target=None,
            settings=[setting("1 thread", "tapegrad", tg(name, "--threads", "1", *extra), 1, metric),
                      setting("torch 1 + OpenBLAS 1", "torch",
                              torch(name, "--threads", "1", "--blas-threads", "1", *extra), 1, metric)]))
    for workload, row, text, _ in COPY_ROWS:
        cmd = [workload, "--rows", row, "--reps", "21", "--threads", "1"]
        out.append(dict(
            key=f"{workload}:{row}", title=f"10. {text}", unit="ms", target=None,
            settings=[setting("1 thread", "tapegrad", tg(*cmd), 1, "ms"),
                      setting("1 thread", "torch", torch(*cmd), 1, "ms")]))
    out.append(dict(
        key="gemm-floor:wide@1", title="4w. GEMM floor of the wide MLP step, 1 thread", unit="µs/step", target=None,
        settings=[setting("OpenBLAS 1", "openblas", tg("gemm-floor", "--preset", "wide", "--threads", "1"), 1,
                          "us_per_step")]))
    return out


def med(results, key):
    return statistics.median(float(r[key]) for r in results)


def num(x):
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.0f}"


def render(w, by_key):
    steady = [(shape, op, by_key.get(f"steady:{shape}:{op}")) for shape, _, _ in STEADY_SHAPES for op in STEADY_OPS]
    gmms = [(size, by_key.get("gmm:{}x{}x{}".format(*size))) for size in GMM_SIZES]
    mlps = [(name, by_key.get(f"{name}@1")) for name in ("wide", "higgs", "mlp64")]
    copies = [(row, text, target, by_key.get(f"{workload}:{row}")) for workload, row, text, target in COPY_ROWS]
    if not any(g for *_, g in steady) and not any(g for _, g in gmms) and not any(g for _, g in mlps) \
            and not any(g for *_, g in copies):
        return
    if any(g for *_, g in steady):
        w("## Steady-state per-op cost (issue 19)\n")
        w("A chain of 300 ops of one kind (or mul/add/tanh alternating, as workload 3) on a float32 tensor, then"
          " `sum(x).backward()`; the graph is freed and the chain recorded again, after untimed warm-up chains"
          " (3, or 2 on (1024,1024)). On (1024,1024) the chains are 64 ops long: 300 outputs of 4 MiB would"
          " hold 1.2 GB, more than tapegrad's per-thread buffer cache keeps (1 GiB), so the row would measure"
          " fresh pages. PyTorch's allocator takes most 4 MiB outputs fresh from the kernel at any length"
          " (its page faults per op are below). Times are per op, medians over the chains of a run, then over"
          " the runs."
          " The floor is the bytes the op moves (mul and add read two tensors and write one; tanh reads one and"
          " writes one; backward: mul and tanh read two and write one, add moves nothing) divided by the"
          " bandwidth of memcpy between two buffers of the tensor's size, measured in the tapegrad process"
          " (for small sizes the buffers sit in cache, so the floor is a lower bound; the chains' outputs do"
          " not). PyTorch's `copy_` bandwidth, measured in its process, is shown for reference.\n")
        w("| shape | op | tapegrad fwd + bwd = total | PyTorch fwd + bwd = total | tapegrad / PyTorch |"
          " floor fwd + bwd | tapegrad / floor | PyTorch / floor | copy GB/s tapegrad, PyTorch | target | met |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for shape, op, g in steady:
            if not g:
                continue
            t, p = g["settings"][0]["results"], g["settings"][1]["results"]
            tt, pt = med(t, "us_per_op"), med(p, "us_per_op")
            floor = med(t, "floor_us_per_op")
            ratio = tt / pt
            target = g["target"]
            met = "" if target is None else "yes" if ratio <= target else "no"
            w(f"| {shape_text(shape)} | {op} | {num(med(t, 'forward_us_per_op'))} + {num(med(t, 'backward_us_per_op'))}"
              f" = {num(tt)} | {num(med(p, 'forward_us_per_op'))} + {num(med(p, 'backward_us_per_op'))} = {num(pt)} |"
              f" {ratio:.2f} | {num(med(t, 'floor_forward_us_per_op'))} + {num(med(t, 'floor_backward_us_per_op'))} |"
              f" {tt / floor:.1f} | {pt / floor:.1f} | {med(t, 'copy_gb_per_s'):.1f}, {med(p, 'copy_gb_per_s'):.1f} |"
              f" {'' if target is None else f'≤ {target}'} | {met} |")
        faults = [(shape, op, med(g["settings"][0]["results"], "page_faults_per_op"),
                   med(g["settings"][1]["results"], "page_faults_per_op")) for shape, op, g in steady if g]
        w("\nPage faults per op (tapegrad, PyTorch): " + "; ".join(
            f"{shape_text(s)} {op} {a:.3f}, {b:.3f}" for s, op, a, b in faults) + ".\n")
    if any(g for _, g in gmms):
        w("## ADBench GMM objective and gradient (issue 19)\n")
        w("microsoft/ADBench's Gaussian mixture objective (log-sum-exp over components of the Gaussian"
          " log-likelihood, Q_k = diag(exp(q_k)) + strictly lower entries, Wishart prior with gamma 1, m 0),"
          " float64, written op for op the same way in both frameworks (`bench/gmm.hpp`,"
          " `bench/torch_more.py`): the K products Q_k x_i as one product x Q^T of the K·d rows of Q."
          " Data and parameters from the shared splitmix64 streams. The objective runs without recording"
          " (NoGradGuard / torch.no_grad), the gradient is a recorded forward plus tg::grad /"
          " torch.autograd.grad wrt alphas, means and icf; one untimed pair, then medians of the timed ones"
          " (1 thread, OpenBLAS 1 thread).\n")
        w("Gradient check: `proj` is the largest relative difference between the two frameworks' gradient"
          " projections <g, u> on each leaf (u a fixed U(-1,1) direction); `FD` the relative difference of"
          " each framework's <g, u> from a fourth-order central difference of its objective along u"
          " (h = 5e-4). The target of the check is 1e-8.\n")
        w("| d, K, n | tapegrad objective, gradient (ms) | gradient / objective | PyTorch objective, gradient (ms) |"
          " gradient / objective | tapegrad / PyTorch: objective, gradient | check: proj, FD tapegrad, FD PyTorch |"
          " target: tapegrad's ratio ≤ PyTorch's | met |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for (d, k, n), g in gmms:
            if not g:
                continue
            t, p = g["settings"][0]["results"], g["settings"][1]["results"]
            to, tgr, po, pgr = (med(t, "objective_s"), med(t, "gradient_s"), med(p, "objective_s"),
                                med(p, "gradient_s"))
            tr, pr = med(t, "gradient_over_objective"), med(p, "gradient_over_objective")
            proj = max(abs(float(t[0][k_]) - float(p[0][k_])) / abs(float(p[0][k_]))
                       for k_ in ("proj_alphas", "proj_means", "proj_icf"))
            obj_diff = abs(float(t[0]["objective"]) - float(p[0]["objective"])) / abs(float(p[0]["objective"]))
            w(f"| {d}, {k}, {n} | {to * 1e3:.3g}, {tgr * 1e3:.3g} | {tr:.2f} | {po * 1e3:.3g}, {pgr * 1e3:.3g} |"
              f" {pr:.2f} | {to / po:.2f}, {tgr / pgr:.2f} | {proj:.1e}, {t[0]['fd_rel_err']:.1e},"
              f" {p[0]['fd_rel_err']:.1e} (objectives differ by {obj_diff:.1e}) | {tr:.2f} ≤ {pr:.2f} |"
              f" {'yes' if tr <= pr else 'no'} |")
        w("")
    if any(g for _, g in mlps):
        w("## Wider and other MLPs (issue 19)\n")
        w("Adam (lr 1e-3) training steps on rows sliced from one tensor (no data loader, no shuffle), the same"
          " initial weights in both frameworks, 1 thread (tapegrad's pool of 1, OpenBLAS 1; torch 1 + OpenBLAS 1)."
          " wide: 784-2048-2048-10 ReLU on MNIST, batch 256, 20 steps timed after 3; higgs: 28-300-300-300-300-300-1"
          " tanh, batch 100, binary cross-entropy with logits on 10,000 synthetic rows (x U(-1,1), label"
          " x0·x1 > 0), one epoch after 10 steps; mlp64: the mlp preset in float64, one epoch after 20 steps."
          " The wide GEMM floor runs the 8 sgemm calls of one step on preallocated buffers (workload 4's method).\n")
        w("| workload | unit | tapegrad | PyTorch | tapegrad / PyTorch | mean loss tapegrad, PyTorch |")
        w("| --- | --- | --- | --- | --- | --- |")
        for name, g in mlps:
            if not g:
                continue
            t, p = g["settings"][0]["results"], g["settings"][1]["results"]
            metric = g["settings"][0]["metric"]
            w(f"| {g['title']} | {g['unit']} | {num(med(t, metric)) if metric == 'us_per_step' else f'{med(t, metric):.3f}'}"
              f" | {num(med(p, metric)) if metric == 'us_per_step' else f'{med(p, metric):.3f}'} |"
              f" {med(t, metric) / med(p, metric):.2f} | {med(t, 'mean_loss'):.5f}, {med(p, 'mean_loss'):.5f} |")
        wide, floor = by_key.get("wide@1"), by_key.get("gemm-floor:wide@1")
        if wide and floor:
            t = med(wide["settings"][0]["results"], "us_per_step")
            f = med(floor["settings"][0]["results"], "us_per_step")
            r = floor["settings"][0]["results"][0]
            w(f"| wide MLP step vs its GEMM floor ({r['sgemm_calls_per_step']:.0f} sgemm calls,"
              f" {r['mflop_per_step']:.0f} MFLOP, {med(floor['settings'][0]['results'], 'gflops'):.1f} GFLOP/s) |"
              f" µs/step | {t:.0f} | floor {f:.0f} | {t / f:.2f} (of floor; target ≤ {WIDE_FLOOR_TARGET},"
              f" {'met' if t / f <= WIDE_FLOOR_TARGET else 'not met'}) | |")
        w("")
    if any(g for *_, g in copies):
        w("## Shape-op copies and float32 transcendentals (issue 19)\n")
        w("Each row is one op on float32 tensors made once per process (`tapegrad_bench copies|transcendental"
          " --rows ROW --reps 21`, `torch_bench.py` the same): the median of 21 calls after 3 untimed ones,"
          " each call first dropping the previous result so that the output can reuse its buffer. PyTorch's"
          " copies are `.contiguous()` of the view (or `clone()`). The floor is measured in the same process:"
          " a memcpy of the same bytes between two buffers already touched (`copy_` between two uint8 tensors in"
          " PyTorch), or for the softmax rows that framework's exp of the same size. 1 thread.\n")
        w("| op | tapegrad ms | of its floor | PyTorch ms | of its floor | tapegrad / PyTorch | floor |"
          " target (of floor) | met |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row, text, target, g in copies:
            if not g:
                continue
            t, p = g["settings"][0]["results"], g["settings"][1]["results"]
            tt, pt = med(t, "ms"), med(p, "ms")
            tf, pf = med(t, "over_floor"), med(p, "over_floor")
            met = "" if target is None else "yes" if tf <= target else "no"
            w(f"| {text} | {tt:.3f} | {tf:.2f} | {pt:.3f} | {pf:.2f} | {tt / pt:.2f} | {t[0]['floor']} |"
              f" {'' if target is None else f'≤ {target}'} | {met} |")
        w("")
