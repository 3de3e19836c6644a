"""The from-scratch numba matmul (bias + activation fused) against BLAS, on the VAE's shapes.

Usage (from the repository root)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_matmul.py [--rounds 7] [--json out.json]

For each forward layer of the 784-400-20 VAE at batch 128 it times, interleaved over rounds:

* ``numba fused``: ``vae_np.fast.matmul.matmul_bias_act`` (one kernel: blocked GEMM + bias +
  act);
* ``BLAS + kernel``: ``np.matmul(X, W, out=buf)`` then the fused bias + activation kernel
  ``vae_np.fast.elementwise.bias_act_forward`` (what the training step does);

and prints medians in GFLOP/s (2 m k n per GEMM) and the ratio. The numba kernel is single
threaded; compare with ``OPENBLAS_NUM_THREADS=1`` for a like-for-like view.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from vae_np.fast import elementwise, matmul

SHAPES = [("encoder hidden  128x784 @ 784x400, relu", 128, 784, 400, "relu"),
          ("encoder output  128x400 @ 400x40", 128, 400, 40, "identity"),
          ("decoder hidden  128x20 @ 20x400, relu", 128, 20, 400, "relu"),
          ("decoder output  128x400 @ 400x784", 128, 400, 784, "identity")]


def timed(f, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t0) / reps


def run(rounds=7, target_seconds=0.05, kc=256, nc=512):
    """Median GFLOP/s of both implementations for every shape; returns a list of dicts."""
    rng = np.random.default_rng(0)
    results = []
    for label, m, k, n, act in SHAPES:
        A = rng.standard_normal((m, k), dtype=np.float32)
        B = rng.standard_normal((k, n), dtype=np.float32)
        b = rng.standard_normal(n, dtype=np.float32)
        out1, out2 = np.empty((m, n), np.float32), np.empty((m, n), np.float32)

        def numba_fused(A=A, B=B, b=b, act=act, out=out1):
            matmul.matmul_bias_act(A, B, b, act, out=out, kc=kc, nc=nc)

        def blas_then_kernel(A=A, B=B, b=b, act=act, out=out2):
            np.matmul(A, B, out=out)
            elementwise.bias_act_forward(out, b, act)

        numba_fused(), blas_then_kernel()                     # compile, warm up
        assert np.allclose(out1, out2, rtol=1e-4, atol=1e-3)
        reps = max(3, int(target_seconds / max(timed(blas_then_kernel, 3), 1e-7)))
        flops = 2 * m * k * n
        t = {"numba fused": [], "BLAS + kernel": []}
        for _ in range(rounds):
            t["numba fused"].append(timed(numba_fused, reps))
            t["BLAS + kernel"].append(timed(blas_then_kernel, reps))
        g = {name: flops / statistics.median(v) / 1e9 for name, v in t.items()}
        results.append(dict(shape=label, m=m, k=k, n=n, act=act, gflops=g,
                            blas_over_numba=g["BLAS + kernel"] / g["numba fused"]))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json")
    a = p.parse_args(argv)
    res = run(a.rounds)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print(f"{'layer':42s} {'numba fused':>12s} {'BLAS+kernel':>12s} {'BLAS/numba':>10s}  (GFLOP/s)")
    for r in res:
        print(f"{r['shape']:42s} {r['gflops']['numba fused']:12.1f} "
              f"{r['gflops']['BLAS + kernel']:12.1f} {r['blas_over_numba']:10.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
