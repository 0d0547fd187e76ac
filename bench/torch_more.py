"""PyTorch's side of the issue 19 workloads (tapegrad's: bench/steady.hpp, gmm.hpp, mlp_more.hpp).

torch_bench.py hands these subcommands over to main() here:

  steady --shape 256x256 --op mul|add|tanh|mixed   chains of 300 ops, freed and repeated; per-op times
                                                    and the bandwidth floor (copy_ of that size)
  gmm --d 2 --k 5 --n 1000                          ADBench's GMM objective and its gradient, float64
  wide | higgs | mlp64 [--steps S]                  Adam training steps of the wider/other MLPs
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import torch_bench as tb

COMMANDS = ("steady", "gmm", "wide", "higgs", "mlp64")


def median(values):
    return sorted(values)[len(values) // 2]


# ---- Steady-state per-op rows ----------------------------------------------------------------------

TRAFFIC = dict(mul=(3.0, 3.0), add=(3.0, 0.0), tanh=(2.0, 3.0), mixed=((3 + 3 + 2) / 3, (3 + 0 + 3) / 3))


def copy_bandwidth(numel):
    """Median bytes read + written per second of dst.copy_(src) for float32 tensors of numel."""
    a, b = torch.full([numel], 1.0), torch.full([numel], 2.0)
    b.copy_(a)
    nbytes = numel * 4
    per_round = max(1, (1 << 22) // max(nbytes, 1))
    rounds = []
    for _ in range(15):
        start = time.perf_counter()
        for i in range(per_round):
            if i % 2:
                a.copy_(b)
            else:
                b.copy_(a)
        rounds.append((time.perf_counter() - start) / per_round)
    return 2.0 * nbytes / median(rounds)


def run_steady(args):
    """Same as bench/steady.hpp's run_steady."""
    torch.set_num_threads(1)
    shape = [int(e) for e in args.shape.split("x")]
    c, d = torch.full(shape, 1.0), torch.full(shape, 0.0)
    x0 = torch.full(shape, 0.5, requires_grad=True)
    kind = dict(mul=0, add=1, tanh=2, mixed=-1)[args.op]
    forward_s, backward_s = [], []
    faults_per_op = 0.0
    for rep in range(args.warmup + args.reps):
        forward, backward, faults, _ = tb.run_chain_once(x0, c, d, kind, args.ops)
        faults_per_op = faults / args.ops
        if rep < args.warmup:
            continue
        forward_s.append(forward)
        backward_s.append(backward)
    per_op = 1e6 / args.ops
    numel = x0.numel()
    bandwidth = copy_bandwidth(numel)
    fwd, bwd = TRAFFIC[args.op]
    nbytes = numel * 4
    tb.emit(workload="steady", framework="torch", shape=args.shape, op=args.op, threads=1, ops=args.ops,
            reps=args.reps, us_per_op=median([f + b for f, b in zip(forward_s, backward_s)]) * per_op,
            forward_us_per_op=median(forward_s) * per_op, backward_us_per_op=median(backward_s) * per_op,
            copy_gb_per_s=bandwidth / 1e9, floor_forward_us_per_op=fwd * nbytes / bandwidth * 1e6,
            floor_backward_us_per_op=bwd * nbytes / bandwidth * 1e6,
            floor_us_per_op=(fwd + bwd) * nbytes / bandwidth * 1e6, page_faults_per_op=faults_per_op,
            grad0=float(x0.grad.reshape(-1)[0]), peak_rss_mib=tb.peak_rss_mib())


# ---- ADBench GMM ------------------------------------------------------------------------------------

def multigammaln(a, p):
    return 0.25 * p * (p - 1) * math.log(math.pi) + sum(math.lgamma(a + 0.5 * (1 - j)) for j in range(1, p + 1))


class Gmm:
    """Same as bench/gmm.hpp's GmmProblem, op for op."""

    def __init__(self, d, k, n):
        self.d, self.k, self.n = d, k, n
        self.gamma, self.m = 1.0, 0.0
        lower = d * (d - 1) // 2

        def leaf(seed, shape, bound):
            v = tb.uniform_weights(seed, int(np.prod(shape)), bound).astype(np.float64)
            return torch.from_numpy(v).reshape(shape)

        self.alphas = leaf(300, [k], 1.0).requires_grad_()
        self.means = leaf(301, [k, d], 1.0).requires_grad_()
        self.icf = leaf(302, [k, d + lower], 0.5).requires_grad_()
        self.x = leaf(303, [n, d], 1.0)
        index = np.zeros(d * d, dtype=np.int64)
        for r in range(d):
            index[r * d + r] = 1 + r
        nxt = 0
        for col in range(d):
            for row in range(col + 1, d):
                index[row * d + col] = 1 + d + nxt
                nxt += 1
        self.gather_index = torch.from_numpy(index)

    def objective(self, a, mu, f):
        d, k, n = self.d, self.k, self.n
        q = f[:, :d]
        lower = f[:, d:]
        qdiag = torch.exp(q)
        sum_qs = torch.sum(q, 1)
        entries = torch.cat([torch.zeros(k, 1, dtype=torch.float64), qdiag, lower], 1)
        Q = torch.index_select(entries, 1, self.gather_index).reshape(k * d, d)
        Qmu = torch.bmm(Q.reshape(k, d, d), mu.reshape(k, d, 1)).reshape(k * d)
        z = torch.mm(self.x, Q.t()) - Qmu
        sq = torch.sum((z * z).reshape(n, k, d), 2)
        inner = (a + sum_qs) - sq * 0.5
        slse = torch.sum(torch.logsumexp(inner, 1))
        constant = -n * d * 0.5 * math.log(2.0 * math.pi)
        nw = d + self.m + 1.0
        C = nw * d * math.log(self.gamma / math.sqrt(2.0)) - multigammaln(0.5 * nw, d)
        frobenius = torch.sum(qdiag * qdiag) + torch.sum(lower * lower)
        prior = frobenius * (0.5 * self.gamma * self.gamma) - torch.sum(sum_qs) * self.m - k * C
        return slse - torch.logsumexp(a, 0) * n + prior + constant


