"""Helpers of the fast-path tests: every kernel and step is compared with the nn reference."""
import numba
import numpy as np
import pytest

#: Under NUMBA_DISABLE_JIT=1 the kernels run as Python loops: keep such tests small, and skip
#: the ones that measure what compiled code does (allocation, speed-sized arrays).
JIT_DISABLED = bool(numba.config.DISABLE_JIT)
needs_jit = pytest.mark.skipif(JIT_DISABLED, reason="measures compiled kernels")

DTYPES = [np.float32, np.float64]


def batch(rng, n, d, k, dtype):
    """Binary-ish data with a few grey values, and standard normal noise."""
    X = (rng.random((n, d)) < 0.4).astype(dtype)
    X[0, :3] = [0.25, 0.5, 1.0]
    eps = rng.standard_normal((n, k)).astype(dtype)
    return X, eps


def copied(grads):
    return {k: g.copy() for k, g in grads.items()}


def assert_grads_close(got, ref, rtol):
    assert got.keys() == ref.keys()
    for name in ref:
        scale = max(np.abs(ref[name]).max(), 1e-30)
        err = np.abs(got[name] - ref[name]).max() / scale
        assert err < rtol, f"{name}: relative error {err:.2e}"
