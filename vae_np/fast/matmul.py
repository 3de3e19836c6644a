"""A matrix multiply written from scratch, with the bias and activation fused into its end.

Teaching code for the speed appendix: it is tested against ``act(A @ B + b)`` and measured
against BLAS on the VAE's shapes. The training step uses BLAS, because BLAS measured faster.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_kernel_array, check_option, check_positive_int, check_real
from ._jit import njit

__all__ = ["matmul_bias_act"]


@njit(fastmath={"contract"})
def _matmul_bias_act_nb(A, B, bias, relu, C, kc, nc):
    # C = A @ B, computed block by block: a (kc x nc) panel of B stays in cache while the rows
    # of A stream past it; four rows of C are updated per pass so that each value of B loaded
    # from cache is used four times. The innermost loop runs over contiguous 1-D row slices,
    # which LLVM vectorises (AVX2/AVX-512; with 2-D indexing it did not, ~10x slower);
    # "contract" only lets it fuse a*b + c into one FMA instruction (no other fast-math).
    m, k = A.shape
    n = B.shape[1]
    zero = C.dtype.type(0)
    C[:, :] = zero
    for j0 in range(0, n, nc):
        j1 = min(j0 + nc, n)
        w = j1 - j0
        for p0 in range(0, k, kc):
            p1 = min(p0 + kc, k)
            i = 0
            while i + 4 <= m:
                c0, c1, c2, c3 = C[i, j0:j1], C[i + 1, j0:j1], C[i + 2, j0:j1], C[i + 3, j0:j1]
                for p in range(p0, p1):
                    a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
                    bp = B[p, j0:j1]
                    for j in range(w):
                        bv = bp[j]
                        c0[j] += a0 * bv
                        c1[j] += a1 * bv
                        c2[j] += a2 * bv
                        c3[j] += a3 * bv
                i += 4
            while i < m:                                   # the last m % 4 rows
                c0 = C[i, j0:j1]
                for p in range(p0, p1):
                    a0 = A[i, p]
                    bp = B[p, j0:j1]
                    for j in range(w):
                        c0[j] += a0 * bp[j]
                i += 1
        # epilogue on the finished column block, while it is still in cache
        bb = bias[j0:j1]
        for i in range(m):
            c0 = C[i, j0:j1]
            for j in range(w):
                v = c0[j] + bb[j]
                c0[j] = (zero if v <= zero else v) if relu else v
    return C


def matmul_bias_act(A, B, b, act="identity", out=None, kc=256, nc=512):
    """``act(A @ B + b)`` with the numba kernel (BLAS-free), bias and activation fused.

    Parameters
    ----------
    A : ndarray of shape (m, k)
    B : ndarray of shape (k, n)
    b : ndarray of shape (n,)
    act : {"identity", "relu"}
        Activation applied in the epilogue.
    out : ndarray of shape (m, n), optional
        Output buffer.
    kc, nc : int
        Block sizes along ``k`` and ``n`` (a ``kc x nc`` panel of ``B`` is reused from cache).

    Returns
    -------
    C : ndarray of shape (m, n)

    Notes
    -----
    Arrays are converted to one float dtype and made C-contiguous. Tested against
    ``act(A @ B + b)`` with NumPy's BLAS.
    """
    owner = "matmul_bias_act"
    act = check_option(act, "act", ("identity", "relu"), owner)
    A, B, b = (x if isinstance(x, np.ndarray) and x.dtype.kind in "fiub" else check_real(x, name)
               for x, name in ((A, "A"), (B, "B"), (b, "b")))
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0] or b.shape != (B.shape[1],):
        raise ValueError(f"shapes do not fit: A {A.shape}, B {B.shape}, b {b.shape}; need "
                         "A (m, k), B (k, n), b (n,)")
    dt = np.result_type(A, B, b)
    dt = dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
    A, B, b = (np.ascontiguousarray(x, dtype=dt) for x in (A, B, b))
    kc = check_positive_int(kc, "kc", owner)
    nc = check_positive_int(nc, "nc", owner)
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), dtype=dt)
    check_kernel_array(out, "out", owner, (A.shape[0], B.shape[1]), dt, writeable=True)
    return _matmul_bias_act_nb(A, B, b, act == "relu", out, kc, nc)
