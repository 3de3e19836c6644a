"""Shared pytest setup: wire in the nbval sanitize file by absolute path (works from any folder),
and the helpers that several test files use (``book/conftest.py`` loads this file by path for
``pytest_configure`` only).

Fixtures
--------
small_model
    A factory for the small ``VAE(10, [6], 2)`` (or another class with that architecture).
assert_same_params
    Asserts that two models have the same parameter names and bit-identical arrays.
plt
    ``matplotlib.pyplot`` on the non-interactive Agg backend; every figure is closed afterwards.
"""
from pathlib import Path

import numpy as np
import pytest

SANITIZE = Path(__file__).resolve().parent / "sanitize.cfg"


def pytest_configure(config):
    # `pytest --nbval` compares stored notebook outputs; this file masks what legitimately varies
    # between runs (memory addresses, tqdm rates and timings, paths).
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE)


@pytest.fixture
def small_model():
    """``small_model(cls=VAE, seed=0, **kw)`` builds ``cls(10, [6], 2, seed=seed, **kw)``."""
    import vae_np

    def build(cls=None, seed=0, **kwargs):
        return (cls or vae_np.VAE)(10, [6], 2, seed=seed, **kwargs)
    return build


def _assert_same_params(a, b):
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)


@pytest.fixture
def assert_same_params():
    """``assert_same_params(a, b)``: the same parameter names and bit-identical arrays."""
    return _assert_same_params


@pytest.fixture
def plt():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    yield pyplot
    pyplot.close("all")
