"""Training-step speed of the 784-400-20 VAE: vae_np (numba, NumPy), JAX jit, PyTorch (CPU).

Usage (from the repository root)::

    python benchmarks/bench_train_step.py                  # 2 threads and 1 thread, 5 rounds
    python benchmarks/bench_train_step.py --threads 1 --rounds 7 --json out.json

What one "step" is, for every variant (the same model, batch and work):
draw the batch's rows from a 60,000 x 784 float32 binary array (``--data mnist``, the default:
the embedded MNIST images binarized, 13% ones; ``--data random``: P(1) = 0.5) by an index
permutation (into a preallocated batch buffer), draw eps ~ N(0, I) of shape (128, 20), compute
the negative ELBO (Bernoulli NLL from logits, summed over pixels, + analytic KL, mean over the
batch) and its gradients, and apply one Adam step (lr 1e-3) to all parameters. vae_np also
checks that the loss and every gradient are finite (as ``vae_np.fit`` does); PyTorch does not.

Variants:

* ``vae_np numba``: ``vae_np.train.make_step`` under ``vae_np.fast.backend("numba")`` -- exactly
  ``fit``'s step with the fused step of ``vae_np.fast.step`` and the one-call Adam of
  ``vae_np.fast.flat.optimizer_step``; the first layer in the default ``"auto"`` mode (sparse
  kernels for batches with at most 18% nonzeros, :mod:`vae_np.fast.sparse`; the recorded
  results/peers.json was run with a threshold of 25%, the same choice on its 13% data).
  With 2 or more threads this is the several-core step of ``vae_np.fast.parallel`` (the
  batch's rows in blocks on numba's threads, BLAS on one thread per block).
* ``vae_np numba one-core step`` (2+ threads only): the one-core fused step, its products on
  BLAS's threads and the rest on one core (the library before ``vae_np.fast.parallel``).
* ``vae_np numba dense``: the same with ``first_layer("dense")`` (BLAS for every product).
* ``jax jit``: the same model, loss and Adam as one ``jax.jit`` function (``benchmarks/peers.py``);
  one thread via ``XLA_FLAGS``; only if jax is importable.
* ``torch.compile``: ``torch.compile`` of the PyTorch model's forward and loss, default Adam
  (``--no-compile`` skips it: its compilation takes about a minute per thread count).
* ``vae_np numpy``: the same under ``vae_np.fast.backend("numpy")`` -- the layer-by-layer
  reference path of ``vae_np.nn`` (``model.loss_and_grads``, ``optimizer.step``).
* ``torch eager``: ``torch.nn`` model, ``binary_cross_entropy_with_logits``, ``torch.optim.Adam``
  (default settings), ``torch.set_num_threads(threads)``; only if torch is importable (it is
  not a project dependency).
* ``torch eager fused-Adam``: the same with ``torch.optim.Adam(fused=True)``, PyTorch's fastest
  eager optimizer on the CPU (not its default): the strongest eager baseline we know of.
* ``gemm only``: just the 11 GEMMs of one step (``np.matmul`` into buffers): the ceiling.
* ``gemm peak``: a 1024^3 float32 GEMM with NumPy's BLAS (and with torch when available): the
  machine's float32 GEMM peak, taken as the larger of the two. Which kernels OpenBLAS runs is
  its own pick for the CPU unless ``--openblas-coretype`` sets ``OPENBLAS_CORETYPE``; on an AMD
  Zen 4 it picks its AVX-512 "SkylakeX" kernels, and its AVX2 "Zen" kernels can be faster (so
  measure with both to know the machine's real peak; ``benchmarks/README.md``).

Each thread count runs in its own subprocess (BLAS thread pools are sized at import) with
``OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = threads``, and inside it **each
variant in a process of its own** (so no library's worker threads meet another's: numba's
OpenMP threads started before PyTorch's slow PyTorch about 3x, ``bench_two_cores.py``). After a
warm-up run of each variant (``--warmup`` steps, 5 by default), the variants run one after
another in rounds (interleaved, so a burst of load from other processes hits all of them
alike; 0.3 s of idle before each run so no variant meets the previous one's spinning threads);
the report gives each variant's median over
the rounds of steps/s (wall clock), its GEMM GFLOP/s (exact GEMM FLOPs of a step divided by the
step time) and fraction of the measured peak, and the ratios between variants. The last column,
steps per second of *process CPU time*, is for reading runs on a loaded machine: with 1 thread it
is close to what an idle machine would give (time spent descheduled is not counted); with 2
threads it also counts the time BLAS/OpenMP workers spin, so it is not comparable across
variants.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the runners of every variant: benchmarks/peers.py)

D, H, K, BATCH, N_DATA = 784, 400, 20, 128, 60_000


def gemm_shapes(n=BATCH, d=D, h=H, k=K, layout=False):
    """(m, kdim, ncols) of every GEMM in one training step (forward, then backward).

    The input gradient of the first layer is not needed, so it is not computed (PyTorch skips it
    too, since the data does not require grad). With ``layout=True`` each tuple also says which
    operand is a transposed view: "A" for ``dW = X.T @ dZ``, "B" for ``dX = dZ @ W.T``.
    """
    fwd = [(n, d, h, ""), (n, h, 2 * k, ""), (n, k, h, ""), (n, h, d, "")]
    bwd = [(h, n, d, "A"), (n, d, h, "B"),            # decoder output layer: dW, dX
           (k, n, h, "A"), (n, h, k, "B"),            # decoder hidden layer: dW, dX (= dz)
           (h, n, 2 * k, "A"), (n, 2 * k, h, "B"),    # encoder output layer: dW, dX
           (d, n, h, "A")]                            # encoder hidden layer: dW only
    return [s if layout else s[:3] for s in fwd + bwd]


def step_flops(n=BATCH):
    """Exact GEMM floating-point operations (2 per multiply-add) of one step."""
    return sum(2 * a * b * c for a, b, c in gemm_shapes(n))


# ------------------------------------------------------------------------------------ variants
def make_data(seed=0):
    """The benchmark's data set (``--data``, default MNIST-like binary; ``peers.make_data``)."""
    return peers.make_data(_DATA["kind"], seed)


