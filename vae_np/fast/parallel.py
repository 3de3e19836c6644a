"""The fused step on several cores: one thread pool (numba's), BLAS on one thread per part.

With two BLAS threads, :mod:`vae_np.fast.step` (the "one-core step") runs its matrix products
on both cores but the rest of the step -- the sparse first layer, the loss pass, the small
layers, the finite check, Adam -- on one. Splitting that rest over a second pool of threads
next to OpenBLAS's does not work: OpenBLAS's worker threads keep busy-waiting on their cores for
a while after each product, so a numba parallel region started right after one waits for a
core (``benchmarks/bench_two_cores.py``: a two-thread product followed by an empty region took
8.4-8.8 ms, the product alone about 0.9). So here **one** pool does everything: the batch is
cut into ``parts`` blocks of rows, numba's threads run one block each, and each block's
products go to BLAS with one thread (the step sets every BLAS library to one thread while it
runs, and back afterwards: a process-wide setting, so products that other threads run
meanwhile also get one thread). The products are :func:`vae_np.fast.blas.gemm` calls on
NumPy's own BLAS, not numba's ``np.dot`` (SciPy's BLAS, another build, whose block products
took 13-24% more time here), and they read blocks of columns in place.

The step of a :class:`vae_np.VAE` with one hidden ReLU layer on each side (the book's
784-400-20 model), Bernoulli likelihood, float32, in two parallel regions:

0. **the index** of a sparse first layer: one serial pass counts the nonzeros of every row and
   column (:mod:`~vae_np.fast.sparse`); the threads list them, by row in region 1 and by
   column in region 2, into the same index that the one-core step builds in one pass.
1. **rows**: for its block of rows, each thread runs the whole forward pass, the loss and its
   gradient, and the backward pass down to the first layer's pre-activation gradient: row ``i``
   of each of those depends only on row ``i`` of the batch and of the noise. The bias
   gradients and the loss are kept per block.
2. **weight gradients** (``dW = H.T @ G``, ``H`` a layer's input and ``G`` the gradient at its
   output, sums over all rows): each thread takes a block of the rows of ``dW`` -- of the
   decoder's output layer (the largest) and of the first layer (sparse or dense) -- and the
   small layers' gradients and the sums of the blocks' bias gradients are shared out. Each
   thread also counts the NaN/inf in the gradients it wrote (:mod:`~vae_np.fast.finite`;
   :func:`gradients_finite` tells), so the step's finite check needs no pass of its own.

Adam then runs on ``parts`` pieces of the flat buffers (:func:`vae_np.fast.flat.optimizer_step`).
Every formula is a kernel of :mod:`~vae_np.fast.reparam`, :mod:`~vae_np.fast.elementwise` and
:mod:`~vae_np.fast.sparse`, called on a block; only the order of some float sums differs from
the one-core step (the tests compare both with the reference).

numba runs the blocks on its default threading layer (OpenMP where numba finds it). Its
workqueue layer wakes its threads through the operating system and ran this step at 60-65% of
the speed (``benchmarks/bench_two_cores.py``). One effect of OpenMP to know: when numba's OpenMP
threads had started before PyTorch's in the same process, PyTorch's CPU operations ran about 3x
slower; with PyTorch started first, about 1.5x slower in one recorded run and no slower in
another (measured there too). With one BLAS thread (the chapters' setting) numba's threads never start.

:func:`cores` is how many parts :func:`vae_np.train.make_step` uses: the number of threads the
BLAS libraries may use (``vae_np.blas_threads(n)``; the chapters set one, so they run the
one-core step), at most numba's thread count and the CPUs this process may run on.
"""
from __future__ import annotations

import os
import threading

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from .._validation import check_positive_int, invalid
from ..nn import VAE
from . import finite, sparse
from . import step as fused
from ._jit import JIT_DISABLED, njit, wide_vectors
from .blas import gemm, sgemm_address
from .elementwise import (
    _bce_grad_bias_f32_nb,
    _bias_add_nb,
    _bias_relu_nb,
    _relu_backward_bias_nb,
    _relu_backward_bias_t_nb,
)
from .finite import _count_nonfinite_nb, gradients_finite
from .reparam import _half_logvar_nb, _reparam_backward_bias_nb, _reparam_kl_nb
from .sparse import _csc_weight_grad_nb, _csr_forward_nb, _fill_cols_nb, _fill_rows_nb

__all__ = ["supports", "cores", "loss_and_grads", "gradients_finite", "MIN_ROWS_PER_PART",
           "LOCK"]

#: A block of fewer rows than this is not worth a thread of its own.
MIN_ROWS_PER_PART = 32

