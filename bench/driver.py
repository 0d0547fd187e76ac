"""Runs tapegrad_bench and torch_bench.py side by side and writes bench/RESULTS.md.

Called by bench/run after the build (see there for the options). Every workload runs in a fresh
process per run; the runs of tapegrad and of each PyTorch setting alternate (the order flips every
round), and each cell of the table is the median over the runs with the min-max beside it.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys

import driver_more
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TG = os.path.join(ROOT, "build", "bench-release", "bench", "tapegrad_bench")
TORCH = ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_bench.py")]


def tg(*args):
    return [TG, *args]


def torch(*args):
    return [*TORCH, *args]


def setting(label, framework, cmd, blas_threads, metric, extra_env=None):
    env = {"OPENBLAS_NUM_THREADS": str(blas_threads)}
    env.update(extra_env or {})
    return dict(label=label, framework=framework, cmd=cmd, env=env, metric=metric, results=[])


def make_groups(args):
    """Each group is one row of the table: tapegrad's setting first, then PyTorch's (or the floor)."""
    data = ["--data", args.data]
    chain_small = ["--reps", "2" if args.quick else "5"]
    groups = []
    for budget in (1, 2):
        torch_settings = [setting("torch 1 + OpenBLAS 1", "torch",
                                  torch("mlp", "--threads", "1", "--blas-threads", "1", *data), 1, "epoch_s")]
        if budget == 2:
            torch_settings = [
                setting("torch 1 + OpenBLAS 2", "torch",
                        torch("mlp", "--threads", "1", "--blas-threads", "2", *data), 2, "epoch_s"),
                setting("torch 2 + OpenBLAS 2", "torch",
                        torch("mlp", "--threads", "2", "--blas-threads", "2", *data), 2, "epoch_s"),
                setting("torch 2 + OpenBLAS 2, OMP_WAIT_POLICY=PASSIVE", "torch",
                        torch("mlp", "--threads", "2", "--blas-threads", "2", *data), 2, "epoch_s",
                        {"OMP_WAIT_POLICY": "PASSIVE"}),
            ]
        groups.append(dict(
            key=f"mlp@{budget}", title=f"1. MNIST mlp epoch, {budget} thread{'s' * (budget > 1)}", unit="s/epoch",
            target=0.8, settings=[setting(f"{budget} thread{'s' * (budget > 1)}", "tapegrad",
                                          tg("mlp", "--threads", str(budget), *data), budget, "epoch_s"),
                                  *torch_settings]))
    groups.append(dict(
        key="nielsen@1", title="2. MNIST nielsen epoch, 1 thread", unit="s/epoch", target=0.3,
        settings=[setting("1 thread", "tapegrad", tg("nielsen", "--threads", "1", *data), 1, "epoch_s"),
                  setting("torch 1 + OpenBLAS 1", "torch",
                          torch("nielsen", "--threads", "1", "--blas-threads", "1", *data), 1, "epoch_s")]))
    for shape, target, reps in (("4", 0.25, chain_small), ("256x256", 0.5, ["--reps", "1"])):
        groups.append(dict(
            key=f"chain:{shape}",
            title=f"3. chain of 10,000 ops on ({shape.replace('x', ',')}{',' * (shape == '4')}), fwd+bwd"
                  f"{' (memory pressure: the forward holds 10,000 outputs)' * (shape != '4')}",
            unit="µs/op", target=target,
            settings=[setting("1 thread", "tapegrad", tg("chain", "--shape", shape, *reps), 1, "us_per_op"),
                      setting("1 thread", "torch", torch("chain", "--shape", shape, *reps), 1, "us_per_op")]))
    for budget in (1, 2):
        groups.append(dict(
            key=f"gemm@{budget}", title=f"4. GEMM floor of the mlp epoch, {budget} thread{'s' * (budget > 1)}",
            unit="s/epoch", target=None,
            settings=[setting(f"OpenBLAS {budget}", "openblas", tg("gemm", "--threads", str(budget)), budget,
                              "epoch_s")]))
    # Workloads 5 and 6 check the engine's costs rather than raw speed: their targets are on ratios
    # within one framework (engine(), below); the speed table compares their absolute times.
    groups.append(dict(
        key="history", title="5. nielsen training keeping every step's loss, 40,000 steps, 1 thread",
        unit="µs/step", target=None,
        settings=[setting("1 thread", "tapegrad", tg("history", "--threads", "1", *data), 1, "us_per_step"),
                  setting("torch 1 + OpenBLAS 1", "torch",
                          torch("history", "--threads", "1", "--blas-threads", "1", *data), 1, "us_per_step")]))
    for shape, reps in (("8x16", "1000"), ("128x256", "200")):
        groups.append(dict(
            key=f"prune:{shape}", title=f"6. grad wrt the last hidden layer of a 4-layer MLP, ({shape.replace('x', ',')})",
            unit="µs/call", target=None,
            settings=[setting("1 thread", "tapegrad", tg("prune", "--shape", shape, "--reps", reps), 1, "grad_input_us"),
                      setting("1 thread", "torch", torch("prune", "--shape", shape, "--reps", reps), 1, "grad_input_us")]))
    groups.append(dict(
        key="jvp", title="7. forward-mode jvp of the mlp loss along its 235k parameters, batch 128",
        unit="µs/call", target=None,
        settings=[setting("1 thread", "tapegrad", tg("jvp"), 1, "jvp_us"),
                  setting("1 thread", "torch", torch("jvp"), 1, "jvp_us")]))
    groups += driver_more.groups(args, setting, tg, torch)  # issue 19: steady state, GMM, wider MLPs
    return groups


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def run(cmd, env_overrides, log):
    env = dict(os.environ)
    env.update(env_overrides)
    line = " ".join(f"{k}={v}" for k, v in env_overrides.items()) + " " + shlex.join(cmd)
    load = loadavg()[0]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    log.write(f"$ {line}\n{proc.stdout}{proc.stderr}")
    log.flush()
    if proc.returncode != 0:
        sys.exit(f"bench: failed ({proc.returncode}): {line}\n{proc.stderr}")
    results = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    for r in results:
        r["load1_at_start"] = load
    return results


def stats(values):
    return dict(median=statistics.median(values), min=min(values), max=max(values), n=len(values))


def fmt(x, unit):
    if x is None:
        return "–"
    if unit.startswith("µs/"):
        return f"{x:.2f}" if x < 100 else f"{x:.0f}"
    return f"{x:.3f}"


def cell(s, unit):
    return f"{fmt(s['median'], unit)} ({fmt(s['min'], unit)}–{fmt(s['max'], unit)})"


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine_info():
    lscpu = command_output(["lscpu"])
    fields = dict(l.split(":", 1) for l in lscpu.splitlines() if ":" in l)
    get = lambda k: fields.get(k, "?").strip()
    mem = command_output(["sh", "-c", "free -g | awk '/Mem:/ {print $2}'"])
    return dict(model=get("Model name"), cpus=get("CPU(s)"), threads_per_core=get("Thread(s) per core"),
                cores=get("Core(s) per socket"), memory_gib=mem, kernel=platform.release())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", default="datasets/mnist")
    parser.add_argument("--only", default="", help="comma-separated group keys (mlp@1, chain:4, ...)")
    parser.add_argument("--no-soak", action="store_true")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    parser.add_argument("--render", metavar="RESULTS_JSON",
                        help="rewrite the report from a saved build/bench-release/results.json without running anything")
    args = parser.parse_args()
    runs = 2 if args.quick and args.runs == 5 else args.runs

    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        report = render(saved["groups"], saved["soak"], argparse.Namespace(**saved["args"]), saved["runs"],
                        datetime.datetime.fromisoformat(saved["started"]), saved["start_load"], saved["end_load"],
                        saved["loads"], saved["info_tg"], saved["info_torch"], saved["argv"])
        print(report)
        with open(args.output, "w") as f:
            f.write(report)
        return
    groups = make_groups(args)
    if args.only:
        keep = set(args.only.split(","))
        groups = [g for g in groups if g["key"] in keep]
    log_path = os.path.join(ROOT, "build", "bench-release", "bench-log.txt")
    log = open(log_path, "w")
    start_load = command_output(["uptime"])
    started = datetime.datetime.now().astimezone()
    info_tg = run(tg("info"), {}, log)[0]
    info_torch = run(torch("info"), {}, log)[0]
    info_tg["machine"] = machine_info()
    info_tg["commit"] = command_output(["git", "rev-parse", "--short", "HEAD"])
    info_tg["dirty"] = bool(command_output(["git", "status", "--porcelain", "--untracked-files=no"]))
    loads = []
    for r in range(runs):
        for g in groups:
            order = g["settings"] if r % 2 == 0 else list(reversed(g["settings"]))
            for s in order:
                res = run(s["cmd"], s["env"], log)
                s["results"] += res
                loads += [x["load1_at_start"] for x in res]
                print(f"run {r + 1}/{runs}  {g['key']:<12} {s['framework']:<9} {s['label']:<46} "
                      f"{s['metric']}={res[0][s['metric']]:.4g}", flush=True)
    soak = []
    if not args.no_soak and not args.only:
        soak.append(run(tg("soak", "--threads", "1", "--data", args.data), {"OPENBLAS_NUM_THREADS": "1"}, log)[0])
        soak.append(run(torch("soak", "--threads", "1", "--blas-threads", "1", "--data", args.data),
                        {"OPENBLAS_NUM_THREADS": "1"}, log)[0])
    end_load = command_output(["uptime"])
    info_tg["first_touch_end"] = run(tg("info"), {}, log)[0]["first_touch_us_per_page"]
    argv = sys.argv[1:]
    with open(os.path.join(ROOT, "build", "bench-release", "results.json"), "w") as f:
        json.dump(dict(groups=groups, soak=soak, args=vars(args), runs=runs, started=started.isoformat(),
                       start_load=start_load, end_load=end_load, loads=loads, info_tg=info_tg,
                       info_torch=info_torch, argv=argv), f)
    report = render(groups, soak, args, runs, started, start_load, end_load, loads, info_tg, info_torch, argv)
    print()
    print(report)
    if not args.only:
        with open(args.output, "w") as f:
            f.write(report)
        print(f"bench: wrote {os.path.relpath(args.output, ROOT)} (raw JSON lines in {os.path.relpath(log_path, ROOT)},"
              " all results in build/bench-release/results.json)")


def render(groups, soak, args, runs, started, start_load, end_load, loads, info_tg, info_torch, argv):
    by_key = {g["key"]: g for g in groups}
    for g in groups:
        for s in g["settings"]:
            s["stats"] = stats([r[s["metric"]] for r in s["results"]])
    out = []
    w = out.append
    machine = info_tg["machine"]
    commit, dirty = info_tg["commit"], " (with uncommitted changes)" if info_tg["dirty"] else ""
    w("# tapegrad vs PyTorch: benchmark results\n")
    w(f"Measured {started:%Y-%m-%d %H:%M %Z} at commit `{commit}`{dirty} with"
      f" `{shlex.join(['bash', 'bench/run', *argv])}`: "
      f"{runs} runs of each setting, alternating, each in a fresh process. Cells are "
      "median (min–max) over the runs; ratios are of medians.\n")
    w("## Machine and load\n")
    w(f"- CPU: {machine['model']}, {machine['cpus']} CPUs ({machine['cores']} cores × {machine['threads_per_core']} "
      f"thread per core), {machine['memory_gib']} GiB memory, Linux {machine['kernel']}")
    w(f"- Load at start: `{start_load}`")
    w(f"- Load at end: `{end_load}`")
    if loads:
        w(f"- 1-minute load average when each run started: median {statistics.median(loads):.2f}, "
          f"max {max(loads):.2f} (on {machine['cpus']} CPUs; above ~0.5 other processes were competing "
          "for the cores and the times are inflated and noisy)")
    w(f"- First touch of fresh memory (mmap, one write per 4 KiB page): {info_tg['first_touch_us_per_page']:.1f} µs"
      f" per page at the start, {info_tg['first_touch_end']:.1f} µs at the end. Every page a framework takes"
      " fresh from the kernel costs this, so page faults per step are reported below.")
    w("")
    w("## Versions and thread settings\n")
    w(f"- tapegrad: {info_tg['build']}, {info_tg['compiler']}")
    w(f"- PyTorch {info_torch['torch']} (Debian python3-torch, ATen parallel backend {info_torch['parallel_backend']}),"
      f" Python {info_torch['python']}, NumPy {info_torch['numpy']}")
    w(f"- OpenBLAS (both): `{info_tg['openblas_config']}`, kernel `{info_tg['openblas_core']}`"
      f"{' (same library in the torch process)' if info_torch.get('openblas_config') == info_tg['openblas_config'] else ''}")
    if "blas" in info_tg:
        w(f"- tapegrad's BLAS (`tg::blas_info()`): {info_tg['blas']}")
    env = {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    w("- Environment, left as found for both frameworks: " + ", ".join(f"`{k}={v}`" for k, v in env.items()))
    w("- Threads: tapegrad's setting `N threads` is `tg::set_num_threads(N)`: its own pool of N threads splits"
      " large products (one single-threaded OpenBLAS call per thread) and long elementwise loops, and OpenBLAS"
      " runs on one thread; the GEMM floor uses OpenBLAS's own pool at N (`openblas_set_num_threads`)."
      " PyTorch settings are written `torch T + OpenBLAS B`: `torch.set_num_threads(T)` (ATen's OpenMP pool)"
      " and OpenBLAS's own pool at B. `OMP_WAIT_POLICY` is unset unless the setting says otherwise.\n")

    w("## Speed\n")
    w("| workload | unit | tapegrad | PyTorch (best setting) | tapegrad / PyTorch | ratio of minimums | target | met |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")
    verdicts = []
    for g in groups:
        tg_s = [s for s in g["settings"] if s["framework"] == "tapegrad"]
        torch_s = [s for s in g["settings"] if s["framework"] == "torch"]
        if not tg_s:
            continue
        best = min(torch_s, key=lambda s: s["stats"]["median"])
        ratio = tg_s[0]["stats"]["median"] / best["stats"]["median"]
        met = ratio <= g["target"] if g["target"] is not None else None
        verdicts.append((g["title"], ratio, g["target"], met))
        min_ratio = tg_s[0]["stats"]["min"] / best["stats"]["min"]
        target = f"≤ {g['target']}" if g["target"] is not None else "–"
        verdict = "–" if met is None else "yes" if met else "no"
        w(f"| {g['title']} | {g['unit']} | {cell(tg_s[0]['stats'], g['unit'])} | {cell(best['stats'], g['unit'])} "
          f"[{best['label']}] | {ratio:.2f} | {min_ratio:.2f} | {target} | {verdict} |")
    for budget in (1, 2):
        g, floor = by_key.get(f"mlp@{budget}"), by_key.get(f"gemm@{budget}")
        if g and floor:
            t = g["settings"][0]["stats"]["median"]
            f_ = floor["settings"][0]["stats"]["median"]
            t_min, f_min = g["settings"][0]["stats"]["min"], floor["settings"][0]["stats"]["min"]
            w(f"| 1. mlp epoch vs GEMM floor, {budget} thread{'s' * (budget > 1)} | s/epoch | "
              f"{cell(g['settings'][0]['stats'], 's')} | floor {cell(floor['settings'][0]['stats'], 's')} | "
              f"{t / f_:.2f} (of floor) | {t_min / f_min:.2f} | ≤ 1.3 | {'yes' if t / f_ <= 1.3 else 'no'} |")
    w("")
    w("Targets are judged on the ratio of medians. On a loaded machine the ratio of the fastest runs"
      " (minimums) is the less disturbed estimate, and is shown beside it.\n")
    cpus = int(machine["cpus"]) if str(machine["cpus"]).isdigit() else 0
    if loads and cpus and statistics.median(loads) > cpus:
        w(f"**Caution:** the load average (median {statistics.median(loads):.1f}) exceeded the {cpus} CPUs during"
          " this run, so other processes took a large and varying share of the cores: the yes/no verdicts"
          " above are not reliable, least of all at 2 threads, where both frameworks' thread pools competed"
          " with them. Rerun `bash bench/run` on an idle machine before acting on a verdict.\n")
    w("Every setting measured (PyTorch's are all listed; the best per thread budget is the one compared):\n")
    w("| workload | framework | setting | median | min | max | runs |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for g in groups:
        for s in g["settings"]:
            st = s["stats"]
            w(f"| {g['title']} ({g['unit']}) | {s['framework']} | {s['label']} | {fmt(st['median'], g['unit'])} | "
              f"{fmt(st['min'], g['unit'])} | {fmt(st['max'], g['unit'])} | {st['n']} |")
    w("")
    engine(w, by_key)
    details(w, by_key)
    driver_more.render(w, by_key)
    memory(w, by_key, soak)
    w("## Notes on the method\n")
    w("- Workloads 1 and 2 hold MNIST in memory as one float32 tensor; each step takes its batch as"
      " rows `[i*B, (i+1)*B)` in order (no shuffle; the last batch is short), which in tapegrad is a"
      " copy (`tg::slice`) and in PyTorch a view. Both start from the same weights (splitmix64"
      " uniform, `bench/bench_util.hpp`, reproduced in `torch_bench.py`), so the mean epoch losses"
      " agree closely and show both did the same work. Each process runs 20 (mlp) or 200 (nielsen)"
      " untimed warm-up steps, then times one epoch. zero_grad sets gradients to none in both.")
    w("- Workload 3 alternates `x * c`, `x + d`, `tanh(x)` (10,000 ops), then `sum(x).backward()`; c = 1"
      " and d = 0 keep the gradient out of the float denormals (with c = 0.9, d = 0.1 it underflows and"
      " every op of both frameworks slows down several times). Each process first runs one untimed"
      " chain of the same length, so the timed ones show the steady state of a loop that records the"
      " same graph again. PyTorch's time includes the Python interpreter, which is what a PyTorch"
      " user pays.")
    w("- PyTorch's CPU allocator hands large buffers straight to glibc malloc; how many of them come back"
      " as fresh pages (the page faults per step above) varies from run to run with glibc's adaptive"
      " mmap and trim thresholds. tapegrad's buffers are reused by glibc in these workloads (about 0"
      " faults per step), except in the (256,256) chain, whose forward holds 10,000 new 256 KiB outputs.")
    w("- Workload 4 calls `cblas_sgemm` with the shapes and transposes of one mlp step (3 forward, 3"
      " weight-gradient, 2 input-gradient products) for every batch of the epoch, on preallocated"
      " buffers.")
    w("- Workload 5 trains the nielsen preset (as workload 2) for 40,000 steps after 200 untimed ones,"
      " appending each step's loss tensor to a list (`history.push_back(loss)` / `history.append(loss)`)"
      " after its backward, as a loop that plots the losses afterwards does; the loss values are read"
      " after the loop. The steps are timed in windows of 5,000, one epoch each, so every window trains"
      " on the same batches. Target: the last window takes under twice the first (a kept loss must not"
      " make later backwards walk its graph). Both frameworks pay the Python or C++ list append; neither"
      " reserves the list.")
    w("- Workload 6 records one forward of a 4-layer MLP (Linear layers of width W with ReLU between,"
      " batch B, weights as in workload 1, input `linspace(-1, 1)` in rows, loss `mean(out²)`) and then,"
      " on that retained graph, times call by call the gradient with respect to the last hidden"
      " activation h3 (`tg::grad(loss, {h3})` / `torch.autograd.grad(loss, [h3])`), with respect to all"
      " 8 parameters, and `backward()` into the parameters' grad (set to none before each, outside the"
      " clock); cells are medians over the calls (1,000 on (8,16), 200 on (128,256)), after 20 untimed"
      " calls. Target: the gradient wrt h3 takes under 0.4 of the full backward (it needs the last"
      " layer's input gradient only). PyTorch's calls include the Python interpreter.")
    w("- Peak RSS is `getrusage(RUSAGE_SELF).ru_maxrss`. The training peak is measured after resetting"
      " the kernel's mark (`/proc/self/clear_refs` = 5) once the data is loaded, so it covers the warm-up"
      " and the epoch with the data set resident; the lifetime peak includes loading.")
    w("")
    return "\n".join(out) + "\n"


def engine(w, by_key):
    """Workloads 5 and 6: ratios within each framework (cost of a kept history, gain of pruning)."""
    h = by_key.get("history")
    prunes = [(shape, by_key.get(f"prune:{shape}")) for shape in ("8x16", "128x256")]
    jvp = by_key.get("jvp")
    if not h and not any(g for _, g in prunes) and not jvp:
        return
    w("## Engine: kept history, pruning, forward mode\n")
    w("Ratios within each framework, per run (median (min–max) over the runs); the targets are"
      " tapegrad's.\n")
    w("| workload | ratio | tapegrad | PyTorch | target | met |")
    w("| --- | --- | --- | --- | --- | --- |")

    def row(g, label, key, target):
        cells = []
        for s in g["settings"]:
            st = stats([r[key] for r in s["results"]])
            cells.append((st, f"{st['median']:.2f} ({st['min']:.2f}–{st['max']:.2f})"))
        met = "" if target is None else "yes" if cells[0][0]["median"] < target else "no"
        w(f"| {label} | {key_text[key]} | {cells[0][1]} | {cells[1][1]} | "
          f"{'' if target is None else f'< {target}'} | {met} |")

    key_text = dict(last_over_first="last 5,000 steps / first 5,000",
                    input_over_backward="grad wrt h3 / backward()",
                    input_over_params="grad wrt h3 / grad wrt all parameters",
                    jvp_over_forward_nograd="jvp / forward without grad mode",
                    jvp_over_forward="jvp / forward recording the tape",
                    jvp_input_over_forward_nograd="jvp along the input / forward without grad mode",
                    vjp_over_forward="vjp (gradient) / forward recording the tape")
    if h:
        row(h, "5. nielsen training keeping every step's loss", "last_over_first", 2)
    for shape, g in prunes:
        if g:
            label = f"6. 4-layer MLP ({shape.replace('x', ',')})"
            row(g, label, "input_over_backward", 0.4)
            row(g, label, "input_over_params", None)
    if jvp:
        label = "7. mlp loss (784-256-128-10, batch 128)"
        row(jvp, label, "jvp_over_forward_nograd", 3)
        row(jvp, label, "jvp_over_forward", None)
        row(jvp, label, "jvp_input_over_forward_nograd", None)
        row(jvp, label, "vjp_over_forward", None)
    w("")
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    if h:
        t, p = h["settings"][0]["results"], h["settings"][1]["results"]
        line = (f"- history per step: tapegrad {med(t, 'us_per_step'):.1f} µs, PyTorch {med(p, 'us_per_step'):.1f} µs"
                f" ({med(t, 'us_per_step') / med(p, 'us_per_step'):.2f})")
        n = by_key.get("nielsen@1")
        if n:
            line += (f"; the same steps without keeping the losses (workload 2): tapegrad"
                     f" {med(n['settings'][0]['results'], 'us_per_step'):.1f} µs, PyTorch"
                     f" {med(n['settings'][1]['results'], 'us_per_step'):.1f} µs")
        w(line + ".")
        for label, rs in (("tapegrad", t), ("PyTorch", p)):
            mid = sorted(rs, key=lambda r: r["last_over_first"])[len(rs) // 2]
            w(f"- history, {label}, seconds per window of 5,000 steps (the run with the median ratio):"
              f" {', '.join(f'{float(x):.3f}' for x in mid['windows_s'].split())}")
        w(f"- history memory per kept step: RSS growth tapegrad"
          f" {(med(t, 'rss_end_mib') - med(t, 'rss_before_mib')) * 2**20 / t[0]['steps']:.0f} B, PyTorch"
          f" {(med(p, 'rss_end_mib') - med(p, 'rss_before_mib')) * 2**20 / p[0]['steps']:.0f} B; malloc heap"
          f" tapegrad {med(t, 'heap_bytes_per_kept_step'):.0f} B, PyTorch {med(p, 'heap_bytes_per_kept_step'):.0f} B"
          " (PyTorch's excludes Python objects); peak RSS of the training loop tapegrad"
          f" {med(t, 'peak_rss_train_mib'):.0f} MiB, PyTorch {med(p, 'peak_rss_train_mib'):.0f} MiB. tapegrad keeps"
          f" {med(t, 'nodes_per_kept_step'):.0f} node per kept loss, and its backward reached"
          f" {t[0]['sweep_reached_first']:.0f} nodes at the first step and {t[0]['sweep_reached_last']:.0f} at the"
          f" last. Mean loss over the run: tapegrad {med(t, 'mean_loss'):.6f}, PyTorch {med(p, 'mean_loss'):.6f}.")
    for shape, g in prunes:
        if not g:
            continue
        t, p = g["settings"][0]["results"], g["settings"][1]["results"]
        calls = lambda rs: (f"grad wrt h3 {fmt(med(rs, 'grad_input_us'), 'µs/')}, grad wrt all parameters"
                            f" {fmt(med(rs, 'grad_params_us'), 'µs/')}, backward() {fmt(med(rs, 'backward_us'), 'µs/')} µs")
        w(f"- prune ({shape.replace('x', ',')}) per call: tapegrad {calls(t)}; PyTorch {calls(p)}. tapegrad ran"
          f" {t[0]['pruned_run']:.0f} of the {t[0]['pruned_reached']:.0f} nodes it reached for h3 and"
          f" {t[0]['full_run']:.0f} of {t[0]['full_reached']:.0f} for the parameters. Gradient sums (wrt h3, wrt"
          f" the first weight): tapegrad {t[0]['grad_h3_sum']:.7g}, {t[0]['grad_w1_sum']:.7g}; PyTorch"
          f" {p[0]['grad_h3_sum']:.7g}, {p[0]['grad_w1_sum']:.7g}.")
    if jvp:
        t, p = jvp["settings"][0]["results"], jvp["settings"][1]["results"]
        calls = lambda rs: ", ".join(f"{name} {fmt(med(rs, key), 'µs/')}" for name, key in (
            ("forward", "forward_us"), ("forward without grad mode", "forward_nograd_us"), ("jvp", "jvp_us"),
            ("jvp along the input", "jvp_input_us"), ("vjp", "vjp_us")))
        w(f"- jvp per call: tapegrad {calls(t)} µs (functional::jvp and vjp); PyTorch {calls(p)} µs"
          f" (torch.autograd.forward_ad and torch.autograd.grad; torch.autograd.functional.jvp, the double-backward"
          f" trick: {fmt(med(p, 'functional_jvp_us'), 'µs/')} µs). Loss, its derivative along u and <grad, u>:"
          f" tapegrad {t[0]['loss']:.7g}, {t[0]['jvp']:.7g}, {t[0]['grad_dot_u']:.7g}; PyTorch {p[0]['loss']:.7g},"
          f" {p[0]['jvp']:.7g}, {p[0]['grad_dot_u']:.7g}.")
    w("")


def details(w, by_key):
    w("## Details\n")
    mlp = by_key.get("mlp@1")
    if mlp:
        t, p = mlp["settings"][0]["results"], mlp["settings"][1]["results"]
        w(f"- mlp mean loss over the timed epoch: tapegrad {statistics.median(r['mean_loss'] for r in t):.6f},"
          f" PyTorch {statistics.median(r['mean_loss'] for r in p):.6f}; tapegrad records"
          f" {t[0]['tape_nodes_per_step']:.0f} tape nodes per step.")
        for budget in (1, 2):
            g = by_key.get(f"mlp@{budget}")
            if g:
                per_step = lambda s: (f"{statistics.median(r['us_per_step'] for r in s['results']):.0f} µs,"
                                      f" {statistics.median(r['page_faults_per_step'] for r in s['results']):.2f} page faults")
                w(f"- mlp per step, {budget} thread{'s' * (budget > 1)}: tapegrad {per_step(g['settings'][0])};"
                  " PyTorch " + "; ".join(f"{s['label']}: {per_step(s)}" for s in g["settings"][1:]))
    for budget in (1, 2):
        g = by_key.get(f"gemm@{budget}")
        if g:
            r = g["settings"][0]["results"]
            w(f"- GEMM floor, {budget} thread{'s' * (budget > 1)}: {r[0]['sgemm_calls_per_step']:.0f} sgemm calls and"
              f" {r[0]['mflop_per_full_step']:.1f} MFLOP per full step, {statistics.median(x['gflops'] for x in r):.1f} GFLOP/s"
              " (median)")
    n = by_key.get("nielsen@1")
    if n:
        t, p = n["settings"][0]["results"], n["settings"][1]["results"]
        w(f"- nielsen: {t[0]['steps']:.0f} steps per epoch; per step tapegrad"
          f" {statistics.median(r['us_per_step'] for r in t):.1f} µs ({statistics.median(r['page_faults_per_step'] for r in t):.2f} page faults),"
          f" PyTorch {statistics.median(r['us_per_step'] for r in p):.1f} µs ({statistics.median(r['page_faults_per_step'] for r in p):.2f} page faults);"
          f" mean loss tapegrad {statistics.median(r['mean_loss'] for r in t):.6f}, PyTorch {statistics.median(r['mean_loss'] for r in p):.6f}")
    for shape in ("4", "256x256"):
        g = by_key.get(f"chain:{shape}")
        if g:
            parts = []
            for s in g["settings"]:
                rs = s["results"]
                parts.append(f"{s['framework']} forward {statistics.median(r['forward_us_per_op'] for r in rs):.2f} +"
                             f" backward {statistics.median(r['backward_us_per_op'] for r in rs):.2f} µs/op,"
                             f" {statistics.median(r['page_faults_per_op'] for r in rs):.3f} page faults/op,"
                             f" gradient {rs[0]['grad0']:.6g}")
            w(f"- chain ({shape.replace('x', ',')}): " + "; ".join(parts))
    w("")


def memory(w, by_key, soak):
    w("## Memory\n")
    g = by_key.get("mlp@1")
    if g:
        t, p = g["settings"][0]["results"], g["settings"][1]["results"]
        med = lambda rs, k: statistics.median(r[k] for r in rs if r.get(k) is not None) if any(r.get(k) is not None for r in rs) else None
        tr, pr = med(t, "peak_rss_train_mib"), med(p, "peak_rss_train_mib")
        ts, ps = med(t, "peak_rss_setup_mib"), med(p, "peak_rss_setup_mib")
        w("| mlp, 1 thread (MiB) | tapegrad | PyTorch | tapegrad / PyTorch | target |")
        w("| --- | --- | --- | --- | --- |")
        w(f"| RSS with the data loaded, before training | {med(t, 'rss_before_mib'):.0f} | {med(p, 'rss_before_mib'):.0f} | "
          f"{med(t, 'rss_before_mib') / med(p, 'rss_before_mib'):.2f} | |")
        if tr and pr:
            w(f"| peak RSS during warm-up and the epoch | {tr:.0f} | {pr:.0f} | {tr / pr:.2f} | ≤ 0.6 |")
        w(f"| peak RSS over the whole process (loading included) | {max(ts, tr or 0):.0f} | {max(ps, pr or 0):.0f} | "
          f"{max(ts, tr or 0) / max(ps, pr or 0):.2f} | ≤ 0.6 |")
        w("")
    c = by_key.get("chain:4")
    if c:
        t = c["settings"][0]["results"][0]
        p = c["settings"][1]["results"][0]
        w(f"- Node bytes per recorded op (chain of 10,000 on (4,)): sizeof(Node) = {t['sizeof_node']:.0f},"
          f" sizeof(TensorImpl) = {t['sizeof_tensor_impl']:.0f}. Heap held per"
          f" recorded op after the forward (glibc malloc, everything the graph keeps): tapegrad"
          f" {t['heap_bytes_per_op']:.0f} B, PyTorch {p['heap_bytes_per_op']:.0f} B (PyTorch's count excludes"
          " Python objects, which are freed as the chain goes).")
    if mlp_tape := by_key.get("mlp@1"):
        r = mlp_tape["settings"][0]["results"][0]
        w(f"- mlp: {r['tape_nodes_per_step']:.0f} nodes per step, {r['tape_reserved_bytes']:.0f} bytes of nodes"
          " (freed with the step's graph; their memory is reused by the next step).")
    for s in soak:
        w(f"- Growth over {s['steps']} mlp steps, {s['framework']}: RSS {s['rss_mark_mib']:.1f} MiB after step"
          f" {s['mark_step']} → {s['rss_end_mib']:.1f} MiB after step {s['steps']}; malloc heap in use"
          f" {s['heap_mark_mib']:.2f} → {s['heap_end_mib']:.2f} MiB"
          + (f"; live nodes after each step between {s['tape_nodes_min']:.0f} and {s['tape_nodes_max']:.0f}"
             if s["framework"] == "tapegrad" else ""))
    w("")


if __name__ == "__main__":
    main()
