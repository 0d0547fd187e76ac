#!/usr/bin/python3
"""PyTorch's side of the benchmark: the same workloads as tapegrad_bench.cpp, one JSON line each.

Run with Debian's python3-torch (/usr/bin/python3); bench/run drives it. Subcommands:

  info                                  versions, thread settings
  mlp     --threads T --blas-threads B  MNIST "mlp" preset: one timed epoch after a warm-up
  nielsen --threads T --blas-threads B  MNIST "nielsen" preset
  chain   --shape 4|256x256             per-op overhead: mul, add, tanh alternating, fwd + bwd
  soak    --steps 1000                  "mlp" steps: RSS and heap at step 100 and at the end
  history --steps 40000                 "nielsen" steps keeping every loss: first vs last 5,000 steps
  prune   --shape 8x16|128x256          4-layer MLP: grad wrt its last hidden layer vs the full backward
  jvp     --reps 200                    "mlp" network's loss: forward pass vs forward-mode jvp vs vjp
  steady, gmm, wide, higgs, mlp64       issue 19's workloads: see torch_more.py

--threads is torch.set_num_threads (ATen's OpenMP pool); --blas-threads is OpenBLAS's own pool
(openblas_set_num_threads on the libopenblas torch has loaded).
"""
import argparse
import ctypes
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MLP = dict(name="mlp", rows=60000, batch=128, sizes=[784, 256, 128, 10])
NIELSEN = dict(name="nielsen", rows=50000, batch=10, sizes=[784, 30, 10])

_libc = ctypes.CDLL("libc.so.6")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


_libc.mallinfo2.restype = _Mallinfo2


def heap_bytes_in_use():
    """Bytes glibc malloc has handed out (torch's CPU allocator uses it; Python's small-object
    arenas do not, so this counts tensors and autograd nodes, not Python wrapper objects)."""
    info = _libc.mallinfo2()
    return float(info.uordblks + info.hblkhd)


