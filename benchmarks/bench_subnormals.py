"""What subnormal numbers in Adam's running averages cost a long training run (one core).

Trains the 784-400-20 VAE of ``bench_train_step.py`` (the same data, batches and Adam) with
``vae_np``'s step for ``--blocks`` blocks of ``--steps`` steps, timing each block and counting
the entries of Adam's ``m`` and ``v`` that are subnormal (nonzero, below the smallest normal
float32) at its end. Two variants, each in a fresh process, alternating over ``--rounds``:

* ``flush``: ``vae_np`` as it is: a running average below the smallest normal float is stored
  as 0 (``vae_np.nn.optim.flush_subnormals``, the same rule in the fused update);
* ``no flush``: the same step with the fused Adam kernel replaced by the one without that rule
  (the kernel ``vae_np`` had before), defined below.

Both start from the same weights and see the same batches and noise, so the report also says
whether their parameters after the last block are bit for bit the same. 1 BLAS thread, pinned
to core 0 (``taskset``), as the 1-thread figures of ``bench_train_step.py``.

Usage: ``python benchmarks/bench_subnormals.py --rounds 3 --json benchmarks/results/subnormals.json``
"""
from __future__ import annotations

import argparse
import hashlib
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

VARIANTS = ("flush", "no flush")
WARMUP = 5          # untimed steps before the first block (compilation, buffers)


def _adam_without_flush():
    """The fused Adam kernel without the flush (same signature as ``flat._adam_nb``)."""
    import numpy as np

    from vae_np.fast._jit import njit

    @njit
    def adam_nb(p, g, m, v, lr_t, b1, b2, one_minus_b1, one_minus_b2, eps_t, tiny):
        for i in range(p.size):
            gi = g[i]
            mi = b1 * m[i] + one_minus_b1 * gi
            vi = b2 * v[i] + one_minus_b2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= lr_t * mi / (np.sqrt(vi) + eps_t)
    return adam_nb


def train(variant, blocks, steps, n=128, h=400, seed=0):
    """Steps/s and subnormal counts per block, and a digest of the final parameters."""
    import numpy as np

    from vae_np.fast import flat

    if variant == "no flush":
        flat._adam_nb = _adam_without_flush()
    run = peers.vae_np_runner(peers.make_data(), n=n, h=h, seed=seed)   # fit's step, Adam
    model, opt = run.model, run.optimizer
    tiny = np.finfo(np.float32).tiny

    def subnormal(slot):
        return int(sum(np.count_nonzero((a != 0) & (np.abs(a) < tiny))
                       for a in (s[slot] for s in opt.state.values())))

    run(WARMUP)
    out = {"steps_per_s": [], "subnormal_m": [], "subnormal_v": []}
    for _ in range(blocks):
        t0 = time.perf_counter()
        run(steps)
        out["steps_per_s"].append(steps / (time.perf_counter() - t0))
        out["subnormal_m"].append(subnormal(0))
        out["subnormal_v"].append(subnormal(1))
    digest = hashlib.sha256()
    for name in sorted(model.params):
        digest.update(np.ascontiguousarray(model.params[name]).tobytes())
    out["params_sha256"] = digest.hexdigest()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="processes of each variant, alternating")
    p.add_argument("--blocks", type=int, default=12, help="timed blocks per process")
    p.add_argument("--steps", type=int, default=300, help="training steps per block")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(train(a.child, a.blocks, a.steps)))
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = {"machine": machine_info(), "command": " ".join(["python", *sys.argv]),
           "warmup_steps": WARMUP, "blocks": a.blocks, "steps_per_block": a.steps,
           "runs": {v: [] for v in VARIANTS}}
    for r in range(a.rounds):
        for variant in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", variant,
                   "--blocks", str(a.blocks), "--steps", str(a.steps)]
            if shutil.which("taskset"):
                cmd = ["taskset", "-c", "0", *cmd]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"the {variant!r} process failed")
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            res["runs"][variant].append(run)
            print(f"{variant:9s} steps/s per block: "
                  + " ".join(f"{x:.0f}" for x in run["steps_per_s"])
                  + f"; subnormal entries of m at the end: {run['subnormal_m'][-1]:,}")
    per_block = {v: [statistics.median(run["steps_per_s"][b] for run in res["runs"][v])
                     for b in range(a.blocks)] for v in VARIANTS}
    last_half = {v: statistics.median(x for run in res["runs"][v]
                                      for x in run["steps_per_s"][a.blocks // 2:])
                 for v in VARIANTS}
    res["summary"] = {
        "median_steps_per_s_by_block": per_block,
        "median_steps_per_s_second_half": last_half,
        "flush_over_no_flush_second_half": last_half["flush"] / last_half["no flush"],
        "subnormal_m_at_end": {v: [run["subnormal_m"][-1] for run in res["runs"][v]]
                               for v in VARIANTS},
        "subnormal_v_at_end": {v: [run["subnormal_v"][-1] for run in res["runs"][v]]
                               for v in VARIANTS},
        "params_identical": len({run["params_sha256"] for v in VARIANTS
                                 for run in res["runs"][v]}) == 1,
    }
    s = res["summary"]
    print(f"\nsecond half of the run ({a.blocks // 2 * a.steps:,} steps on): flush "
          f"{last_half['flush']:.1f}, no flush {last_half['no flush']:.1f} steps/s "
          f"({s['flush_over_no_flush_second_half']:.2f}x); parameters after "
          f"{a.blocks * a.steps + WARMUP:,} steps bit for bit the same: {s['params_identical']}")
    if a.json:                      # whole or not at all, even if the process is killed
        write_atomically(pathlib.Path(a.json), lambda f: json.dump(res, f, indent=1),
                         binary=False)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
