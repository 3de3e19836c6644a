"""The several-core step (``vae_np.fast.parallel``) against the one-core step, and why it is built so.

Usage (from the repository root; needs 2 CPUs)::

    python benchmarks/bench_two_cores.py --rounds 9 --json benchmarks/results/two_cores.json

With two BLAS threads the one-core fused step (``vae_np.fast.step``) runs its matrix products on
both cores but the rest of the step -- the sparse first layer, the loss pass, the small layers,
the finite check, Adam -- on one. ``vae_np.fast.parallel`` cuts the batch's rows into blocks
run by numba's threads, each block's products on BLAS with one thread. This script measures:

* whole training steps (``vae_np.train.make_step``, ``fit``'s step) of the 784-400-20 VAE:
  the several-core step, the one-core step with 2 BLAS threads, the one-core step with 1
  (interleaved rounds, a pause before each so no variant meets another's spinning threads);
* the parts: each kernel on the whole batch (one thread) against its two halves run at once
  on the two cores, so the ratio is the speed-up a second core gives that kernel here; the
  block product both with numba's ``np.dot`` (SciPy's BLAS) and with ``vae_np.fast.blas.gemm``
  (NumPy's, which the step calls);
* the fight: a 2-thread OpenBLAS product followed by an empty numba parallel region (why the
  step does not run numba's threads next to OpenBLAS's);
* numba's threading layers, each in a fresh process: the several-core step on OpenMP (numba's
  default here) and on workqueue; and PyTorch's 2-thread step alone and after numba's threads
  of either layer were started (PyTorch steps skipped without torch).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

N, D, H, K = 128, 784, 400, 20


def parts(X, rounds):
    """Each kernel on the whole batch (1 thread) against its two halves on two cores at once."""
    import numba
    from numba import prange
    from threadpoolctl import threadpool_limits

    from vae_np.fast import sparse
    from vae_np.fast.blas import gemm, sgemm_address
    from vae_np.fast.elementwise import _bce_grad_bias_f32_nb
    from vae_np.fast.flat import _adam_nb
    from vae_np.fast.sparse import _csr_forward_nb

    @numba.njit(nogil=True)
    def task(kind, c, a):
        """Half ``c`` (0 or 1) of one kernel; ``a`` holds its arrays."""
        lo, hi = c * 64, (c + 1) * 64
        if kind == 0:
            np.dot(a.Hd[lo:hi], a.W2, a.A[lo:hi])
        elif kind == 4:
            gemm(a.fn, a.ilp64, False, a.Hd[lo:hi], False, a.W2, a.A[lo:hi])
        elif kind == 1:
            _csr_forward_nb(a.X, a.rowptr, a.cols, a.W1, a.b1, True, a.Y, lo, hi)
        elif kind == 2:
            _bce_grad_bias_f32_nb(a.A[lo:hi], a.bd, a.X[lo:hi], np.float32(1 / 128), a.dbp[c],
                                  a.colp[c], a.totp[c])
        else:
            half = (a.p.size // 2 + 15) // 16 * 16
            plo, phi = c * half, min(a.p.size, (c + 1) * half)
            f = np.float32
            _adam_nb(a.p[plo:phi], a.g[plo:phi], a.m[plo:phi], a.v[plo:phi], f(1e-9), f(0.9),
                     f(0.999), f(0.1), f(0.001), f(1e-8), f(np.finfo(f).tiny))

    @numba.njit(nogil=True)
    def one_core(kind, a):
        task(kind, 0, a)
        task(kind, 1, a)

    @numba.njit(nogil=True, parallel=True)
    def two_cores(kind, a):
        for c in prange(2):
            if kind >= 0:
                task(kind, c, a)

    from collections import namedtuple
    f32 = np.float32
    rng = np.random.default_rng(0)
    Xb = np.ascontiguousarray(X[:N])
    index = sparse.SparseIndex(N, D)
    sparse._index_batch(Xb, index)
    size = D * H + H + H * 2 * K + 2 * K + K * H + H + H * D + D      # the model's parameters
    arrays = dict(X=Xb, rowptr=index.rowptr, cols=index.cols,
                  W1=rng.standard_normal((D, H), dtype=f32) * f32(0.05), b1=np.zeros(H, f32),
                  Y=np.empty((N, H), f32), Hd=rng.standard_normal((N, H), dtype=f32),
                  W2=rng.standard_normal((H, D), dtype=f32) * f32(0.05),
                  A=rng.standard_normal((N, D), dtype=f32), bd=np.zeros(D, f32),
                  dbp=np.empty((2, D), f32), colp=np.empty((2, D), f32), totp=np.empty((2, D)),
                  p=rng.standard_normal(size, dtype=f32), g=rng.standard_normal(size, dtype=f32),
                  m=rng.standard_normal(size, dtype=f32),
                  v=np.abs(rng.standard_normal(size, dtype=f32)))
    arrays["fn"], arrays["ilp64"] = sgemm_address("numpy")
    a = namedtuple("Arrays", list(arrays))(**arrays)
    A0 = a.A.copy()
    out = {}
    with threadpool_limits(1, user_api="blas"):
        for kind, name, reps in ((0, "GEMM 128x400 @ 400x784, row halves, numba's np.dot "
                                  "(SciPy's BLAS)", 100),
                                 (4, "GEMM 128x400 @ 400x784, row halves, fast.blas.gemm "
                                  "(NumPy's BLAS; the step's)", 100),
                                 (1, "sparse first-layer forward, row halves", 200),
                                 (2, "loss pass (Bernoulli NLL + gradient), row halves", 200),
                                 (3, "Adam on the 650k parameters, halves", 100)):
            one_core(kind, a)
            two_cores(kind, a)
            one, two = [], []
            for _ in range(rounds):
                for fn, times in ((one_core, one), (two_cores, two)):
                    a.A[...] = A0
                    t0 = time.perf_counter()
                    for _ in range(reps):
                        fn(kind, a)
                    times.append((time.perf_counter() - t0) / reps)
            out[name] = {"one_core_ms": 1e3 * statistics.median(one),
                         "two_cores_ms": 1e3 * statistics.median(two)}
    with threadpool_limits(2, user_api="blas"):      # the fight: OpenBLAS's threads spin on
        two_cores(-1, a)                             # after each product
        np.matmul(a.Hd, a.W2, out=a.A)
        t0 = time.perf_counter()
        for _ in range(50):
            np.matmul(a.Hd, a.W2, out=a.A)
        alone = (time.perf_counter() - t0) / 50
        t0 = time.perf_counter()
        for _ in range(50):
            np.matmul(a.Hd, a.W2, out=a.A)
            two_cores(-1, a)
        out["fight"] = {"gemm_2_blas_threads_ms": 1e3 * alone,
                        "gemm_then_empty_numba_region_ms": 1e3 * (time.perf_counter() - t0) / 50}
    return out


_LAYER_PROBE = """
import sys, time
sys.path.insert(0, {here!r})
import numpy as np, peers
X = peers.make_data(n_data=20_000)
def rate(run):
    run(10)
    rates = []
    for _ in range(5):
        t0 = time.perf_counter(); run(40); rates.append(40 / (time.perf_counter() - t0))
    return sorted(rates)[2]
