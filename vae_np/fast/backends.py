"""Which training step :func:`vae_np.fit` runs: the fast one (``"numba"``) or the reference.

``"numba"`` (the default) lets ``fit`` use the fused step of :mod:`vae_np.fast.step` and the
one-call optimizer update of :mod:`vae_np.fast.flat` whenever they support the model and
optimizer; ``"numpy"`` makes it run the readable reference path of :mod:`vae_np.nn`
(``model.loss_and_grads`` and ``optimizer.step``). Both compute the same numbers to float
rounding (``tests/fast`` checks this).

Under ``NUMBA_DISABLE_JIT=1`` the kernels would run as interpreted Python loops, thousands of
times slower than NumPy, so the backend is then always ``"numpy"``; the unit tests still call the
interpreted kernels directly on small arrays, which is what that setting is for.

:func:`set_first_layer` chooses how the fast step computes the encoder's first layer, whose
input is the data: ``"auto"`` (the default) takes the sparse kernels of
:mod:`vae_np.fast.sparse` for a batch with at most ``sparse.AUTO_MAX_DENSITY`` nonzeros (such
as binarized MNIST) and dense BLAS otherwise; ``"dense"`` and ``"sparse"`` force one of them.
"""
from __future__ import annotations

import contextlib

from .._validation import check_option
from ._jit import JIT_DISABLED

__all__ = ["set_backend", "get_backend", "backend", "BACKENDS", "set_first_layer",
           "get_first_layer", "first_layer", "FIRST_LAYER_MODES"]

BACKENDS = ("numba", "numpy")
FIRST_LAYER_MODES = ("auto", "dense", "sparse")
_state = {"backend": "numpy" if JIT_DISABLED else "numba", "first_layer": "auto"}


def set_backend(name: str) -> None:
    """Choose the training step that :func:`vae_np.fit` runs.

    Parameters
    ----------
    name : {"numba", "numpy"}
        ``"numba"``: the fused, compiled step where supported; ``"numpy"``: the reference.
    """
    name = check_option(name, "name", BACKENDS, "set_backend")
    if name == "numba" and JIT_DISABLED:
        name = "numpy"     # interpreted kernels would be far too slow (see this module's docstring)
    _state["backend"] = name


def get_backend() -> str:
    """The backend in use: ``"numba"`` or ``"numpy"``."""
    return _state["backend"]


@contextlib.contextmanager
def backend(name: str):
    """Switch the backend for a ``with`` block: ``with vae_np.fast.backend("numpy"): ...``."""
    check_option(name, "name", BACKENDS, "backend")
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _state["backend"] = old


def set_first_layer(mode: str) -> None:
    """Choose how the fast step computes the encoder's first layer (the product with the data).

    Parameters
    ----------
    mode : {"auto", "dense", "sparse"}
        ``"auto"``: the sparse kernels for a batch whose fraction of nonzeros is at most
        ``vae_np.fast.sparse.AUTO_MAX_DENSITY``, dense BLAS otherwise; ``"dense"``: always BLAS;
        ``"sparse"``: always the sparse kernels (slower than BLAS on dense batches). All give
        the same numbers to float rounding. The reference (``"numpy"``) backend is always dense.
    """
    _state["first_layer"] = check_option(mode, "mode", FIRST_LAYER_MODES, "set_first_layer")


def get_first_layer() -> str:
    """The first-layer mode in use: ``"auto"``, ``"dense"`` or ``"sparse"``."""
    return _state["first_layer"]


@contextlib.contextmanager
def first_layer(mode: str):
    """Switch the first-layer mode for a ``with`` block: ``with first_layer("dense"): ...``."""
    mode = check_option(mode, "mode", FIRST_LAYER_MODES, "first_layer")
    old = get_first_layer()
    _state["first_layer"] = mode
    try:
        yield
    finally:
        _state["first_layer"] = old
