"""Where the sparse first layer pays: dense vs sparse training steps across input densities.

Usage (from the repository root)::

    python benchmarks/bench_sparse.py                       # 1 thread pinned, then 2 threads
    python benchmarks/bench_sparse.py --threads 1 --rounds 5 --json benchmarks/results/sparse.json

For each density ``p`` (fraction of nonzero pixels), a 784-400-20 VAE takes ``vae_np.fit``'s
training step (``vae_np.train.make_step``: loss, gradients, finite check, Adam) on batches of
128 random binary rows with ``P(x = 1) = p``, once with the first layer forced dense
(``vae_np.fast.backends.first_layer("dense")``: BLAS) and once forced sparse (``"sparse"``); the two
alternate within every round and the report gives medians of steps/s over the rounds and the
ratio sparse / dense (also from process CPU time, steadier on a loaded machine with one
thread; with two it also counts the BLAS threads' spinning). The crossover is where the ratio
passes 1. Grey-level batches (the same density, nonzeros uniform in (0, 1]) cost the sparse
kernels the same, which the ``grey`` rows check. Each thread count runs in its own subprocess
(pinned to core 0 with ``taskset`` for one thread), with the BLAS thread variables set.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step import machine_info  # noqa: E402

from vae_np._tempfiles import write_atomically  # noqa: E402

D, H, K, BATCH = 784, 400, 20, 128
DENSITIES = (0.05, 0.1, 0.13, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)


def _batches(p, grey, seed=0, count=8):
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        X = (rng.random((BATCH, D)) < p).astype(np.float32)
        if grey:
            X *= (1.0 - rng.random((BATCH, D))).astype(np.float32)        # values in (0, 1]
        out.append(X)
    return out


def _runner(mode, batches, seed=0):
    import numpy as np

    import vae_np
    from vae_np.fast.backends import first_layer
    from vae_np.train import make_step
    model = vae_np.VAE(D, [H], K, seed=seed)
    step = make_step(model, vae_np.Adam(1e-3))
    rng = np.random.default_rng(seed)

    def run(steps):
        with first_layer(mode):
            for s in range(steps):
                eps = rng.standard_normal((BATCH, K), dtype=np.float32)
                loss, problem = step(batches[s % len(batches)], eps)
                assert problem is None, problem
    return run


def measure(rounds, steps):
    rows = []
    for grey in (False, True):
        for p in DENSITIES if not grey else (0.13, 0.2, 0.3):
            batches = _batches(p, grey)
            runs = {mode: _runner(mode, batches) for mode in ("dense", "sparse")}
            for run in runs.values():
                run(5)
            rates = {mode: [] for mode in runs}
            cpu = {mode: [] for mode in runs}
            for r in range(rounds):
                for mode in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
                    t0, c0 = time.perf_counter(), time.process_time()
                    runs[mode](steps)
                    rates[mode].append(steps / (time.perf_counter() - t0))
                    cpu[mode].append(steps / (time.process_time() - c0))
            med = {m: statistics.median(v) for m, v in rates.items()}
            mcpu = {m: statistics.median(v) for m, v in cpu.items()}
            rows.append({"density": p, "grey": grey, "dense": med["dense"],
                         "sparse": med["sparse"], "ratio": med["sparse"] / med["dense"],
                         "cpu_ratio": mcpu["sparse"] / mcpu["dense"], "raw": rates,
                         "raw_cpu": cpu})
    return rows


def crossover(rows, key="ratio"):
    """The density where sparse / dense passes 1 (linear interpolation), from binary rows."""
    pts = [(r["density"], r[key]) for r in rows if not r["grey"]]
    for (p0, r0), (p1, r1) in zip(pts, pts[1:]):
        if r0 >= 1 > r1:
            return p0 + (r0 - 1) * (p1 - p0) / (r0 - r1)
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--json")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child is not None:
        print(json.dumps(measure(a.rounds, a.steps)))
        return
    out = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
           "machine": machine_info(), "loadavg_at_start": os.getloadavg(),
           "command": " ".join(["python", *sys.argv]), "runs": []}
    for t in (int(s) for s in a.threads.split(",")):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(t), "--rounds",
               str(a.rounds), "--steps", str(a.steps)]
        if t == 1 and shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            raise SystemExit(f"child for {t} thread(s) failed")
        rows = json.loads(proc.stdout.strip().splitlines()[-1])
        x, xc = crossover(rows), crossover(rows, "cpu_ratio")
        print(f"\n== {t} thread(s): crossover density (wall clock) "
              + (f"{x:.2f}" if x is not None else "not in the range measured")
              + "; from CPU time " + (f"{xc:.2f}" if xc is not None else "-"))
        print(f"{'density':>8s} {'values':>7s} {'dense':>8s} {'sparse':>8s} {'sparse/dense':>13s}"
              f" {'(CPU time)':>11s}")
        for r in rows:
            print(f"{r['density']:8.2f} {'grey' if r['grey'] else '0/1':>7s} {r['dense']:8.1f} "
                  f"{r['sparse']:8.1f} {r['ratio']:13.2f} {r['cpu_ratio']:11.2f}")
        out["runs"].append({"threads": t, "crossover": x, "crossover_cpu": xc, "rows": rows})
    out["loadavg_at_end"] = os.getloadavg()
    if a.json:                      # whole or not at all, even if the process is killed
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        write_atomically(pathlib.Path(a.json), lambda f: json.dump(out, f, indent=1),
                         binary=False)
        print(f"\nwrote {a.json}")


if __name__ == "__main__":
    main()
