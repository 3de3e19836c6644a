"""The NaN/inf that a fused step counts while it writes the gradients.

:func:`vae_np.train.make_step` must not update the parameters when a gradient is NaN or inf. A
separate check would read every gradient once more after the step (2.6 MB for the book's
784-400-20 VAE). The fused steps count instead: a kernel that computes a block of a gradient
counts the non-finite values of that block while it is still in the cache (the sparse first
layer's weight gradient in the one-core step; every gradient in the several-core step, whose
threads count what they wrote), and the one-core step counts the gradients that BLAS wrote at
its end. The step then records, per model, whether everything it wrote was finite (the
reference path of :mod:`vae_np.nn` does not count: its caller checks the gradients itself).
"""
from __future__ import annotations

import weakref

import numpy as np

from ._jit import njit, wide_vectors

__all__ = ["gradients_finite", "record", "count_nonfinite"]

# Per model: were the gradients of its last fused step finite (True/False), or not counted
# (None)? Weak keys: nothing here keeps a model alive.
_found = weakref.WeakKeyDictionary()


@njit
def _count_nonfinite_nb(A):
    wide_vectors()
    # |v| < inf is False exactly for inf and NaN (no fastmath here: NaN compares False)
    inf = A.dtype.type(np.inf)
    bad = 0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            bad += not (abs(A[i, j]) < inf)
    return bad


def count_nonfinite(arrays):
    """The number of NaN and inf values in C-contiguous 1-D or 2-D float arrays (one pass).

    Parameters
    ----------
    arrays : iterable of ndarray of shape (m,) or (m, n)

    Returns
    -------
    int
    """
    return sum(int(_count_nonfinite_nb(a if a.ndim == 2 else a.reshape(1, -1))) for a in arrays)


def record(model, finite):
    """Note what the last fused step of ``model`` found: True, False, or None (not counted)."""
    _found[model] = finite


def gradients_finite(model):
    """Whether every gradient that the last fused step of ``model`` wrote is finite.

    Returns
    -------
    bool or None
        True or False as counted while the gradients were written; None if no fused step of
        ``model`` has run: then check ``model.grads`` yourself.
    """
    return _found.get(model)
