"""benchmarks/pool_runs.py: the paired rounds of several benchmark runs, pooled."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
import pool_runs  # noqa: E402


def _run(path, rounds_by_threads, date="2026-12-01 00:00"):
    """A file shaped like bench_train_step.py's --json output."""
    runs = [{"raw": {"threads": t, "steps_per_s": steps}} for t, steps in rounds_by_threads.items()]
    path.write_text(json.dumps({"machine": {"date_utc": date}, "runs": runs}))
    return str(path)


def test_ratios_are_paired_within_a_round(tmp_path):
    # the machine's speed drifts by 3x across the rounds; within a round vae_np is 1.2x, 1.8x or
    # 1.1x as fast: the median of the paired ratios is 1.2, the ratio of the medians 1.65
    jax = [100.0, 200.0, 300.0]
    vae = [120.0, 360.0, 330.0]
    f = _run(tmp_path / "a.json", {1: {"vae_np numba": vae, "jax jit": jax}})
    assert pool_runs.paired_ratios([json.load(open(f))], "vae_np numba", "jax jit", 1) == \
        [pytest.approx([1.2, 1.8, 1.1])]
    assert np.median(vae) / np.median(jax) == pytest.approx(1.65)
    row = pool_runs.pool([f])["rows"][0]
    assert (row["threads"], row["runs"], row["rounds"]) == (1, 1, 3)
    assert row["median"] == pytest.approx(1.2)
    assert 1.1 - 1e-9 <= row["low"] < 1.2 < row["high"] <= 1.8 + 1e-9
    assert row["rounds_at_target"] == 1                # 1.8 >= 1.3; 1.2 and 1.1 are not


def _rounds_only_interval(groups, n_boot=2000, seed=0):
    """The bootstrap that resamples the pooled rounds and ignores the runs (what pool_runs does
    not do)."""
    rng = np.random.default_rng(seed)
    every = np.array([x for g in groups for x in g])
    medians = [np.median(every[rng.integers(every.size, size=every.size)])
               for _ in range(n_boot)]
    return np.percentile(medians, [2.5, 97.5])


def test_interval_covers_the_spread_of_the_runs_and_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for k, level in enumerate((1.2, 1.3, 1.4, 1.25, 1.35)):     # run-to-run shifts
        jax = list(rng.uniform(90, 110, size=7))
        vae = [level * j * rng.uniform(0.97, 1.03) for j in jax]
        files.append(_run(tmp_path / f"r{k}.json", {2: {"vae_np numba": vae, "jax jit": jax}}))
    first = pool_runs.pool(files, seed=3)
    assert first == pool_runs.pool(files, seed=3)
    row = first["rows"][0]
    assert (row["runs"], row["rounds"]) == (5, 35)
    assert row["low"] < row["median"] < row["high"]
    # resampling the runs too makes the interval wider than resampling the 35 rounds would
    groups = pool_runs.paired_ratios([json.load(open(f)) for f in files], "vae_np numba",
                                     "jax jit", 2)
    low, high = _rounds_only_interval(groups, seed=3)
    assert row["high"] - row["low"] > 1.5 * (high - low)
    assert 1.2 < row["low"] < 1.25 and 1.35 < row["high"] < 1.4
    assert row["run_medians_min"] == pytest.approx(1.2, abs=0.03)
    assert row["run_medians_max"] == pytest.approx(1.4, abs=0.03)


def test_thread_counts_and_missing_variants(tmp_path):
    # torch absent: only the JAX pair is reported; the two thread counts are kept apart
    f = _run(tmp_path / "a.json", {1: {"vae_np numba": [131.0] * 3, "jax jit": [100.0] * 3},
                                   2: {"vae_np numba": [280.0] * 3, "jax jit": [200.0] * 3}})
    # a run whose 2-thread half lost vae_np: it counts at 1 thread only
    g = _run(tmp_path / "b.json", {1: {"vae_np numba": [120.0] * 3, "jax jit": [100.0] * 3},
                                   2: {"jax jit": [200.0] * 3}})
    rows = pool_runs.pool([f, g])["rows"]
    assert [(r["threads"], r["b"], r["runs"]) for r in rows] == [(1, "jax jit", 2),
                                                                 (2, "jax jit", 1)]
    assert rows[1]["median"] == pytest.approx(1.4)
    assert [r["rounds_at_target"] for r in rows] == [3, 3]


