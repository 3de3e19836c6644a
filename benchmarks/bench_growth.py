"""How the cost of a training step grows with the batch size and the hidden width, per library.

Usage (from the repository root)::

    python benchmarks/bench_growth.py --rounds 3 --json benchmarks/results/growth.json

One thread, pinned to core 0 (``taskset``), for every library (``OPENBLAS/OMP/MKL_NUM_THREADS=1``,
``XLA_FLAGS`` for JAX, ``torch.set_num_threads(1)``). The step is ``benchmarks/peers.py``'s, on
the MNIST-like binary data of ``peers.make_data`` (13% ones), with a 784-h-20 VAE:

* batch size 32, 128, 512, 1024 at h = 400; hidden width 200, 400, 1000 at batch 128;
* variants: vae_np (``fit``'s step, first layer ``"auto"``: sparse on this data), vae_np with
  the first layer forced dense, JAX ``jit``, PyTorch eager (default Adam);
* every configuration runs its variants interleaved for ``--rounds`` rounds; medians of
  steps/s, and examples/s (steps/s times the batch size).

Then one epoch of ``vae_np.fit`` (batch 128, dynamic binarization, Adam) on the 60,000 x 784
float32 array, timed, with the peak of memory traced by ``tracemalloc`` during the epoch and the
growth of the process's maximum resident set size, both as fractions of the array's size.
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
import peers  # noqa: E402
from bench_train_step import machine_info  # noqa: E402

from vae_np._tempfiles import write_atomically  # noqa: E402

CONFIGS = [(32, 400), (128, 400), (512, 400), (1024, 400), (128, 200), (128, 1000)]


def measure(rounds, seconds):
    X = peers.make_data()
    out = []
    for n, h in CONFIGS:
        variants = {"vae_np": peers.vae_np_runner(X, n=n, h=h),
                    "vae_np dense": peers.vae_np_runner(X, first_layer="dense", n=n, h=h)}
        try:
            variants["jax jit"] = peers.jax_runner(X, n=n, h=h)
        except ImportError:
            pass
        try:
            variants["torch eager"] = peers.torch_runner(X, 1, n=n, h=h)
        except ImportError:
            pass
        steps = {}
        for name, run in variants.items():           # warm up, then size runs to ~seconds each
            run(3)
            t0 = time.perf_counter()
            run(3)
            steps[name] = max(3, int(seconds / ((time.perf_counter() - t0) / 3)))
        rates = {name: [] for name in variants}
        names = list(variants)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                t0 = time.perf_counter()
                variants[name](steps[name])
                rates[name].append(steps[name] / (time.perf_counter() - t0))
        med = {name: statistics.median(v) for name, v in rates.items()}
        out.append({"batch": n, "hidden": h, "steps_per_s": med, "raw": rates})
        print(json.dumps(out[-1]), file=sys.stderr)
    return out


def epoch_memory(seed=0):
    import resource
    import tracemalloc

    import vae_np
    X = peers.make_data(seed=seed)
    model = vae_np.VAE(peers.D, [400], peers.K, seed=seed)
    vae_np.fit(model, X[:256], 1, 128, vae_np.Adam(1e-3), seed=seed, progress=False)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    vae_np.fit(model, X, 1, 128, vae_np.Adam(1e-3), seed=seed, progress=False,
               dynamic_binarization=True)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"epoch_seconds": seconds, "data_bytes": X.nbytes, "traced_peak_bytes": peak,
            "traced_peak_copies": peak / X.nbytes, "maxrss_growth_bytes": rss1 - rss0,
            "maxrss_growth_copies": (rss1 - rss0) / X.nbytes, "density": float(X.mean())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=0.4, help="length of one timed run")
    p.add_argument("--json")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps({"rows": measure(a.rounds, a.seconds), "epoch": epoch_memory()}))
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--rounds", str(a.rounds),
           "--seconds", str(a.seconds)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    start = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
             "machine": machine_info(), "loadavg_at_start": os.getloadavg(),
             "command": " ".join(["python", *sys.argv])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit("the measuring child failed")
    res = dict(start, **json.loads(proc.stdout.strip().splitlines()[-1]),
               loadavg_at_end=os.getloadavg())
    print(markdown(res))
    if a.json:                      # whole or not at all, even if the process is killed
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        write_atomically(pathlib.Path(a.json), lambda f: json.dump(res, f, indent=1),
                         binary=False)
        print(f"\nwrote {a.json}")


def markdown(res):
    names = list(res["rows"][0]["steps_per_s"])
    lines = ["| batch | hidden | " + " | ".join(f"{n} steps/s" for n in names)
             + " | vae_np / jax | vae_np / torch |",
             "| ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: |"]
    for r in res["rows"]:
        s = r["steps_per_s"]
        ratio = [f"{s['vae_np'] / s[o]:.2f}x" if o in s else "-" for o in ("jax jit", "torch eager")]
        lines.append(f"| {r['batch']} | {r['hidden']} | "
                     + " | ".join(f"{s[n]:.1f}" for n in names) + " | " + " | ".join(ratio) + " |")
    e = res["epoch"]
    lines += ["", f"One epoch of `vae_np.fit` (60,000 x 784, batch 128, 469 steps): "
              f"{e['epoch_seconds']:.1f} s; peak traced memory {e['traced_peak_bytes'] / 1e6:.1f} MB "
              f"= {e['traced_peak_copies']:.3f} copies of the {e['data_bytes'] / 1e6:.1f} MB array; "
              f"max RSS grew by {e['maxrss_growth_bytes'] / 1e6:.1f} MB "
              f"({e['maxrss_growth_copies']:.3f} copies)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