_DATA = {"kind": "mnist"}


def gemm_only_runner():
    """Return ``run(steps)`` doing only the GEMMs of a step (same operand layouts as the fused
    step: transposed views where it has them), into preallocated outputs."""
    import numpy as np
    rng = np.random.default_rng(0)
    ops = []
    for m, kk, c, trans in gemm_shapes(layout=True):
        a = rng.standard_normal((kk, m), dtype=np.float32).T if trans == "A" else \
            rng.standard_normal((m, kk), dtype=np.float32)
        b = rng.standard_normal((c, kk), dtype=np.float32).T if trans == "B" else \
            rng.standard_normal((kk, c), dtype=np.float32)
        ops.append((a, b, np.empty((m, c), np.float32)))

    def run(steps):
        for _ in range(steps):
            for a, b, out in ops:
                np.matmul(a, b, out=out)
    return run


def peak_runner(use_torch=False, size=1024):
    """Return ``run(reps)`` doing ``reps`` float32 GEMMs of size^3, and the FLOPs of one."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    if use_torch:
        import torch
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)

        def run(reps):
            for _ in range(reps):
                torch.mm(ta, tb, out=tout)
    else:
        def run(reps):
            for _ in range(reps):
                np.matmul(a, b, out=out)
    return run, 2 * size ** 3


# ------------------------------------------------------------------------------------ measuring
def make_runner(name, threads):
    """``run(steps)`` of one variant (built in the calling process)."""
    X = make_data()
    builders = {
        "vae_np numba": lambda: peers.vae_np_runner(X, "numba", "auto"),
        "vae_np numba dense": lambda: peers.vae_np_runner(X, "numba", "dense"),
        "vae_np numba one-core step": lambda: peers.vae_np_runner(X, "numba", "auto",
                                                                  one_core=True),
        "vae_np numpy": lambda: peers.vae_np_runner(X, "numpy"),
        "jax jit": lambda: peers.jax_runner(X),
        "torch eager": lambda: peers.torch_runner(X, threads),
        "torch eager fused-Adam": lambda: peers.torch_runner(X, threads, fused_adam=True),
        "torch.compile": lambda: peers.torch_runner(X, threads, compiled=True),
        "gemm only": gemm_only_runner,
    }
    return builders[name]()


def serve(name, threads, warmup=5):
    """A variant's own process: build it, warm it up, then time ``run(steps)`` on request.

    ``warmup`` training steps first (JIT compilation, buffers, caches; with thousands, the
    timed steps come from the middle of a training run instead of its start). Reads lines
    ``<steps>`` from stdin and answers each with ``<wall seconds> <CPU seconds>``; ``ready``
    (or ``failed <reason>``) first.
    """
    try:
        run = make_runner(name, threads)
        run(warmup)
    except Exception as e:                        # no compiler (torch.compile), no library
        print(f"failed {type(e).__name__}: {e}".replace("\n", " "), flush=True)
        return
    print("ready", flush=True)
    for line in sys.stdin:
        steps = int(line)
        t0, c0 = time.perf_counter(), time.process_time()
        run(steps)
        print(f"{time.perf_counter() - t0} {time.process_time() - c0}", flush=True)


def measure(threads, rounds, steps, include_peers, include_compile=True, pause=0.3, warmup=5):
    """Interleaved timings, each variant in a process of its own (BLAS threads, XLA flags and
    the CPU affinity come from this process's environment).

    One process per variant: no library's thread pool ever meets another's (numba's OpenMP
    threads, started before PyTorch's, slow PyTorch down about 3x; XLA's and OpenBLAS's threads
    compete with whoever runs next). While one variant runs, the others wait on their stdin.
    """
    import numpy as np
    names = ["vae_np numba", "vae_np numba dense", "vae_np numpy"]
    if threads > 1:
        names.append("vae_np numba one-core step")
    have_torch = False
    if include_peers:
        for lib, variants in (("jax", ["jax jit"]),
                              ("torch", ["torch eager", "torch eager fused-Adam"]
                               + (["torch.compile"] if include_compile else []))):
            try:
                __import__(lib)
                names += variants
                have_torch = have_torch or lib == "torch"
            except ImportError:
                print(f"{lib} is not importable: skipping {', '.join(variants)}",
                      file=sys.stderr)
    names.append("gemm only")
    servers = {}
    for name in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--serve", name, "--child",
               str(threads), "--data", _DATA["kind"], "--warmup", str(warmup)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        answer = proc.stdout.readline().strip()
        if answer != "ready":
            print(f"{name} does not run here ({answer or 'no answer'})", file=sys.stderr)
            proc.kill()
            continue
        servers[name] = proc
    peaks = {"numpy": peak_runner(False)}
    if have_torch:
        peaks["torch"] = peak_runner(True)
    for run, _ in peaks.values():
        run(3)

    steps_per = {name: steps for name in servers}
    if "vae_np numpy" in steps_per:
        steps_per["vae_np numpy"] = max(10, steps // 3)   # slower: keep each run's length similar
    peak_reps = 20
    rates = {name: [] for name in servers}
    cpu_rates = {name: [] for name in servers}
    peak_rates = {name: [] for name in peaks}
    order0 = list(servers)
    try:
        for r in range(rounds):
            order = order0[r % len(order0):] + order0[:r % len(order0)]  # rotate the first one
            for name in order:
                time.sleep(pause)   # the last variant's spinning worker threads go to sleep
                proc = servers[name]
                proc.stdin.write(f"{steps_per[name]}\n")
                proc.stdin.flush()
                wall, cpu = map(float, proc.stdout.readline().split())
                rates[name].append(steps_per[name] / wall)
                cpu_rates[name].append(steps_per[name] / cpu)
            for pname, (run, flops) in peaks.items():
                time.sleep(pause)
                t0 = time.perf_counter()
                run(peak_reps)
                peak_rates[pname].append(peak_reps * flops / (time.perf_counter() - t0) / 1e9)
    finally:
        for proc in servers.values():
            proc.stdin.close()
            proc.wait(timeout=60)
    try:
        from threadpoolctl import threadpool_info
        core = next((i.get("architecture") for i in threadpool_info()
                     if i.get("internal_api") == "openblas"), None)
    except ImportError:  # pragma: no cover - threadpoolctl is a project dependency
        core = None
    X = make_data()
    return {"threads": threads, "rounds": rounds, "steps_per_run": steps_per, "warmup_steps": warmup,
            "data": _DATA["kind"],
            "data_density": float(X.mean()), "versions": _versions(),
            "openblas_core": core, "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
            "steps_per_s": rates, "steps_per_cpu_s": cpu_rates, "peak_gflops": peak_rates,
            "step_gemm_flops": step_flops(), "separate_processes": True,
            "numpy_version": np.__version__}


def _versions():
    out = {}
    for name in ("numpy", "numba", "torch", "jax", "jaxlib"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


def summarize(res):
    """Medians, GFLOP/s, fractions of the peak, ratios."""
    med = {k: statistics.median(v) for k, v in res["steps_per_s"].items()}
    peak_each = {k: statistics.median(v) for k, v in res["peak_gflops"].items()}
    peak = max(peak_each.values())
    flops = res["step_gemm_flops"]
    rows = []
    for name, sps in med.items():
        vals = res["steps_per_s"][name]
        cpu = statistics.median(res["steps_per_cpu_s"][name])
        rows.append(dict(variant=name, median=sps, lo=min(vals), hi=max(vals), cpu=cpu,
                         ms=1e3 / sps, gflops=sps * flops / 1e9,
                         peak_fraction=sps * flops / 1e9 / peak))
    ratios = {}
    for ours in ("vae_np numba", "vae_np numba dense"):
        if ours not in med:
            continue
        for other in ("jax jit", "torch eager", "torch eager fused-Adam", "torch.compile",
                      "vae_np numpy", "vae_np numba dense", "vae_np numba one-core step",
                      "gemm only"):
            if other in med and other != ours:
                ratios[f"{ours} / {other}"] = med[ours] / med[other]
    return dict(threads=res["threads"], rows=rows, peak_gflops=peak_each, peak=peak,
                ratios=ratios, openblas_core=res.get("openblas_core"),
                warmup_steps=res.get("warmup_steps", 5))


def print_summary(s):
    print(f"\n== {s['threads']} thread(s); {s.get('warmup_steps', 5)} warm-up steps; OpenBLAS "
          f"kernels {s.get('openblas_core')}; "
          "float32 GEMM peak "
          + ", ".join(f"{k} {v:.1f}" for k, v in s["peak_gflops"].items())
          + f" GFLOP/s -> peak {s['peak']:.1f} GFLOP/s")
    print(f"{'variant':24s} {'steps/s':>9s} {'(min-max)':>15s} {'ms/step':>8s} "
          f"{'GEMM GFLOP/s':>12s} {'of peak':>8s} {'steps/CPU-s':>11s}")
    for r in s["rows"]:
        print(f"{r['variant']:24s} {r['median']:9.1f} {r['lo']:7.1f}-{r['hi']:<7.1f} "
              f"{r['ms']:8.2f} {r['gflops']:12.1f} {r['peak_fraction']:8.1%} {r['cpu']:11.1f}")
    for k, v in s["ratios"].items():
        print(f"  {k:44s} {v:6.2f}x")


def markdown_report(out):
    """Markdown tables (for benchmarks/README.md) from the JSON written with ``--json``."""
    m = out["machine"]
    lines = [f"Measured {m['date_utc']} UTC; {m['cores']} cores ({m['cpu']}); {m['blas']}; "
             f"NumPy {m['numpy']}, numba {m.get('numba')}, torch {m.get('torch')}, Python "
             f"{m['python']}; load average at start {m.get('loadavg_at_start', ['?'])[0]:.1f}, "
             f"at end {m.get('loadavg_at_end', ['?'])[0]:.1f}; command `{out['command']}`.", ""]
    for run in out["runs"]:
        s = run["summary"]
        when = (f" (invocation of {run['when_utc']} UTC, load {run['loadavg_start_end'][0]:.1f}"
                f"-{run['loadavg_start_end'][1]:.1f})" if "when_utc" in run else "")
        core = f"; OpenBLAS kernels {s['openblas_core']}" if s.get("openblas_core") else ""
        core += f"; {s.get('warmup_steps', 5)} warm-up steps per variant"
        lines += [f"**{s['threads']} thread(s)**{when}{core} -- float32 GEMM peak " + ", ".join(
            f"{k} {v:.1f}" for k, v in s["peak_gflops"].items()) + " GFLOP/s (medians)", "",
            "| variant | steps/s (median) | min-max | ms/step | GEMM GFLOP/s | of peak | "
            "steps per CPU-second |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in s["rows"]:
            lines.append(f"| {r['variant']} | {r['median']:.1f} | {r['lo']:.0f}-{r['hi']:.0f} | "
                         f"{r['ms']:.2f} | {r['gflops']:.1f} | {r['peak_fraction']:.0%} | "
                         f"{r['cpu']:.1f} |")
        lines += [""] + [f"- {k}: **{v:.2f}x**" for k, v in s["ratios"].items()] + [""]
    return "\n".join(lines)


def measure_memory(seed=0):
    """Peak memory traced while ``vae_np.fit`` trains one epoch on the 60,000 x 784 array."""
    import resource
    import tracemalloc

    import numpy as np

    import vae_np
    X = make_data(seed)
    model = vae_np.VAE(D, [H], K, seed=seed)
    vae_np.fit(model, X[:2 * BATCH], 1, BATCH, vae_np.Adam(1e-3), seed=seed, progress=False)
    tracemalloc.start()
    t0 = time.perf_counter()
    vae_np.fit(model, X, 1, BATCH, vae_np.Adam(1e-3), seed=seed, progress=False,
               dynamic_binarization=True)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"data {X.nbytes / 1e6:.1f} MB; peak traced allocation during one epoch of fit "
          f"{peak / 1e6:.1f} MB = {peak / X.nbytes:.2f} copies of the data; max RSS "
          f"{rss / 1e6:.0f} MB; epoch {seconds:.1f} s ({N_DATA // BATCH + 1} steps, "
          f"numpy {np.__version__})")
    return peak / X.nbytes


def machine_info():
    import numpy as np
    info = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # pragma: no cover - older NumPy
        info["blas"] = "unknown"
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    for name in ("jax", "jaxlib"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    try:
        info["uptime_at_start"] = subprocess.run(["uptime"], capture_output=True,
                                                 text=True).stdout.strip()
    except OSError:
        pass
    try:
        info["loadavg_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="2,1", help="comma-separated BLAS/torch thread counts")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians over them)")
    p.add_argument("--steps", type=int, default=60, help="training steps per timed run")
    p.add_argument("--warmup", type=int, default=5, metavar="STEPS",
                   help="training steps of each variant before the timed runs (default 5: the "
                        "start of training; e.g. 3000 times the middle of a run, where Adam's "
                        "running averages of rarely used weights have decayed towards zero)")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds of idle before each timed run, so that no variant runs while the "
                        "previous one's worker threads (OpenBLAS, OpenMP, XLA) still spin")
    p.add_argument("--no-torch", action="store_true",
                   help="skip the optional peers (PyTorch and JAX)")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--data", choices=("mnist", "random"), default="mnist",
                   help="mnist: the embedded MNIST images, binarized, repeated to 60,000 rows "
                        "(13%% ones); random: independent pixels, P(1) = 0.5")
    p.add_argument("--json", help="also write the raw timings and summaries to this file")
    p.add_argument("--report", help="print Markdown tables from a JSON file written by --json")
    p.add_argument("--memory", action="store_true",
                   help="only measure the peak memory of one epoch of vae_np.fit on the data")
    p.add_argument("--openblas-coretype", metavar="NAME",
                   help="set OPENBLAS_CORETYPE (e.g. Zen, Haswell, SkylakeX) in the measuring "
                        "subprocesses: which of OpenBLAS's kernels run (default: its own pick)")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.memory:
        measure_memory()
        return
    if a.report:
        with open(a.report) as f:
            print(markdown_report(json.load(f)))
        return
    _DATA["kind"] = a.data
    if a.serve is not None:
        serve(a.serve, a.child, a.warmup)
        return
    if a.child is not None:
        res = measure(a.child, a.rounds, a.steps, not a.no_torch, not a.no_compile, a.pause,
                      a.warmup)
        print(json.dumps(res))
        return
    out = {"machine": machine_info(), "command": " ".join([os.path.basename(sys.executable),
                                                           *sys.argv]), "runs": []}
    print(json.dumps(out["machine"]))
    for t in (int(s) for s in a.threads.split(",")):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        if t == 1:      # XLA: no Eigen thread pool, one intra-op thread
            env["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1")
        if a.openblas_coretype:
            env["OPENBLAS_CORETYPE"] = a.openblas_coretype
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(t),
               "--rounds", str(a.rounds), "--steps", str(a.steps), "--pause", str(a.pause),
               "--warmup", str(a.warmup)]
        cmd += ["--no-torch"] if a.no_torch else []
        cmd += ["--no-compile"] if a.no_compile else []
        cmd += ["--data", a.data]
        if t == 1 and shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]              # one core: pinned
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        sys.stderr.write(proc.stderr)                  # warnings, or the reason of a failure
        if proc.returncode != 0:
            raise SystemExit(f"benchmark child for {t} thread(s) failed")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        s = summarize(res)
        print_summary(s)
        out["runs"].append({"raw": res, "summary": s})
    try:
        out["machine"]["loadavg_at_end"] = os.getloadavg()
    except OSError:
        pass
    if a.json:                          # whole or not at all: a killed run leaves no partial file
        from vae_np._tempfiles import write_atomically
        write_atomically(pathlib.Path(a.json), lambda f: json.dump(out, f, indent=1),
                         binary=False)
        print(f"\nwrote {a.json}")


if __name__ == "__main__":
    main()
