"""Pool the paired rounds of several ``bench_train_step.py`` runs into one ratio with an interval.

Usage (from the repository root)::

    python benchmarks/pool_runs.py RUN1.json RUN2.json ... --json pooled.json   # runs of one code

Why: on a shared machine one run's median moves by 10-30% from run to run (``README.md``), so
a single run says little about a ratio near a target. Within a round of ``bench_train_step.py``
each variant runs once, a few seconds from the others, so the ratio of two variants *in the
same round* is a paired measurement: a spell of load that lasts the round slows both. (In the
runs of ``README.md`` the pairing removed a fifth of the variance of the log ratio to JAX within
a run with one thread, a third with two.) This script takes, for each thread count, every round
of every run given, and reports

* the median over all rounds of the paired ratio ``a / b`` (``a`` = ``vae_np numba`` and ``b``
  = each peer, by default). That is the median of the ratios, not the ratio of the medians,
  which would mix in how the load differed between runs; a run of more rounds weighs more;
* an interval of about 95% for that median by a two-level bootstrap: resample the runs (with
  replacement), then the rounds within each resampled run, 2,000 times. Rounds of one run share
  the machine's state, so resampling rounds alone would claim more certainty than there is;
  resampling both counts the spread within a run twice, so the interval errs on the wide side,
  and with ten-odd runs its 95% is approximate;
* how many runs and rounds went in, the range of the runs' own medians of the paired ratio,
  and how many rounds reached the target;
* the same median within the thirds of the rounds ordered by the machine's speed in that round
  (the 1024^3 float32 GEMM that every round times with NumPy's BLAS, ``peak_gflops``): how the
  ratio moves with the load from outside that the shared machine is under.

Only runs of the same code should be pooled: the caller lists the files. Deterministic (the
bootstrap's generator is seeded by ``--seed``).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics

import numpy as np

from vae_np._tempfiles import write_atomically

DEFAULT_PAIRS = (("vae_np numba", "jax jit", 1.3), ("vae_np numba", "torch eager", 1.7))


def paired_ratios(runs, a, b, threads):
    """Per run that has both variants at ``threads`` threads, the list of its rounds' ratios
    ``a / b`` of steps/s (a variant that runs at all runs in every round of its run)."""
    out = []
    for run in runs:
        for part in run["runs"]:
            raw = part["raw"]
            if raw["threads"] != threads:
                continue
            s = raw["steps_per_s"]
            if a in s and b in s:
                if len(s[a]) != len(s[b]) or not s[a] or min(s[a] + s[b]) <= 0:
                    raise ValueError(f"pool_runs.py: a run at {threads} thread(s) has rounds of "
                                     f"{a!r} and {b!r} that do not pair up (none, different "
                                     "counts or a speed <= 0); pool only files written by "
                                     "bench_train_step.py --json")
                out.append([x / y for x, y in zip(s[a], s[b])])
    return out


def ratios_by_machine_speed(runs, a, b, threads):
    """``(GEMM GFLOP/s of the round, ratio a / b)`` for every round that recorded NumPy's GEMM
    peak, sorted by the GEMM speed (slowest round first)."""
    out = []
    for run in runs:
        for part in run["runs"]:
            raw = part["raw"]
            s, peaks = raw["steps_per_s"], raw.get("peak_gflops", {}).get("numpy")
            if raw["threads"] == threads and a in s and b in s and peaks \
                    and len(peaks) == len(s[a]) == len(s[b]):
                out.extend((g, x / y) for g, x, y in zip(peaks, s[a], s[b]))
    return sorted(out)


def by_thirds(pairs):
    """For the slowest, middle and fastest third of ``pairs`` (sorted by their first item):
    the range of the first item and the median of the second."""
    n = len(pairs)
    parts = [pairs[k * n // 3:(k + 1) * n // 3] for k in range(3)]
    return [{"gemm_gflops": [p[0][0], p[-1][0]], "median": statistics.median(r for _, r in p),
             "rounds": len(p)} for p in parts]


def bootstrap_median(groups, n_boot=2000, seed=0):
    """The median of all values and a (about) 95% two-level bootstrap interval for it.

    Parameters
    ----------
    groups : list of list of float
        The values, grouped by run.
    n_boot : int
    seed : int

    Returns
    -------
    median, low, high : float
    """
    rng = np.random.default_rng(seed)
    every = [x for g in groups for x in g]
    medians = np.empty(n_boot)
    for k in range(n_boot):
        sample = []
        for j in rng.integers(len(groups), size=len(groups)):      # runs, with replacement
            g = groups[j]
            sample.extend(g[i] for i in rng.integers(len(g), size=len(g)))   # its rounds
        medians[k] = np.median(sample)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(np.median(every)), float(low), float(high)


def pool(files, pairs=DEFAULT_PAIRS, seed=0):
    """The pooled report of ``files`` (JSON written by ``bench_train_step.py --json``)."""
    runs = []
    for path in files:
        with open(path) as f:
            runs.append(json.load(f))
    warmups = {p["raw"].get("warmup_steps", 5) for r in runs for p in r["runs"]}
    if len(warmups) > 1:
        raise SystemExit("pool_runs.py: these runs warmed up for different numbers of steps "
                         f"({', '.join(map(str, sorted(warmups)))}: bench_train_step.py "
                         "--warmup); pool runs of one warm-up only")
    threads = sorted({p["raw"]["threads"] for r in runs for p in r["runs"]})
    rows = []
    for t in threads:
        for a, b, target in pairs:
            groups = paired_ratios(runs, a, b, t)
            if not groups:
                continue
            med, low, high = bootstrap_median(groups, seed=seed)
            every = [x for g in groups for x in g]
            run_medians = [statistics.median(g) for g in groups]
            speed = ratios_by_machine_speed(runs, a, b, t)
            rows.append({"threads": t, "a": a, "b": b, "target": target, "median": med,
                         "low": low, "high": high, "runs": len(groups), "rounds": len(every),
                         "rounds_at_target": sum(x >= target for x in every),
                         "run_medians_min": min(run_medians),
                         "run_medians_max": max(run_medians),
                         "by_machine_speed": by_thirds(speed) if len(speed) >= 6 else None})
    return {"files": [os.path.relpath(p) for p in files], "warmup_steps": warmups.pop(),
            "dates_utc": [r["machine"]["date_utc"] for r in runs], "rows": rows}


def markdown(report):
    lines = ["| threads | ratio | runs | rounds | median of the paired ratios | 95% interval "
             "(bootstrap) | per-run medians of the paired ratios | rounds at the target |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["rows"]:
        lines.append(f"| {r['threads']} | {r['a']} / {r['b']} (target {r['target']}x) | "
                     f"{r['runs']} | {r['rounds']} | **{r['median']:.3f}x** | "
                     f"{r['low']:.3f}-{r['high']:.3f}x | {r['run_medians_min']:.2f}-"
                     f"{r['run_medians_max']:.2f}x | {r['rounds_at_target']} of {r['rounds']} |")
    thirds = [r for r in report["rows"] if r.get("by_machine_speed")]
    if thirds:
        lines += ["", "By the machine's speed in the round (NumPy's 1024^3 float32 GEMM, GFLOP/s): "
                  "median of the paired ratios in each third of the rounds", "",
                  "| threads | ratio | slowest third | middle third | fastest third |",
                  "| ---: | --- | ---: | ---: | ---: |"]
        for r in thirds:
            cells = [f"**{p['median']:.3f}x** ({p['rounds']} rounds at {p['gemm_gflops'][0]:.0f}-"
                     f"{p['gemm_gflops'][1]:.0f})" for p in r["by_machine_speed"]]
            lines.append(f"| {r['threads']} | {r['a']} / {r['b']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+", help="JSON files written by bench_train_step.py --json")
    p.add_argument("--json", help="also write the report to this file")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap's generator")
    a = p.parse_args(argv)
    report = pool(a.files, seed=a.seed)
    if not report["rows"]:
        raise SystemExit("pool_runs.py: no run in these files has both variants of a pair "
                         f"({', '.join(f'{x} / {y}' for x, y, _ in DEFAULT_PAIRS)})")
    print(markdown(report))
    if a.json:                      # whole or not at all, even if the process is killed
        write_atomically(pathlib.Path(a.json), lambda f: json.dump(report, f, indent=1), binary=False)


if __name__ == "__main__":
    main()