_blas = {}                       # the BLAS libraries' thread controls, found once
#: Held around a step's buffers and parallel regions (re-entrant: ``make_step`` holds it for the
#: whole step, update included): two training loops in two threads take turns instead of
#: sharing buffers or splitting the same cores four ways (numba's workqueue layer also forbids
#: two threads in its regions at once).
LOCK = threading.RLock()


def supports(model):
    """Whether the several-core step can train this model.

    Parameters
    ----------
    model : any object

    Returns
    -------
    bool
        True for a float32 :class:`vae_np.VAE` with the Bernoulli likelihood and one hidden
        ReLU layer in its encoder and in its decoder, whose loss is the VAE's own (see
        :func:`vae_np.fast.step.supports`).
    """
    if not (isinstance(model, VAE) and fused.supports(model)):
        return False
    enc, dec, _ = fused._plan(model)
    return (model.likelihood == "bernoulli" and model.dtype == np.float32
            and [a for _, a in enc] == ["relu", "identity"]
            and [a for _, a in dec] == ["relu", "identity"])


def _controllers():
    if "libs" not in _blas:
        import scipy.linalg.cython_blas  # noqa: F401  (SciPy's BLAS, gemm's fallback: loaded)
        _blas["libs"] = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas["libs"]


def cores():
    """How many parts the training step runs in: 1, or the cores that BLAS may use.

    Returns
    -------
    int
        The smallest of the BLAS thread limit (the largest over the BLAS libraries loaded,
        NumPy's and SciPy's: :func:`vae_np.fast.blas.gemm` calls one of them), numba's thread
        count and the number of CPUs this process may run on (1 under ``NUMBA_DISABLE_JIT``).
        numba's threads are started only when BLAS may use more than one.
    """
    if JIT_DISABLED:
        return 1
    blas = max((lib.get_num_threads() or 1 for lib in _controllers()), default=1)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if min(blas, cpus or 1) < 2:
        return 1
    return max(1, min(blas, numba.get_num_threads(), cpus or 1))


class _OneBlasThread:
    """While in the block, every BLAS library runs on the calling thread only."""

    def __enter__(self):
        self.libs = _controllers()
        self.before = [lib.get_num_threads() for lib in self.libs]
        for lib in self.libs:
            lib.set_num_threads(1)

    def __exit__(self, *exc):
        for lib, n in zip(self.libs, self.before):
            lib.set_num_threads(n)


@njit
def _exp_inplace_nb(S):
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            S[i, j] = np.exp(S[i, j])


@njit(parallel=True)
def _rows_nb(X, bits, mask, rowptr, cols, use_sparse, W1, b1, W2, b2, eps, Wd1, bd1, Wd2, bd2,
             scale, beta_scale, Y1, Hh, S, Z, D1, A, dD1T, dD1, dz, dH, dY1, db1, db2, dbd1, dbd2,
             col, total, kl, fn, ilp64):
    wide_vectors()
    # Y1 = relu(X W1 + b1); Hh = [mu, logvar] = Y1 W2 + b2; Z = mu + exp(logvar/2) eps;
    # D1 = relu(Z Wd1 + bd1); A = D1 Wd2 (+ bd2 inside the loss kernel) -> dL/dlogits; then back
    # to dY1 = dL/d(X W1 + b1). Block c of rows; its bias gradients go to row c of db*. The
    # products: gemm(fn, ilp64, transpose the first?, first, transpose the second?, second, out)
    n, parts = X.shape[0], db1.shape[0]
    for c in numba.prange(parts):
        wide_vectors()           # the body runs as a function of its own
        lo, hi = c * n // parts, (c + 1) * n // parts        # sizes differ by at most one row
        if use_sparse:                  # this block's part of the index, then the forward
            _fill_rows_nb(bits, mask, rowptr, cols, lo, hi)
            _csr_forward_nb(X, rowptr, cols, W1, b1, True, Y1, lo, hi)
        else:
            gemm(fn, ilp64, False, X[lo:hi], False, W1, Y1[lo:hi])
            _bias_relu_nb(Y1[lo:hi], b1)
        gemm(fn, ilp64, False, Y1[lo:hi], False, W2, Hh[lo:hi])
        _bias_add_nb(Hh[lo:hi], b2)
        _half_logvar_nb(Hh[lo:hi], S[lo:hi])
        _exp_inplace_nb(S[lo:hi])
        kl[c] = _reparam_kl_nb(Hh[lo:hi], eps[lo:hi], S[lo:hi], Z[lo:hi])
        gemm(fn, ilp64, False, Z[lo:hi], False, Wd1, D1[lo:hi])
        _bias_relu_nb(D1[lo:hi], bd1)
        gemm(fn, ilp64, False, D1[lo:hi], False, Wd2, A[lo:hi])
        _bce_grad_bias_f32_nb(A[lo:hi], bd2, X[lo:hi], scale, dbd2[c], col[c], total[c])
        # the output layer's input gradient transposed, Wd2 @ A.T, as in the one-core step
        # (fast.step._backward): the cheaper product for BLAS
        gemm(fn, ilp64, False, Wd2, True, A[lo:hi], dD1T[:, lo:hi])
        _relu_backward_bias_t_nb(dD1T[:, lo:hi], D1[lo:hi], dD1[lo:hi], dbd1[c])
        gemm(fn, ilp64, False, dD1[lo:hi], True, Wd1, dz[lo:hi])
        _reparam_backward_bias_nb(dz[lo:hi], eps[lo:hi], S[lo:hi], Hh[lo:hi], beta_scale,
                                  dH[lo:hi], db2[c])
        gemm(fn, ilp64, False, dH[lo:hi], True, W2, dY1[lo:hi])
        _relu_backward_bias_nb(dY1[lo:hi], Y1[lo:hi], db1[c])


