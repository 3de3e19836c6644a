"""The first layer on mostly-zero inputs: work proportional to the nonzeros, not to the pixels.

A binarized MNIST batch is about 87% zeros. The encoder's first layer multiplies it by ``W``
twice per step, and a dense GEMM spends most of its multiply-adds on those zeros:

* forward, ``Y = X @ W``: row ``i`` of ``Y`` is ``sum_j X[i, j] * W[j]`` over the pixels ``j``
  that are nonzero in row ``i`` (for a binary row: a sum of selected rows of ``W``);
* weight gradient, ``dW = X.T @ G``: row ``j`` of ``dW`` is ``sum_i X[i, j] * G[i]`` over the
  examples ``i`` in which pixel ``j`` is nonzero (zero for a pixel that is off in the whole
  batch). The input gradient ``dX`` is never needed: ``X`` is the data.

:func:`index_batch` lists the nonzeros of a batch once, both by row (for the forward) and by
column (for the weight gradient), in a :class:`SparseIndex` whose buffers are reused from
batch to batch. (The several-core step of :mod:`vae_np.fast.parallel` builds the same index
in parts: a serial count, then its threads list the rows and the columns of their blocks.)
It gives up (returns False) as soon as the batch has more nonzeros than its budget, so a
dense batch costs only part of one scan before the dense BLAS path takes over. The values
are read from ``X`` itself, so grey levels work as well as 0/1.

Which path a training step takes is the setting of :func:`vae_np.fast.backends.set_first_layer`;
``"auto"`` takes this one when the batch's density is at most :data:`AUTO_MAX_DENSITY`, the
crossover measured by ``benchmarks/bench_sparse.py`` (``benchmarks/README.md``).

The kernels run over contiguous 1-D row slices, four nonzeros per pass (so that each load and
store of an output row serves four rows of ``W`` or ``G``); LLVM vectorises the inner loops,
with ``fastmath={"contract"}`` allowing only fused multiply-adds. The sums are in another order
than BLAS's, so the results agree with ``X @ W`` to float rounding (``tests/fast``).
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import (
    check_float,
    check_instance,
    check_kernel_array,
    check_option,
    check_positive_int,
)
from ..nn.layers import ACTIVATION_NAMES, ACTIVATIONS
from ._jit import njit, wide_vectors

__all__ = ["AUTO_MAX_DENSITY", "SparseIndex", "index_batch", "sparse_forward",
           "sparse_weight_grad"]

#: Largest fraction of nonzero inputs at which ``"auto"`` takes the sparse first layer. Measured
#: (``benchmarks/bench_sparse.py``, whole training steps of the 784-400-20 VAE, batch 128): the
#: sparse step was faster up to a density of 0.19-0.27 with one BLAS thread and 0.23-0.32 with
#: two on an AMD EPYC (the several-core step of ``vae_np.fast.parallel``, which splits the
#: sparse kernels too; with the one-core step, whose sparse kernels stayed on one core, it was
#: about 0.1), and up to 0.17 with one and with two threads on an Intel Xeon with AVX-512,
#: whose BLAS is faster; runs on a shared machine differ. Set below every crossover measured.
AUTO_MAX_DENSITY = 0.15


# ---------------------------------------------------------------- the index of the nonzeros
@njit
def _index_nb(B, mask, max_nnz, rowptr, cols, colptr, rows):
    wide_vectors()
    # B: the bits of the batch (an integer view); mask: all bits but the sign bit. A value is
    # nonzero exactly when ``bits & mask`` is: -0.0 counts as zero and NaN as nonzero, as with
    # ``x != 0``, and the integer test is the cheaper one.
    # Row-wise compaction without a branch per pixel (the pattern of a binarized image is
    # random, a branch would be mispredicted often): every index is stored, the count only
    # moves on for a nonzero. ``cols`` has room for max_nnz + d entries for that reason.
    n, d = B.shape
    for j in range(d + 1):
        colptr[j] = 0
    nnz = 0
    for i in range(n):
        rowptr[i] = nnz
        if nnz > max_nnz:
            return -1
        b = B[i]
        for j in range(d):
            cols[nnz] = j
            nnz += (b[j] & mask) != 0
    rowptr[n] = nnz
    if nnz > max_nnz:
        return -1
    for t in range(nnz):                      # column counts, then their prefix sums
        colptr[cols[t] + 1] += 1
    for j in range(d):
        colptr[j + 1] += colptr[j]
    for i in range(n):                        # counting sort by column: rows in order per column
        for t in range(rowptr[i], rowptr[i + 1]):
            j = cols[t]
            rows[colptr[j]] = i
            colptr[j] += 1
    for j in range(d, 0, -1):                 # colptr[j] now holds the end of column j: shift
        colptr[j] = colptr[j - 1]
    colptr[0] = 0
    return nnz


# The same index built in parts, for the several-core step (vae_np.fast.parallel): one serial
# pass counts the nonzeros of every row and column (so every pointer is known at once), then
# each thread lists the nonzeros of its block of rows (_fill_rows_nb) and, later, of its block
# of columns (_fill_cols_nb). The arrays are exactly those of _index_nb.
@njit
def _count_nb(B, mask, max_nnz, rowptr, colptr):
    wide_vectors()
    # -1 as soon as the count passes max_nnz (a dense batch costs part of one scan, as in
    # _index_nb)
    n, d = B.shape
    for j in range(d + 1):
        colptr[j] = 0
    rowptr[0] = 0
    for i in range(n):
        b = B[i]
        count = 0
        for j in range(d):
            nonzero = np.int32((b[j] & mask) != 0)
            count += nonzero
            colptr[j + 1] += nonzero
        rowptr[i + 1] = rowptr[i] + count
        if rowptr[i + 1] > max_nnz:
            return -1
    for j in range(d):
        colptr[j + 1] += colptr[j]
    return rowptr[n]


@njit
def _fill_rows_nb(B, mask, rowptr, cols, i0, i1):
    wide_vectors()
    # cols of rows i0 <= i < i1. Branch-free as in _index_nb, whose extra stores land one past
    # the row's own entries: fine while that is still inside the block (a later row of the
    # block overwrites it), but not once the rest of the block is empty rows, where they would
    # land in the next block's first entry (another thread's): those rows take a branch.
    d = B.shape[1]
    end = rowptr[i1]
    for i in range(i0, i1):
        b = B[i]
        t = rowptr[i]
        if rowptr[i + 1] < end:
            for j in range(d):
                cols[t] = j
                t += (b[j] & mask) != 0
        else:
            for j in range(d):
                if (b[j] & mask) != 0:
                    cols[t] = j
                    t += 1


@njit
def _fill_cols_nb(rowptr, cols, colptr, rows, cursor, j0, j1):
    wide_vectors()
    # rows of columns j0 <= j < j1, from the (complete) row lists: each row's columns are in
    # increasing order, so those in [j0, j1) are one run, found by bisection
    n = rowptr.size - 1
    for j in range(j0, j1):
        cursor[j] = colptr[j]
    for i in range(n):
        lo, hi = rowptr[i], rowptr[i + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if cols[mid] < j0:
                lo = mid + 1
            else:
                hi = mid
        end = rowptr[i + 1]
        while lo < end and cols[lo] < j1:
            j = cols[lo]
            rows[cursor[j]] = i
            cursor[j] += 1
            lo += 1


_BITS = {np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF)),
         np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF))}


def _bits(X):
    """The bits of a float32/float64 array (a view of integers of the same size) and the mask
    of all bits but the sign bit."""
    itype, mask = _BITS[X.dtype]
    return X.view(itype), mask


def _count_batch(X, index):
    """The first, serial part of the index in parts: ``index.rowptr`` and ``index.colptr``, and
    ``index.nnz`` (-1 if over the budget). ``cols`` and ``rows`` are then filled in blocks."""
    index.nnz = int(_count_nb(*_bits(X), index.max_nnz, index.rowptr, index.colptr))
    return index.nnz >= 0


class SparseIndex:
    """The nonzeros of a batch of shape (n, d), by row and by column (buffers for reuse).

    Parameters
    ----------
    n, d : int
        Batch shape.
    max_density : float in [0, 1]
        The budget: room for ``ceil(max_density * n * d)`` nonzeros; :func:`index_batch` fails
        on a batch with more.

    Attributes
    ----------
    rowptr : ndarray of shape (n + 1,), int32
        Row ``i``'s nonzero pixels are ``cols[rowptr[i]:rowptr[i + 1]]``.
    cols : ndarray of int32
    colptr : ndarray of shape (d + 1,), int32
        The examples in which pixel ``j`` is nonzero are ``rows[colptr[j]:colptr[j + 1]]``.
    rows : ndarray of int32
    nnz : int
        Number of nonzeros of the last batch indexed (-1 if it was over the budget).
    """

    def __init__(self, n, d, max_density=1.0):
        n = check_positive_int(n, "n", "SparseIndex")
        d = check_positive_int(d, "d", "SparseIndex")
        max_density = check_float(max_density, "max_density", "SparseIndex", low=0.0, high=1.0)
        self.shape = (n, d)
        self.max_density = max_density
        self.max_nnz = min(n * d, math.ceil(max_density * n * d))
        self.rowptr = np.zeros(n + 1, np.int32)
        self.cols = np.zeros(self.max_nnz + d, np.int32)
        self.colptr = np.zeros(d + 1, np.int32)
        self.rows = np.zeros(self.max_nnz, np.int32)
        self.nnz = -1


def index_batch(X, index):
    """List the nonzeros of ``X`` into ``index``, unless there are more than its budget.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        C-contiguous float32 or float64 batch.
    index : SparseIndex
        Built for shape (n, d).

    Returns
    -------
    bool
        True if ``X`` has at most ``index.max_nnz`` nonzeros (the index then describes ``X``);
        False otherwise (the index is then unusable until the next successful call).
    """
    owner = "index_batch"
    check_instance(index, SparseIndex, "index", owner)
    check_kernel_array(X, "X", owner, index.shape)
    return _index_batch(X, index)


def _index_batch(X, index):
    index.nnz = int(_index_nb(*_bits(X), index.max_nnz, index.rowptr, index.cols, index.colptr,
                              index.rows))
    return index.nnz >= 0


# ---------------------------------------------------------------- forward: Y = act(X @ W + b)
@njit(fastmath={"contract"})
def _csr_forward_nb(X, rowptr, cols, W, b, relu, Y, i0, i1):
    wide_vectors()
    # rows i0 <= i < i1 of Y (the one-core step runs all rows; the several-core step of
    # vae_np.fast.parallel gives each of its threads a block of rows)
    h = Y.shape[1]
    zero = Y.dtype.type(0)
    for i in range(i0, i1):
        y = Y[i]
        x = X[i]
        for c in range(h):
            y[c] = b[c]
        t = rowptr[i]
        end = rowptr[i + 1]
        while t + 4 <= end:
            j0, j1, j2, j3 = cols[t], cols[t + 1], cols[t + 2], cols[t + 3]
            v0, v1, v2, v3 = x[j0], x[j1], x[j2], x[j3]
            w0, w1, w2, w3 = W[j0], W[j1], W[j2], W[j3]
            for c in range(h):
                y[c] += (v0 * w0[c] + v1 * w1[c]) + (v2 * w2[c] + v3 * w3[c])
            t += 4
        while t < end:
            j0 = cols[t]
            v0 = x[j0]
            w0 = W[j0]
            for c in range(h):
                y[c] += v0 * w0[c]
            t += 1
        if relu:
            for c in range(h):
                v = y[c]
                y[c] = zero if v <= zero else v          # NaN stays NaN


def sparse_forward(X, index, W, b, act, Y):
    """``Y = act(X @ W + b)`` with work proportional to the nonzeros of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The batch that ``index`` describes (the values are read from it).
    index : SparseIndex
        Filled by a successful :func:`index_batch` of ``X``.
    W : ndarray of shape (d, h)
    b : ndarray of shape (h,)
    act : str
        A name in :data:`vae_np.nn.layers.ACTIVATIONS` (ReLU and the identity are fused into
        the kernel; others are applied in place afterwards).
    Y : ndarray of shape (n, h)
        Overwritten with the result.

    Returns
    -------
    Y : ndarray of shape (n, h)
    """
    owner = "sparse_forward"
    act = check_option(act, "act", ACTIVATION_NAMES, owner)
    check_instance(index, SparseIndex, "index", owner)
    X = check_kernel_array(X, "X", owner, index.shape)
    check_kernel_array(W, "W", owner, (index.shape[1], None), X.dtype)
    check_kernel_array(b, "b", owner, (W.shape[1],), X.dtype)
    check_kernel_array(Y, "Y", owner, (index.shape[0], W.shape[1]), X.dtype, writeable=True)
    _check_filled(index, owner)
    return _sparse_forward(X, index, W, b, act, Y)


def _check_filled(index, owner):
    if index.nnz < 0:
        raise ValueError(f"{owner}: the index does not describe a batch (the last index_batch "
                         "failed or was never called)")


def _sparse_forward(X, index, W, b, act, Y):
    _csr_forward_nb(X, index.rowptr, index.cols, W, b, act == "relu", Y, 0, Y.shape[0])
    if act not in ("relu", "identity"):
        Y[...] = ACTIVATIONS[act].f(Y)
    return Y


# ---------------------------------------------------------------- weight gradient: dW = X.T @ G
@njit(fastmath={"contract"})
def _csc_weight_grad_nb(X, colptr, rows, G, dW, j0, j1):
    wide_vectors()
    # rows j0 <= j < j1 of dW; returns how many are NaN/inf (counted in cache: fast.finite)
    h = dW.shape[1]
    zero = dW.dtype.type(0)
    inf = dW.dtype.type(np.inf)
    bad = 0
    for j in range(j0, j1):
        out = dW[j]
        for c in range(h):
            out[c] = zero
        t = colptr[j]
        end = colptr[j + 1]
        while t + 4 <= end:
            i0, i1, i2, i3 = rows[t], rows[t + 1], rows[t + 2], rows[t + 3]
            v0, v1, v2, v3 = X[i0, j], X[i1, j], X[i2, j], X[i3, j]
            g0, g1, g2, g3 = G[i0], G[i1], G[i2], G[i3]
            for c in range(h):
                out[c] += (v0 * g0[c] + v1 * g1[c]) + (v2 * g2[c] + v3 * g3[c])
            t += 4
        while t < end:
            i0 = rows[t]
            v0 = X[i0, j]
            g0 = G[i0]
            for c in range(h):
                out[c] += v0 * g0[c]
            t += 1
        for c in range(h if end > colptr[j] else 0):       # (a row of zeros is finite)
            bad += not (abs(out[c]) < inf)
    return bad


def sparse_weight_grad(X, index, G, dW):
    """``dW = X.T @ G`` with work proportional to the nonzeros of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The batch that ``index`` describes.
    index : SparseIndex
        Filled by a successful :func:`index_batch` of ``X``.
    G : ndarray of shape (n, h)
        ∂L/∂(the layer's pre-activation output).
    dW : ndarray of shape (d, h)
        Overwritten with ∂L/∂W (rows of pixels that are zero in the whole batch become 0).

    Returns
    -------
    dW : ndarray of shape (d, h)
    """
    owner = "sparse_weight_grad"
    check_instance(index, SparseIndex, "index", owner)
    X = check_kernel_array(X, "X", owner, index.shape)
    check_kernel_array(G, "G", owner, (index.shape[0], None), X.dtype)
    check_kernel_array(dW, "dW", owner, (index.shape[1], G.shape[1]), X.dtype, writeable=True)
    _check_filled(index, owner)
    _sparse_weight_grad(X, index, G, dW)
    return dW


def _sparse_weight_grad(X, index, G, dW):   # dW = X.T @ G; returns its number of NaN/inf
    return int(_csc_weight_grad_nb(X, index.colptr, index.rows, G, dW, 0, dW.shape[0]))

