"""Training-step speed of two checkouts of this repository, side by side.

Usage:  python benchmarks/compare_revisions.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 5]
            [--threads 1,2] [--steps 60]

Runs each checkout's own ``benchmarks/bench_train_step.py`` (so each measures its own code the
way its own benchmark does) in separate processes, alternately (old, new, old, new, ...), with
that checkout first on ``PYTHONPATH``. One-thread runs are pinned to one core with ``taskset``.
Prints, per thread count, the median over the rounds of each side's "vae_np numba" steps per
second (the step that ``vae_np.fit`` runs) and their ratio, new / old. Make a checkout of an
older commit with ``git worktree add /tmp/old COMMIT``.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one_run(checkout, threads, steps):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [sys.executable, str(checkout / "benchmarks" / "bench_train_step.py"),
               "--threads", str(threads), "--rounds", "1", "--steps", str(steps), "--no-torch",
               "--json", str(out)]
        if threads == 1 and shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        subprocess.run(cmd, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL)
        rows = json.loads(out.read_text())["runs"][0]["summary"]["rows"]
    return next(r["median"] for r in rows if r["variant"] == "vae_np numba")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args(argv)
    for checkout in (args.old, args.new):
        if not (checkout / "benchmarks" / "bench_train_step.py").is_file():
            p.error(f"{checkout} has no benchmarks/bench_train_step.py")
    for threads in (int(t) for t in args.threads.split(",")):
        speeds = {"old": [], "new": []}
        for _ in range(args.rounds):
            for side, checkout in (("old", args.old), ("new", args.new)):
                speeds[side].append(one_run(checkout.resolve(), threads, args.steps))
        old, new = (statistics.median(speeds[s]) for s in ("old", "new"))
        print(f"{threads} thread(s), {args.rounds} alternating rounds: old median {old:.1f} "
              f"steps/s {sorted(round(v, 1) for v in speeds['old'])}, new median {new:.1f} "
              f"steps/s {sorted(round(v, 1) for v in speeds['new'])}: new / old = {new / old:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