@njit
def _sum_rows_nb(blocks, out):
    wide_vectors()
    # out = blocks[0] + blocks[1] + ... in this order (the same numbers on every run)
    for j in range(out.size):
        acc = blocks[0, j]
        for c in range(1, blocks.shape[0]):
            acc += blocks[c, j]
        out[j] = acc


@njit(parallel=True)
def _weight_grads_nb(X, rowptr, cols, colptr, rows, cursor, use_sparse, Y1, Z, D1, A, dD1, dH,
                     dY1, gW1, gb1, gW2, gb2, gWd1, gbd1, gWd2, gbd2, db1, db2, dbd1, dbd2, bad,
                     fn, ilp64):
    wide_vectors()
    # Every gradient is written here; each thread also counts the NaN/inf in what it wrote,
    # while it is still in its cache (bad[c]), which spares the step a pass over all of them.
    # A block of rows of dW = H.T @ G is a block of H's columns, transposed: gemm reads it in
    # place.
    parts = db1.shape[0]
    h, d = gWd2.shape[0], gW1.shape[0]
    for c in numba.prange(parts):
        wide_vectors()           # the body runs as a function of its own
        lo, hi = c * h // parts, (c + 1) * h // parts
        gemm(fn, ilp64, True, D1[:, lo:hi], False, A, gWd2[lo:hi])   # decoder output layer
        lo, hi = c * d // parts, (c + 1) * d // parts
        if use_sparse:                                     # first layer, pixels lo:hi
            _fill_cols_nb(rowptr, cols, colptr, rows, cursor, lo, hi)
            count = _csc_weight_grad_nb(X, colptr, rows, dY1, gW1, lo, hi)   # (counts, too)
        else:
            gemm(fn, ilp64, True, X[:, lo:hi], False, dY1, gW1[lo:hi])
            count = _count_nonfinite_nb(gW1[lo:hi])
        lo, hi = c * h // parts, (c + 1) * h // parts
        count += _count_nonfinite_nb(gWd2[lo:hi])
        if c == 0:
            gemm(fn, ilp64, True, Z, False, dD1, gWd1)
            _sum_rows_nb(dbd1, gbd1)
            _sum_rows_nb(dbd2, gbd2)
            count += (_count_nonfinite_nb(gWd1) + _count_nonfinite_nb(gbd1.reshape((1, -1)))
                      + _count_nonfinite_nb(gbd2.reshape((1, -1))))
        if c == parts - 1:
            gemm(fn, ilp64, True, Y1, False, dH, gW2)
            _sum_rows_nb(db1, gb1)
            _sum_rows_nb(db2, gb2)
            count += (_count_nonfinite_nb(gW2) + _count_nonfinite_nb(gb1.reshape((1, -1)))
                      + _count_nonfinite_nb(gb2.reshape((1, -1))))
        bad[c] = count


class _Workspace:
    """Buffers for one batch size and number of parts (the forward outputs, the backward
    gradients, the per-block bias gradients and loss sums)."""

    def __init__(self, n, d, h, k, parts):
        f32 = np.float32
        self.Y1, self.D1, self.dD1, self.dY1 = (np.empty((n, h), f32) for _ in range(4))
        self.dD1T = np.empty((h, n), f32)      # dD1 transposed, as the output layer's product gives it
        self.Hh, self.dH = np.empty((n, 2 * k), f32), np.empty((n, 2 * k), f32)
        self.S, self.Z, self.dz = (np.empty((n, k), f32) for _ in range(3))
        self.A = np.empty((n, d), f32)
        self.db1, self.dbd1 = np.empty((parts, h), f32), np.empty((parts, h), f32)
        self.db2, self.dbd2 = np.empty((parts, 2 * k), f32), np.empty((parts, d), f32)
        self.col, self.total = np.empty((parts, d), f32), np.empty((parts, d))
        self.kl = np.empty(parts)
        self.bad = np.zeros(parts, np.int64)   # NaN/inf found in each thread's gradients
        self.index = None          # the nonzeros of the batch, as in fast.step
        self.cursor = np.empty(d, np.int32)    # where each column's next row goes (the index)


