"""The NaN/inf that a fused step counts while it writes the gradients.

:func:`vae_np.train.make_step` must not update the parameters when a gradient is NaN or inf. A
separate check would read every gradient once more after the step (2.6 MB for the book's
784-400-20 VAE). The fused steps count instead: a kernel that computes a block of a gradient
counts the non-finite values of that block while it is still in the cache (the sparse first
layer's weight gradient in the one-core step; every gradient in the several-core step, whose
threads count what they wrote), and the one-core step counts the gradients that BLAS wrote at
its end. The largest of those, the weight gradient of the decoder's output layer, is not read
again when a bound proves it finite: it is ``X.T @ G`` for the layer's input ``X`` and output
gradient ``G``, each of whose values is a sum of ``n`` products, so ``n * max|X| * max|G|``
far below the largest float rules out an inf, and a NaN or inf in ``X`` or ``G`` makes a
maximum inf (:func:`max_abs`; for the book's VAE the two maxima read half as many values as
the gradient has, still in the cache). The step then records, per model, whether everything it
wrote was finite (the reference path of :mod:`vae_np.nn` does not count: its caller checks the
gradients itself).
"""
from __future__ import annotations

import weakref

import numpy as np

from ._jit import njit, wide_vectors

__all__ = ["gradients_finite", "record", "count_nonfinite", "max_abs"]

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


@njit
def _max_abs_bits_nb(B, mask):
    wide_vectors()
    # The largest ``bits & mask`` (the bits of |a|) of an integer view of a float array. For
    # IEEE floats that order is the order of |a|, with inf above every finite value and NaN
    # above inf, so one integer max (which vectorises, where a float max that must keep NaN
    # would not) finds both the largest magnitude and any NaN/inf.
    best = B.dtype.type(0)
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            best = max(best, B[i, j] & mask)
    return best


_ABS_BITS = {np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF), 0x7F800000),
             np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF), 0x7FF0000000000000)}


def max_abs(A):
    """``max |A|`` of a C-contiguous 2-D float32 or float64 array; inf if it holds a NaN or inf.

    Parameters
    ----------
    A : ndarray of shape (m, n)

    Returns
    -------
    float
    """
    itype, mask, inf_bits = _ABS_BITS[A.dtype]
    bits = int(_max_abs_bits_nb(A.view(itype), mask))
    return float(np.array(bits, itype).view(A.dtype)) if bits < inf_bits else np.inf


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
