"""numba's on-disk cache can never stop ``import vae_np`` or a training step.

* An unwritable ``NUMBA_CACHE_DIR`` used to make ``import vae_np`` fail with numba's "cannot cache
  function ...: no locator available"; vae_np now warns and caches in a temp folder.
* A corrupted cache file used to make the first step fail with an ``UnpicklingError`` from numba's
  internals; vae_np now warns, removes it, compiles again and re-caches.
* With no writable folder at all, the kernels are compiled without a cache.

Real processes with their own ``NUMBA_CACHE_DIR``, so the shared cache is never touched.
``NUMBA_CACHE_LOCATOR_CLASSES=UserProvidedCacheLocator`` makes numba use ``NUMBA_CACHE_DIR`` only
(no fallback next to the source), as on a read-only install.
"""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from fast_helpers import needs_jit

from vae_np.fast import _jit

STEP = """
import numpy as np
import vae_np
from vae_np.fast import elementwise, flat
Z = np.ones((3, 4), np.float32)
elementwise.bias_act_forward(Z, np.ones(4, np.float32), "relu")
assert flat.all_finite(Z) and Z[0, 0] == 2
print("OK")
"""


def run(env_updates, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), TMPDIR=str(tmp_path / "tmp"),
               NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator", **env_updates)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", STEP], env=env, capture_output=True, text=True,
                          timeout=600)


def cache_files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc"))


@needs_jit
def test_unwritable_numba_cache_dir_falls_back_with_a_warning(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    bad = tmp_path / "a_file" / "cache"                  # cannot be created, even by root
    out = run({"NUMBA_CACHE_DIR": str(bad)}, tmp_path)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
    assert f"NUMBA_CACHE_DIR={bad} is not a folder that can be written" in out.stderr
    assert "Set NUMBA_CACHE_DIR to a folder you can write to" in out.stderr
    assert "no locator" not in out.stderr and "Traceback" not in out.stderr
    assert cache_files(tmp_path / "tmp")                 # cached in the temp folder instead


@needs_jit
def test_a_corrupted_cache_is_removed_and_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    first = run({"NUMBA_CACHE_DIR": str(cache)}, tmp_path)
    assert first.returncode == 0 and "Warning" not in first.stderr, first.stderr[-3000:]
    files = cache_files(cache)
    assert any(p.suffix == ".nbi" for p in files) and any(p.suffix == ".nbc" for p in files)
    for i, p in enumerate(files):                        # garbage and truncation, both kinds
        data = p.read_bytes()
        p.write_bytes(b"garbage\n" if i % 2 else data[: len(data) // 2])
    second = run({"NUMBA_CACHE_DIR": str(cache)}, tmp_path)
    assert second.returncode == 0 and "OK" in second.stdout, second.stderr[-3000:]
    assert "NumbaCacheWarning" in second.stderr and "could not be read" in second.stderr
    assert "compiled again" in second.stderr and "Traceback" not in second.stderr
    third = run({"NUMBA_CACHE_DIR": str(cache)}, tmp_path)
    assert third.returncode == 0 and "Warning" not in third.stderr, third.stderr[-3000:]


def test_no_writable_folder_at_all_compiles_without_a_cache(monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/nonexistent/cache")
    monkeypatch.setattr(_jit, "_writable", lambda path: False)
    monkeypatch.setitem(_jit._state, "cache", True)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    with pytest.warns(_jit.NumbaCacheWarning, match="compiled in every process, without a cache"):
        _jit._ensure_cache_dir()
    assert _jit._state["cache"] is False

    @_jit.njit
    def twice(a):
        return 2 * a

    assert twice(np.float32(1.5)) == 3.0


def test_no_locator_at_decoration_time_falls_back_to_no_cache(monkeypatch):
    real = numba.njit

    def picky(**options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x.py'")
        return real(**options)

    monkeypatch.setattr(_jit.numba, "njit", picky)
    monkeypatch.setitem(_jit._state, "cache", True)
    with pytest.warns(_jit.NumbaCacheWarning, match="found no folder to cache"):
        f = _jit.njit(lambda a: a + 1)
    assert f(1) == 2 and _jit._state["cache"] is False