def _workspace(model, n, parts):
    cache = fused._workspaces.setdefault(model, {})
    key = ("parts", n, parts)
    ws = cache.get(key)
    if ws is None:
        if len(cache) >= fused._MAX_WORKSPACES:
            cache.clear()
        enc, dec, _ = fused._plan(model)
        ws = cache[key] = _Workspace(n, model.input_dim, enc[0][0].params["W"].shape[1],
                                     model.latent_dim, parts)
    return ws


def loss_and_grads(model, X, eps, beta=1.0, parts=2):
    """:func:`vae_np.fast.step.loss_and_grads`, with the batch's rows in ``parts`` blocks.

    Parameters
    ----------
    model : vae_np.VAE
        A model for which :func:`supports` is true.
    X : ndarray of shape (n, input_dim)
        C-contiguous float32 batch, already validated (values in [0, 1]).
    eps : ndarray of shape (n, latent_dim)
        C-contiguous float32 standard normal noise.
    beta : float
        Weight of the KL term.
    parts : int
        Number of blocks, one per numba thread. A batch with fewer than
        ``MIN_ROWS_PER_PART`` rows per block takes fewer blocks (one: the one-core step).

    Returns
    -------
    loss : float
        In nats per example.
    grads : dict of str -> ndarray
        ``model.grads``, overwritten with this batch's gradients.
    """
    owner = "fast.parallel.loss_and_grads"
    if not supports(model):
        raise invalid("model", owner, "a float32 Bernoulli vae_np.VAE with one hidden ReLU layer "
                      "in its encoder and decoder (see fast.parallel.supports); use "
                      "vae_np.fast.step.loss_and_grads for other models", model)
    enc, dec, beta = fused._checked_step_args(model, X, eps, beta, owner)
    parts = min(check_positive_int(parts, "parts", owner), X.shape[0] // MIN_ROWS_PER_PART)
    with LOCK:      # the workspace, the index and the finite count are shared with any caller
        if parts <= 1:
            return fused.loss_and_grads(model, X, eps, beta)      # (which counts, too)
        return _blocks_step(model, X, eps, beta, parts, enc, dec)


_NO_INDEX = np.zeros(1, np.int32)      # stands in for the index arrays on the dense path


def _blocks_step(model, X, eps, beta, parts, enc, dec):
    """The step in ``parts`` blocks (arguments checked by :func:`loss_and_grads`)."""
    n = X.shape[0]
    ws = _workspace(model, n, parts)
    index = fused._sparse_index(ws, X, sparse._count_batch)   # the blocks list the nonzeros
    (l1, _), (l2, _) = enc
    (d1, _), (d2, _) = dec
    rowptr, cols, colptr, rows = ((index.rowptr, index.cols, index.colptr, index.rows)
                                  if index is not None else (_NO_INDEX,) * 4)
    f32 = np.float32
    fn, ilp64 = sgemm_address()
    with _OneBlasThread():
        bits, mask = sparse._bits(X)
        _rows_nb(X, bits, mask, rowptr, cols, index is not None, l1.params["W"], l1.params["b"],
                 l2.params["W"], l2.params["b"], eps, d1.params["W"], d1.params["b"],
                 d2.params["W"], d2.params["b"], f32(1.0 / n), f32(beta / n), ws.Y1, ws.Hh, ws.S,
                 ws.Z, ws.D1, ws.A, ws.dD1T, ws.dD1, ws.dz, ws.dH, ws.dY1, ws.db1, ws.db2, ws.dbd1,
                 ws.dbd2, ws.col, ws.total, ws.kl, fn, ilp64)
        _weight_grads_nb(X, rowptr, cols, colptr, rows, ws.cursor, index is not None, ws.Y1,
                         ws.Z, ws.D1, ws.A, ws.dD1, ws.dH, ws.dY1, l1.grads["W"], l1.grads["b"],
                         l2.grads["W"], l2.grads["b"], d1.grads["W"], d1.grads["b"],
                         d2.grads["W"], d2.grads["b"], ws.db1, ws.db2, ws.dbd1, ws.dbd2, ws.bad,
                         fn, ilp64)
    finite.record(model, not ws.bad.any())
    recon, kl = float(ws.total.sum()) / n, float(ws.kl.sum()) / n
    loss = recon + beta * kl
    model.terms = {"loss": loss, "recon": recon, "kl": kl}
    return loss, model.grads