def run_gmm(args):
    """Same as bench/gmm.hpp's run_gmm: objective under no_grad and gradient (recorded forward +
    torch.autograd.grad), alternating, median of --reps after one untimed pair."""
    torch.set_num_threads(1)
    lib = tb.openblas()
    if lib is not None:
        lib.openblas_set_num_threads(1)
    p = Gmm(args.d, args.k, args.n)
    leaves = [p.alphas, p.means, p.icf]
    u = [torch.from_numpy(tb.uniform_weights(310 + i, t.numel(), 1.0).astype(np.float64)).reshape(t.shape)
         for i, t in enumerate(leaves)]
    objective_s, gradient_s = [], []
    value, g = None, None
    for r in range(args.reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            value = float(p.objective(*leaves))
        t1 = time.perf_counter()
        g = torch.autograd.grad(p.objective(*leaves), leaves)
        t2 = time.perf_counter()
        if r == 0:
            continue
        objective_s.append(t1 - t0)
        gradient_s.append(t2 - t1)
    proj = [float(torch.sum(gi * ui)) for gi, ui in zip(g, u)]
    with torch.no_grad():
        h = args.fd_h
        at = lambda s: float(p.objective(*[t + ui * s for t, ui in zip(leaves, u)]))
        fd = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h)
    obj, grad = median(objective_s), median(gradient_s)
    exact = lambda v: f"{v:.17g}"
    tb.emit(workload="gmm", framework="torch", threads=1, d=args.d, k=args.k, n=args.n, reps=args.reps,
            objective_s=obj, gradient_s=grad, gradient_over_objective=grad / obj, objective_us=obj * 1e6,
            gradient_us=grad * 1e6, objective=exact(value),
            proj_alphas=exact(proj[0]), proj_means=exact(proj[1]), proj_icf=exact(proj[2]),
            fd_directional=exact(fd), fd_rel_err=abs(fd - sum(proj)) / abs(sum(proj)),
            peak_rss_mib=tb.peak_rss_mib())


# ---- Wider and other MLPs ----------------------------------------------------------------------------

WORKLOADS = dict(
    wide=dict(sizes=[784, 2048, 2048, 10], batch=256, tanh=False, mnist=True, dtype=torch.float32),
    higgs=dict(sizes=[28, 300, 300, 300, 300, 300, 1], batch=100, tanh=True, mnist=False, dtype=torch.float32),
    mlp64=dict(sizes=[784, 256, 128, 10], batch=128, tanh=False, mnist=True, dtype=torch.float64),
)
HIGGS_ROWS = 10000


def higgs_data(rows):
    """Same as mlp_more.hpp's higgs_data."""
    x = tb.uniform_weights(500, rows * 28, 1.0).reshape(rows, 28)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float32).reshape(rows, 1)
    return torch.from_numpy(x), torch.from_numpy(y)


def run_mlp_workload(name, args):
    """Same as mlp_more.hpp's run_mlp_workload."""
    w = WORKLOADS[name]
    threads = tb.set_threads(args)
    if w["mnist"]:
        x, y = tb.load_mnist(args.data)
        x = x.to(w["dtype"])
    else:
        x, y = higgs_data(HIGGS_ROWS)
    model = tb.make_model(w["sizes"], torch.nn.Tanh if w["tanh"] else torch.nn.ReLU).to(w["dtype"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows, batch = x.shape[0], w["batch"]
    per_epoch = (rows + batch - 1) // batch

    def step(s):
        begin = (s % per_epoch) * batch
        xb, yb = x[begin:begin + batch], y[begin:begin + batch]
        out = model(xb)
        loss = F.cross_entropy(out, yb) if w["mnist"] else F.binary_cross_entropy_with_logits(out, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    for s in range(args.warmup):
        step(s)
    steps = args.steps or per_epoch
    loss_sum = 0.0
    faults = tb.minor_faults()
    start = time.perf_counter()
    for s in range(steps):
        loss_sum += step(s)
    seconds = time.perf_counter() - start
    tb.emit(workload=name, framework="torch", **threads, dtype=str(w["dtype"]).replace("torch.", ""), steps=steps,
            steps_per_epoch=per_epoch, seconds=seconds, us_per_step=seconds / steps * 1e6,
            epoch_s=seconds / steps * per_epoch, mean_loss=loss_sum / steps,
            page_faults_per_step=(tb.minor_faults() - faults) / steps, peak_rss_mib=tb.peak_rss_mib())


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=0, help="0: leave OpenBLAS as the environment set it")
    parser.add_argument("--data", default="datasets/mnist")
    parser.add_argument("--shape", default="256x256")
    parser.add_argument("--op", default="mixed", choices=sorted(TRAFFIC))
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--reps", type=int, default=None, help="steady: timed chains (20); gmm: timed pairs (5)")
    parser.add_argument("--steps", type=int, default=0, help="MLPs: timed steps (0: one epoch)")
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--fd-h", type=float, default=5e-4, help="gmm: step of the finite difference")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 20 if args.command == "steady" else 5
    if args.command == "steady":
        run_steady(args)
    elif args.command == "gmm":
        run_gmm(args)
    else:
        run_mlp_workload(args.command, args)