def test_rounds_that_do_not_pair_up_are_refused(tmp_path):
    for bad in ([150.0, 140.0, 130.0], [150.0, 0.0]):
        f = _run(tmp_path / "a.json", {1: {"vae_np numba": bad, "jax jit": [100.0, 100.0]}})
        with pytest.raises(ValueError, match="do not pair up"):
            pool_runs.pool([f])


def test_main_writes_the_report_whole_and_refuses_files_without_a_pair(tmp_path, capsys):
    f = _run(tmp_path / "a.json", {1: {"vae_np numba": [150.0, 140.0], "jax jit": [100.0] * 2}})
    out = tmp_path / "pooled.json"
    pool_runs.main([f, "--json", str(out)])
    assert "**1.450x**" in capsys.readouterr().out
    assert json.loads(out.read_text())["rows"][0]["median"] == pytest.approx(1.45)
    assert sorted(os.listdir(tmp_path)) == ["a.json", "pooled.json"]     # no temp file left
    lonely = _run(tmp_path / "b.json", {1: {"vae_np numba": [150.0]}})
    with pytest.raises(SystemExit, match="no run in these files has both variants"):
        pool_runs.main([lonely])


def test_ratios_by_the_machine_speed_of_the_round(tmp_path):
    # the ratio is 1.2 in the rounds where the GEMM peak was slow, 1.4 where it was fast; the
    # thirds are cut by the peak, not by the order of the rounds or files
    runs = []
    for k, (peaks, ratio) in enumerate((([50.0, 95.0, 52.0], [1.2, 1.4, 1.2]),
                                        ([94.0, 70.0, 51.0], [1.4, 1.3, 1.2]),
                                        ([71.0, 72.0, 96.0], [1.3, 1.3, 1.4]))):
        jax = [100.0, 110.0, 90.0]
        path = tmp_path / f"r{k}.json"
        path.write_text(json.dumps({"machine": {"date_utc": "2026-12-02 00:00"}, "runs": [
            {"raw": {"threads": 1, "peak_gflops": {"numpy": peaks},
                     "steps_per_s": {"vae_np numba": [r * j for r, j in zip(ratio, jax)],
                                     "jax jit": jax}}}]}))
        runs.append(str(path))
    row = pool_runs.pool(runs)["rows"][0]
    slow, middle, fast = row["by_machine_speed"]
    assert [p["rounds"] for p in (slow, middle, fast)] == [3, 3, 3]
    assert slow["median"] == pytest.approx(1.2) and fast["median"] == pytest.approx(1.4)
    assert middle["median"] == pytest.approx(1.3)
    assert slow["gemm_gflops"] == [50.0, 52.0] and fast["gemm_gflops"] == [94.0, 96.0]
    assert "fastest third" in pool_runs.markdown(pool_runs.pool(runs))
    # files without the GEMM peak (older runs) get no breakdown
    f = _run(tmp_path / "old.json", {1: {"vae_np numba": [120.0] * 7, "jax jit": [100.0] * 7}})
    assert pool_runs.pool([f])["rows"][0]["by_machine_speed"] is None


def test_runs_of_different_warm_ups_are_not_pooled(tmp_path):
    rounds = {1: {"vae_np numba": [120.0] * 7, "jax jit": [100.0] * 7}}
    early = _run(tmp_path / "early.json", rounds)                # older files: 5 warm-up steps
    late = json.loads(open(_run(tmp_path / "late.json", rounds)).read())
    late["runs"][0]["raw"]["warmup_steps"] = 3000
    (tmp_path / "late.json").write_text(json.dumps(late))
    with pytest.raises(SystemExit, match="different numbers of steps.*5, 3000"):
        pool_runs.pool([early, str(tmp_path / "late.json")])
    assert pool_runs.pool([str(tmp_path / "late.json")])["warmup_steps"] == 3000
    assert pool_runs.pool([early])["warmup_steps"] == 5