if {what!r} == "vae_np":
    print(rate(peers.vae_np_runner(X)))
elif {what!r} == "torch first":            # PyTorch's threads start, then numba's OpenMP ones
    run = peers.torch_runner(X, 2)
    run(10)
    import numba
    numba.config.THREADING_LAYER = "omp"
    @numba.njit(parallel=True)
    def start(a):
        for i in numba.prange(2):
            a[i] += 1
    start(np.zeros(2))
    print(rate(run))
else:
    if {layer!r}:
        import numba
        @numba.njit(parallel=True)
        def start(a):
            for i in numba.prange(2):
                a[i] += 1
        start(np.zeros(2))
    print(rate(peers.torch_runner(X, 2)))
"""


def threading_layers():
    """Fresh processes with 2 threads: the several-core step on numba's OpenMP and workqueue
    layers; PyTorch's step alone and after numba's threads of each layer started (medians of
    5 runs of 40 steps each)."""
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    cases = [("vae_np several-core step, OpenMP layer", "vae_np", "omp"),
             ("vae_np several-core step, workqueue layer", "vae_np", "workqueue")]
    try:
        import torch  # noqa: F401
        cases += [("PyTorch alone", "torch", ""),
                  ("PyTorch after numba's OpenMP threads", "torch", "omp"),
                  ("PyTorch after numba's workqueue threads", "torch", "workqueue"),
                  ("PyTorch started first, then numba's OpenMP threads", "torch first", "")]
    except ImportError:
        pass
    for name, what, layer in cases:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
        env.pop("NUMBA_THREADING_LAYER", None)
        if layer:
            env["NUMBA_THREADING_LAYER"] = layer
        proc = subprocess.run([sys.executable, "-c", _LAYER_PROBE.format(
            here=here, what=what, layer=layer)], env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            out[name] = float(proc.stdout.strip().splitlines()[-1])
        else:                                   # e.g. no OpenMP layer in this numba
            print(f"probe {name!r} failed: {proc.stderr.strip().splitlines()[-1:]}",
                  file=sys.stderr)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--pause", type=float, default=0.3,
                    help="seconds of idle before each timed run (see bench_train_step.py)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    import numba
    from threadpoolctl import threadpool_limits
    if numba.config.NUMBA_NUM_THREADS < 2 or (os.cpu_count() or 1) < 2:
        raise SystemExit("bench_two_cores.py needs 2 CPUs and NUMBA_NUM_THREADS >= 2")
    numba.set_num_threads(2)
    import bench_train_step
    info = bench_train_step.machine_info()
    print(json.dumps(info))
    X = peers.make_data()
    runners = {"several-core step (vae_np.fast.parallel)": (peers.vae_np_runner(X), 2),
               "one-core step, BLAS 2 threads": (peers.vae_np_runner(X, one_core=True), 2),
               "one-core step, BLAS 1 thread": (peers.vae_np_runner(X, one_core=True), 1)}
    for run, t in runners.values():
        with threadpool_limits(t, user_api="blas"):
            run(10)
    rates = {name: [] for name in runners}
    names = list(runners)
    for r in range(a.rounds):
        for name in names[r % 3:] + names[:r % 3]:
            run, t = runners[name]
            with threadpool_limits(t, user_api="blas"):
                time.sleep(a.pause)     # the previous variant's spinning threads go idle
                t0 = time.perf_counter()
                run(a.steps)
                rates[name].append(a.steps / (time.perf_counter() - t0))
    med = {name: statistics.median(v) for name, v in rates.items()}
    print(f"\nwhole steps, medians of {a.rounds} interleaved rounds of {a.steps} steps "
          f"(numba threading layer: {numba.threading_layer()}):")
    for name, v in rates.items():
        print(f"  {name:44s} {med[name]:7.1f} steps/s  ({min(v):.0f}-{max(v):.0f})")
    ratio = med[names[0]] / med[names[1]]
    print(f"  several-core / one-core step, both with 2 BLAS threads: {ratio:.2f}x")
    part = parts(X, a.rounds)
    print("\nparts (1 thread whole vs two halves at once on two cores; medians):")
    for name, r in part.items():
        if name == "fight":
            continue
        print(f"  {name:52s} {r['one_core_ms']:.3f} -> {r['two_cores_ms']:.3f} ms "
              f"({r['one_core_ms'] / r['two_cores_ms']:.2f}x)")
    f = part["fight"]
    print(f"  a 2-thread BLAS product {f['gemm_2_blas_threads_ms']:.3f} ms; followed by an empty "
          f"numba parallel region {f['gemm_then_empty_numba_region_ms']:.3f} ms")
    layers = threading_layers()
    print("\nthreading layers (fresh processes, 2 threads, steps/s):")
    for name, r in layers.items():
        print(f"  {name:52s} {r:7.1f}")
    info["loadavg_at_end"] = os.getloadavg()
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({"machine": info, "command": " ".join(["python", *sys.argv]),
                       "steps_per_s": rates, "medians": med, "several_over_one_core": ratio,
                       "parts": part, "threading_layers": layers}, fh, indent=1)
        os.replace(tmp, a.json)        # no partial file, even if killed while writing
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