def openblas():
    """The libopenblas already loaded by torch (dlopen hands back the same library)."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_num_threads  # noqa: B018 (raises AttributeError if not OpenBLAS)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib
        except (OSError, AttributeError):
            continue
    return None


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def current_rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def reset_peak_rss():
    """Resets the kernel's peak-RSS mark (and ru_maxrss) to the current RSS; False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def uniform_weights(seed, n, bound):
    """Same values as bench::uniform_weights in bench_util.hpp (splitmix64 of (seed << 32) + i)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    u = (x >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return ((2.0 * u - 1.0) * bound).astype(np.float32)


def make_model(sizes, activation):
    """nn.Sequential of Linear layers with `activation` between them, holding the same weights as
    tapegrad_bench.cpp's make_model: parameter i (weight, bias of each layer in order) is stream i
    of uniform_weights, U(-1/sqrt(in), 1/sqrt(in))."""
    layers = []
    for l in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        if l + 2 < len(sizes):
            layers.append(activation())
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            bound = 1.0 / math.sqrt(sizes[i // 2])
            p.copy_(torch.from_numpy(uniform_weights(i, p.numel(), bound)).reshape(p.shape))
    return model


def read_idx(path, header_bytes):
    with open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def load_mnist(data_dir):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte"), 16).reshape(-1, 784)
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte"), 8)
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))
    return x, torch.from_numpy(labels.astype(np.int64))


class Trainer:
    def __init__(self, preset, data_dir):
        self.preset = preset
        self.model = make_model(preset["sizes"], torch.nn.ReLU if preset["name"] == "mlp" else torch.nn.Sigmoid)
        images, labels = load_mnist(data_dir)
        rows = preset["rows"]
        self.images = images[:rows]
        if preset["name"] == "mlp":
            self.labels = labels[:rows]
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        else:
            # Nielsen's network learns one-hot vectors (quadratic cost) with plain SGD, eta = 3.
            self.labels = F.one_hot(labels[:rows], 10).to(torch.float32)
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=3.0)
        self.steps_per_epoch = (rows + preset["batch"] - 1) // preset["batch"]

    def forward(self, step):
        batch = self.preset["batch"]
        begin = (step % self.steps_per_epoch) * batch
        x = self.images[begin:begin + batch]
        y = self.labels[begin:begin + batch]
        if self.preset["name"] == "mlp":
            return F.cross_entropy(self.model(x), y)
        # Nielsen's network has a sigmoid on its output layer too.
        d = torch.sigmoid(self.model(x)) - y
        return (d * d).sum() * (0.5 / x.shape[0])  # tapegrad's quadratic_cost, op for op

    def step_loss(self, step):
        """zero_grad, backward, step; returns the loss tensor (backward freed its saved tensors)."""
        loss = self.forward(step)
        self.optimizer.zero_grad(set_to_none=True)  # tapegrad's default too
        loss.backward()
        self.optimizer.step()
        return loss

    def train_step(self, step):
        return self.step_loss(step).item()


def emit(**fields):
    print(json.dumps(fields), flush=True)


def set_threads(args):
    torch.set_num_threads(args.threads)
    lib = openblas()
    if lib is not None and args.blas_threads:
        lib.openblas_set_num_threads(args.blas_threads)
    return dict(threads=args.threads, torch_threads=torch.get_num_threads(),
                openblas_threads=lib.openblas_get_num_threads() if lib else None,
                omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", ""))


def run_epochs(preset, args):
    threads = set_threads(args)
    trainer = Trainer(preset, args.data)
    rss_before, peak_setup = current_rss_mib(), peak_rss_mib()
    peak_reset = reset_peak_rss()
    for s in range(args.warmup):
        trainer.train_step(s)
    steps = trainer.steps_per_epoch
    for _ in range(args.epochs):
        loss_sum = 0.0
        faults = minor_faults()
        start = time.perf_counter()
        for s in range(steps):
            loss_sum += trainer.train_step(s)
        seconds = time.perf_counter() - start
        faults = minor_faults() - faults
        emit(workload=preset["name"], framework="torch", **threads, epoch_s=seconds, steps=steps,
             us_per_step=seconds / steps * 1e6, mean_loss=loss_sum / steps,
             page_faults_per_step=faults / steps, rss_before_mib=rss_before,
             peak_rss_setup_mib=peak_setup,
             peak_rss_train_mib=peak_rss_mib() if peak_reset else None)


def run_soak(args):
    threads = set_threads(args)
    trainer = Trainer(MLP, args.data)
    mark = min(100, args.steps)
    rss_mark = heap_mark = 0.0
    for s in range(1, args.steps + 1):
        trainer.train_step(s - 1)
        if s == mark:
            rss_mark, heap_mark = current_rss_mib(), heap_bytes_in_use()
    emit(workload="soak", framework="torch", **threads, steps=args.steps, mark_step=mark,
         rss_mark_mib=rss_mark, rss_end_mib=current_rss_mib(), heap_mark_mib=heap_mark / 2 ** 20,
         heap_end_mib=heap_bytes_in_use() / 2 ** 20, peak_rss_mib=peak_rss_mib())


def run_chain_once(x0, c, d, kind, ops):
    """Records `ops` ops from x0 (kind 0: x * c, 1: x + d, 2: tanh(x), -1: the three alternating,
    as workload 3), then sum(x).backward(). Returns the forward and backward seconds, the minor
    page faults and the heap bytes the recorded chain held (read between the timed parts)."""
    x0.grad = None
    heap0 = heap_bytes_in_use()
    faults = minor_faults()
    start = time.perf_counter()
    x = x0
    for i in range(ops):
        r = i % 3 if kind < 0 else kind
        if r == 0:
            x = x * c
        elif r == 1:
            x = x + d
        else:
            x = torch.tanh(x)
    total = x.sum()
    middle = time.perf_counter()
    heap = heap_bytes_in_use() - heap0
    backward_start = time.perf_counter()
    del x
    total.backward()
    end = time.perf_counter()
    return middle - start, end - backward_start, minor_faults() - faults, heap


def run_chain(args):
    torch.set_num_threads(1)
    shape = [int(e) for e in args.shape.split("x")]
    # c = 1, d = 0 keep the gradient above the float denormals (see tapegrad_bench.cpp).
    c, d = torch.full(shape, 1.0), torch.full(shape, 0.0)
    x0 = torch.full(shape, 0.5, requires_grad=True)
    forward_s, backward_s = [], []
    heap_per_op = faults_per_op = 0.0
    for rep in range(args.reps + 1):  # rep 0 warms up (as long as the timed chains by default)
        ops = min(args.ops, args.warmup_ops) if rep == 0 else args.ops
        forward, backward, faults, heap = run_chain_once(x0, c, d, -1, ops)
        heap_per_op, faults_per_op = heap / ops, faults / ops
        if rep == 0:
            continue
        forward_s.append(forward)
        backward_s.append(backward)
    per_op = 1e6 / args.ops
    totals = sorted(f + b for f, b in zip(forward_s, backward_s))
    emit(workload="chain", framework="torch", shape=args.shape, threads=1, ops=args.ops,
         us_per_op=totals[len(totals) // 2] * per_op,
         forward_us_per_op=sorted(forward_s)[len(forward_s) // 2] * per_op,
         backward_us_per_op=sorted(backward_s)[len(backward_s) // 2] * per_op,
         heap_bytes_per_op=heap_per_op, page_faults_per_op=faults_per_op, grad0=float(x0.grad.reshape(-1)[0]),
         peak_rss_mib=peak_rss_mib())


def run_history(args):
    """Same as tapegrad_bench.cpp's run_history: "nielsen" steps keeping every loss tensor (with
    its grad_fn chain), timed in windows of --window steps after an untimed warm-up."""
    if args.window <= 0 or args.steps < args.window or args.steps % args.window:
        sys.exit("--steps must be a positive multiple of --window")
    threads = set_threads(args)
    trainer = Trainer(NIELSEN, args.data)
    for s in range(args.warmup):
        trainer.train_step(s)
    rss_before, heap_before = current_rss_mib(), heap_bytes_in_use()
    peak_reset = reset_peak_rss()
    history = []
    windows = []
    start = window_start = time.perf_counter()
    for s in range(args.steps):
        history.append(trainer.step_loss(s))
        if (s + 1) % args.window == 0:
            now = time.perf_counter()
            windows.append(now - window_start)
            window_start = now
    seconds = time.perf_counter() - start
    rss_end, heap_end = current_rss_mib(), heap_bytes_in_use()
    mean_loss = sum(loss.item() for loss in history) / args.steps  # the plot, after the loop
    emit(workload="history", framework="torch", **threads, steps=args.steps, window=args.window,
         total_s=seconds, us_per_step=seconds / args.steps * 1e6, first_window_s=windows[0],
         last_window_s=windows[-1], last_over_first=windows[-1] / windows[0],
         windows_s=" ".join(f"{w:.6f}" for w in windows), mean_loss=mean_loss,
         rss_before_mib=rss_before, rss_end_mib=rss_end,
         peak_rss_train_mib=peak_rss_mib() if peak_reset else None,
         heap_bytes_per_kept_step=(heap_end - heap_before) / args.steps)


def run_prune(args):
    """Same as tapegrad_bench.cpp's run_prune: on one retained graph of a 4-layer MLP, the median
    time of torch.autograd.grad wrt the last hidden activation h3, wrt every parameter, and of
    backward() into every parameter's .grad."""
    torch.set_num_threads(1)
    batch, width = [int(e) for e in args.shape.split("x")]
    model = make_model([width] * 5, torch.nn.ReLU)
    params = list(model.parameters())
    x = torch.linspace(-1.0, 1.0, batch * width).reshape(batch, width)
    h3 = model[:6](x)  # Linear, ReLU, Linear, ReLU, Linear, ReLU
    out = model[6](h3)
    loss = (out * out).mean()
    input_s, params_s, backward_s = [], [], []
    clock = time.perf_counter
    for r in range(args.warmup + args.reps):
        t0 = clock()
        g_input = torch.autograd.grad(loss, [h3], retain_graph=True)
        t1 = clock()
        g_params = torch.autograd.grad(loss, params, retain_graph=True)
        t2 = clock()
        for p in params:
            p.grad = None  # so backward assigns rather than adds
        t3 = clock()
        loss.backward(retain_graph=True)
        t4 = clock()
        if r < args.warmup:
            continue
        input_s.append(t1 - t0)
        params_s.append(t2 - t1)
        backward_s.append(t4 - t3)
    median = lambda v: sorted(v)[len(v) // 2]
    input_us, params_us, backward_us = median(input_s) * 1e6, median(params_s) * 1e6, median(backward_s) * 1e6
    emit(workload="prune", framework="torch", shape=args.shape, threads=1, reps=args.reps,
         grad_input_us=input_us, grad_params_us=params_us, backward_us=backward_us,
         input_over_backward=input_us / backward_us, input_over_params=input_us / params_us,
         grad_h3_sum=float(g_input[0].sum()), grad_w1_sum=float(g_params[0].sum()))


def run_jvp(args):
    """Same as tapegrad_bench.cpp's run_jvp: the "mlp" network's cross-entropy loss of a fixed
    synthetic batch as a function of its six parameters; median times of the forward pass (with
    and without grad mode), of the JVP along a direction u in forward mode (torch.autograd.forward_ad:
    torch.func is not in 1.13), of the JVP along the input batch, and of the gradient
    (torch.autograd.grad). Also torch.autograd.functional.jvp (the double-backward trick) for reference."""
    import torch.autograd.forward_ad as fwAD
    import torch.autograd.functional as AF
    torch.set_num_threads(1)
    sizes, batch = MLP["sizes"], MLP["batch"]
    params = [p.detach().requires_grad_() for p in make_model(sizes, torch.nn.ReLU).parameters()]
    x = torch.linspace(-1.0, 1.0, batch * sizes[0]).reshape(batch, sizes[0])
    y = torch.arange(batch) % 10

    def loss(inp, p):
        h1 = F.relu(F.linear(inp, p[0], p[1]))
        h2 = F.relu(F.linear(h1, p[2], p[3]))
        return F.cross_entropy(F.linear(h2, p[4], p[5]), y)

    fixed = [p.detach() for p in params]
    u = [torch.from_numpy(uniform_weights(100 + i, p.numel(), 1.0)).reshape(p.shape) for i, p in enumerate(params)]
    u_input = torch.from_numpy(uniform_weights(200, x.numel(), 1.0)).reshape(x.shape)

    def jvp():
        with fwAD.dual_level():
            duals = [fwAD.make_dual(p.detach(), t) for p, t in zip(params, u)]
            out = loss(x, duals)
            return fwAD.unpack_dual(out).primal, fwAD.unpack_dual(out).tangent

    def jvp_input():
        with fwAD.dual_level():
            out = loss(fwAD.make_dual(x, u_input), fixed)
            return fwAD.unpack_dual(out).tangent

    kinds = ("forward", "forward_nograd", "jvp", "jvp_input", "vjp", "functional_jvp")
    times = {k: [] for k in kinds}
    cpu = {k: [] for k in kinds}  # this thread's CPU time (as tapegrad_bench.cpp: less inflated by load)
    for r in range(args.warmup + args.reps):
        t, c = [time.perf_counter()], [time.thread_time()]
        mark = lambda: (t.append(time.perf_counter()), c.append(time.thread_time()))
        value = loss(x, params)
        mark()
        with torch.no_grad():
            loss(x, params)
        mark()
        _, jv = jvp()
        mark()
        jv_input = jvp_input()
        mark()
        grads = torch.autograd.grad(loss(x, params), params)
        mark()
        if r % 10 == 0:  # the double-backward trick is slow: every tenth call
            AF.jvp(lambda *p: loss(x, p), tuple(fixed), tuple(u))
        mark()
        if r < args.warmup:
            continue
        for i, k in enumerate(kinds):
            if k != "functional_jvp" or r % 10 == 0:
                times[k].append(t[i + 1] - t[i])
                cpu[k].append(c[i + 1] - c[i])
    median = lambda v: sorted(v)[len(v) // 2] * 1e6
    us = {k: median(v) for k, v in times.items()}
    cpu_us = {k: median(v) for k, v in cpu.items()}
    emit(workload="jvp", framework="torch", threads=1, reps=args.reps,
         forward_us=us["forward"], forward_nograd_us=us["forward_nograd"], jvp_us=us["jvp"],
         jvp_input_us=us["jvp_input"], vjp_us=us["vjp"], functional_jvp_us=us["functional_jvp"],
         jvp_over_forward=us["jvp"] / us["forward"], jvp_over_forward_nograd=us["jvp"] / us["forward_nograd"],
         jvp_input_over_forward_nograd=us["jvp_input"] / us["forward_nograd"], vjp_over_forward=us["vjp"] / us["forward"],
         forward_cpu_us=cpu_us["forward"], forward_nograd_cpu_us=cpu_us["forward_nograd"], jvp_cpu_us=cpu_us["jvp"],
         jvp_input_cpu_us=cpu_us["jvp_input"], vjp_cpu_us=cpu_us["vjp"], functional_jvp_cpu_us=cpu_us["functional_jvp"],
         cpu_jvp_over_forward=cpu_us["jvp"] / cpu_us["forward"],
         cpu_jvp_over_forward_nograd=cpu_us["jvp"] / cpu_us["forward_nograd"],
         cpu_jvp_input_over_forward_nograd=cpu_us["jvp_input"] / cpu_us["forward_nograd"],
         cpu_vjp_over_forward=cpu_us["vjp"] / cpu_us["forward"],
         loss=float(value), jvp=float(jv), grad_dot_u=float(sum((g * t).sum() for g, t in zip(grads, u))),
         jvp_input=float(jv_input))


def run_info(_args):
    lib = openblas()
    emit(workload="info", framework="torch", torch=torch.__version__, numpy=np.__version__,
         python=sys.version.split()[0],
         openblas_config=lib.openblas_get_config().decode() if lib else None,
         openblas_core=lib.openblas_get_corename().decode() if lib else None,
         openblas_default_threads=lib.openblas_get_num_threads() if lib else None,
         torch_default_threads=torch.get_num_threads(),
         parallel_backend="OpenMP" if "OpenMP" in torch.__config__.parallel_info() else "other")


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("copies", "transcendental"):  # issue 19, at the end of this file
        return copies_main(sys.argv[1:])
    if len(sys.argv) > 1 and sys.argv[1] in ("steady", "gmm", "wide", "higgs", "mlp64"):  # issue 19's workloads
        import torch_more
        return torch_more.main(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["info", "mlp", "nielsen", "chain", "soak", "history", "prune", "jvp"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=0, help="0: leave OpenBLAS as the environment set it")
    parser.add_argument("--data", default="datasets/mnist")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before the epoch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--shape", default=None, help="chain: 4 or 256x256 (default 4); prune: BATCHxWIDTH (default 8x16)")
    parser.add_argument("--ops", type=int, default=10000)
    parser.add_argument("--warmup-ops", type=int, default=None, help="length of the warm-up chain (default: --ops)")
    parser.add_argument("--reps", type=int, default=None, help="timed chains (default 5) or prune calls (default 1000)")
    parser.add_argument("--steps", type=int, default=None, help="soak (default 1000) or history (default 40000) steps")
    parser.add_argument("--window", type=int, default=5000, help="history: steps per timed window")
    args = parser.parse_args()
    if args.warmup_ops is None:
        args.warmup_ops = args.ops
    if args.warmup is None:
        args.warmup = 200 if args.command in ("nielsen", "history") else 10 if args.command == "jvp" else 20
    if args.shape is None:
        args.shape = "8x16" if args.command == "prune" else "4"
    if args.reps is None:
        args.reps = 1000 if args.command == "prune" else 200 if args.command == "jvp" else 5
    if args.steps is None:
        args.steps = 40000 if args.command == "history" else 1000
    {"info": run_info, "mlp": lambda a: run_epochs(MLP, a), "nielsen": lambda a: run_epochs(NIELSEN, a),
     "chain": run_chain, "soak": run_soak, "history": run_history, "prune": run_prune,
     "jvp": run_jvp}[args.command](args)


# ---- Issue 19: shape-op copies and float32 transcendentals against their floors -----------------
# The same rows as bench/copies_bench.cpp (tapegrad_bench copies|transcendental); bench/copies_compare.py
# runs both side by side. Materialising copies are written as PyTorch users write them
# (.contiguous() after a view); each call first drops the previous result, as in tapegrad's.

def copies_uniform(shape, seed, center, half):
    """float32 values center + half * uniform_weights(seed): the same as copies_bench.cpp's."""
    w = uniform_weights(seed, math.prod(shape), 1.0).astype(np.float64)
    return torch.from_numpy((center + half * w).astype(np.float32)).reshape(shape)


def copies_time(reps, call):
    for _ in range(3):
        call()
    ms = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        ms.append((time.perf_counter() - start) * 1e3)
    ms.sort()
    return ms[len(ms) // 2], ms[0]


def copies_memcpy(nbytes, reps):
    src, dst = torch.ones(nbytes, dtype=torch.uint8), torch.zeros(nbytes, dtype=torch.uint8)
    return copies_time(reps, lambda: dst.copy_(src))


def copies_wanted(args):
    """The rows --rows selects, or None for all of them."""
    return None if args.rows == "all" else set(args.rows.split(","))


def copies_run_rows(workload, args, rows):
    torch.set_num_threads(args.threads)
    wanted = copies_wanted(args)
    floors = {r[1] for r in rows if wanted is None or r[0] in wanted}  # floors of the selected rows only
    done, memcpy_ms = {}, {}
    for name, floor, nbytes, op in rows:
        if wanted is not None and name not in wanted and name not in floors:
            continue
        if floor == "memcpy":
            if nbytes not in memcpy_ms:
                memcpy_ms[nbytes] = copies_memcpy(nbytes, args.reps)[0]
            floor_ms, floor_name = memcpy_ms[nbytes], f"memcpy {nbytes >> 10} KiB"
        else:
            floor_ms, floor_name = done[floor], floor
        keep = [None]

        def call():
            keep[0] = None  # dropped first, so the output can reuse its buffer, as copy_'s does
            keep[0] = op()
        median, least = copies_time(args.reps, call) if op else copies_memcpy(nbytes, args.reps)
        done[name] = median
        if wanted is not None and name not in wanted:
            continue
        fields = dict(workload=workload, framework="torch", row=name, threads=args.threads, ms=median, min_ms=least,
                      floor=floor_name, floor_ms=floor_ms, over_floor=median / floor_ms)
        if keep[0] is not None:
            fields["checksum"] = float(keep[0].double().sum())
        emit(**fields)


def run_copies(args):
    mib = 1 << 20
    x = copies_uniform((4096, 512), 1, 0, 1)
    heads = copies_uniform((32, 128, 8, 64), 2, 0, 1)
    column, row = copies_uniform((4096, 1), 3, 0, 1), copies_uniform((512,), 4, 0, 1)
    cube, cube_mean = copies_uniform((64, 512, 64), 5, 0, 1), copies_uniform((64, 1, 64), 6, 0, 1)
    logits = copies_uniform((4096, 1024), 7, 0, 4)
    logits_middle = copies_uniform((64, 1024, 64), 8, 0, 4)

    wanted = copies_wanted(args)

    def made_for(row, shape, seed):  # 64 MiB, past the last-level cache of most CPUs: made only when run
        return copies_uniform(shape, seed, 0, 1) if wanted is None or row in wanted else None
    big_x = made_for("transpose_8192x2048", (8192, 2048), 9)
    big_heads = made_for("permute_3210_256x128x8x64", (256, 128, 8, 64), 10)
    copies_run_rows("copies", args, [
        ("memcpy_8MiB", "memcpy", 8 * mib, None),
        ("copy_4096x512", "memcpy", 8 * mib, lambda: x.clone()),
        ("transpose_4096x512", "memcpy", 8 * mib, lambda: x.t().contiguous()),
        ("permute_0213_32x128x8x64", "memcpy", 8 * mib, lambda: heads.permute(0, 2, 1, 3).contiguous()),
        ("permute_3210_32x128x8x64", "memcpy", 8 * mib, lambda: heads.permute(3, 2, 1, 0).contiguous()),
        ("transpose_8192x2048", "memcpy", 64 * mib, lambda: big_x.t().contiguous()),
        ("permute_3210_256x128x8x64", "memcpy", 64 * mib, lambda: big_heads.permute(3, 2, 1, 0).contiguous()),
        ("expand_4096x1_to_4096x512", "memcpy", 8 * mib, lambda: column.expand(4096, 512).contiguous()),
        ("expand_512_to_4096x512", "memcpy", 8 * mib, lambda: row.expand(4096, 512).contiguous()),
        ("sub_64x512x64_minus_64x1x64", "memcpy", 8 * mib, lambda: cube - cube_mean),
        ("sum_64x512x64_axis1", "memcpy", 8 * mib, lambda: cube.sum(1, keepdim=True)),
        ("exp_4096x1024", "memcpy", 16 * mib, lambda: torch.exp(logits)),
        ("softmax_4096x1024", "exp_4096x1024", 0, lambda: torch.softmax(logits, -1)),
        ("log_softmax_4096x1024", "exp_4096x1024", 0, lambda: torch.log_softmax(logits, -1)),
        ("softmax_64x1024x64_axis1", "exp_4096x1024", 0, lambda: torch.softmax(logits_middle, 1)),
    ])


def run_transcendental(args):
    n = 1 << 20
    x = copies_uniform((n,), 11, 0, 4)
    positive = copies_uniform((n,), 12, 5.05, 4.95)
    copies_run_rows("transcendental", args, [
        ("memcpy_4MiB", "memcpy", 4 * n, None),
        ("exp_1M", "memcpy", 4 * n, lambda: torch.exp(x)),
        ("tanh_1M", "memcpy", 4 * n, lambda: torch.tanh(x)),
        ("sigmoid_1M", "memcpy", 4 * n, lambda: torch.sigmoid(x)),
        ("log_1M", "memcpy", 4 * n, lambda: torch.log(positive)),
    ])


def copies_main(argv):
    parser = argparse.ArgumentParser(prog="torch_bench.py " + argv[0])
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", default="all")
    args = parser.parse_args(argv[1:])
    (run_copies if argv[0] == "copies" else run_transcendental)(args)


if __name__ == "__main__":
    main()
