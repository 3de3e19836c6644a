"""Matrix products called from inside numba kernels, on NumPy's own BLAS.

numba's ``np.dot`` calls the BLAS that SciPy ships (through ``scipy.linalg.cython_blas``).
That is often another build than the one NumPy ships: here SciPy's OpenBLAS 0.3.30 against
NumPy's 0.3.31, and on the several-core step's products (blocks of 64 rows times a 400 x 784
weight matrix, one thread each) NumPy's took 12-19% less time (``benchmarks/bench_two_cores.py``,
one and two cores). :func:`gemm` calls NumPy's ``sgemm`` when it can find it
unambiguously (the 64-bit-integer OpenBLAS of NumPy's wheels, whose symbols end in ``64_``),
else SciPy's, and it takes row strides, so a block of columns of a matrix (``D1[:, lo:hi]``)
is multiplied in place, transposed or not, with no copy.

A Fortran ``sgemm`` is column-major. A row-major matrix read column-major is its transpose, so
the row-major ``C = op(A) @ op(B)`` is the column-major ``C^T = op(B)^T @ op(A)^T``: the same
call with the operands swapped. The function is called through its address (an ``int`` passed
to the kernel, not a global), so the kernels that call it stay in numba's on-disk cache.
"""
from __future__ import annotations

import os

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import JIT_DISABLED, njit

__all__ = ["gemm", "sgemm_address"]

_found = {}


def _numpy_sgemm():
    """(address, True) of NumPy's own 64-bit-integer OpenBLAS ``sgemm``, or None."""
    from threadpoolctl import ThreadpoolController
    here = os.path.dirname(os.path.abspath(np.__file__))
    places = (here, here + ".libs")                 # the wheel's libraries sit in numpy.libs
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        path = os.path.abspath(getattr(lib, "filepath", "") or "")
        if lib.internal_api != "openblas" or not any(path.startswith(p + os.sep) for p in places):
            continue
        for name in ("scipy_sgemm_64_", "sgemm_64_"):    # ILP64 by their names: no guessing
            try:
                function = getattr(lib.dynlib, name)
            except AttributeError:
                continue
            import ctypes
            return ctypes.cast(function, ctypes.c_void_p).value, True
    return None


def _scipy_sgemm():
    """(address, False): SciPy's ``sgemm`` (32-bit integers), the one numba's np.dot calls."""
    import scipy.linalg.cython_blas  # noqa: F401
    from numba.extending import get_cython_function_address
    return get_cython_function_address("scipy.linalg.cython_blas", "sgemm"), False


def sgemm_address(which="numpy"):
    """The ``sgemm`` that :func:`gemm` calls, found once.

    Parameters
    ----------
    which : {"numpy", "scipy"}
        ``"numpy"``: NumPy's own, when it is the 64-bit-integer OpenBLAS of its wheels, else
        SciPy's. ``"scipy"``: SciPy's.

    Returns
    -------
    address : int
        Where the Fortran function is, to pass to :func:`gemm`.
    ilp64 : bool
        True if it takes 64-bit integers.
    """
    if which not in ("numpy", "scipy"):
        raise ValueError(f"sgemm_address: which must be 'numpy' or 'scipy', got {which!r}")
    if which not in _found:
        _found[which] = (_numpy_sgemm() if which == "numpy" else None) or _scipy_sgemm()
    return _found[which]


@intrinsic
def _call_fortran13(typingctx, fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13):
    # void fn(void*, ... 13 times): fn and every argument are addresses (integers)
    sig = types.void(fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13)

    def codegen(context, builder, signature, args):
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [ptr] * 13)
        f = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(f, [builder.inttoptr(a, ptr) for a in args[1:]])
        return context.get_dummy_value()
    return sig, codegen


@njit
def _rows_ok(M):
    # float32 (the only 4-byte float type: 0.5 survives the cast), contiguous rows, and rows
    # that do not overlap (a row stride of at least one row: no broadcast or reversed views)
    return (M.itemsize == 4 and M.dtype.type(0.5) == 0.5 and M.strides[1] == 4
            and M.strides[0] >= 4 * max(1, M.shape[1]))


@njit
def _check_gemm(trans_a, A, trans_b, B, C):
    """(m, n, k) of ``C (m x n) = op(A) (m x k) @ op(B) (k x n)``; raises on anything sgemm
    could not read as such (it would report a bad argument and leave C unwritten)."""
    if not (_rows_ok(A) and _rows_ok(B) and _rows_ok(C)):
        raise ValueError("gemm: float32 matrices only, with contiguous rows (column stride 4 "
                         "bytes) that do not overlap (row stride at least a row)")
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    if (A.shape[1] if trans_a else A.shape[0]) != m or (B.shape[0] if trans_b else B.shape[1]) \
            != n or (B.shape[1] if trans_b else B.shape[0]) != k:
        raise ValueError("gemm: the shapes of op(A), op(B) and C do not fit")
    return m, n, k


@njit
def _gemm_nb(fn, ilp64, trans_a, A, trans_b, B, C):
    m, n, k = _check_gemm(trans_a, A, trans_b, B, C)
    flags = np.empty(2, np.uint8)
    flags[0] = 84 if trans_b else 78                # 'T' or 'N'; B comes first (see above)
    flags[1] = 84 if trans_a else 78
    sizes = np.empty(6, np.int64)                   # n, m, k, ldb, lda, ldc
    sizes[0], sizes[1], sizes[2] = n, m, k
    sizes[3], sizes[4], sizes[5] = B.strides[0] // 4, A.strides[0] // 4, C.strides[0] // 4
    small = sizes.astype(np.int32)
    ints, width = (sizes.ctypes.data, 8) if ilp64 else (small.ctypes.data, 4)
    scalars = np.zeros(2, np.float32)
    scalars[0] = 1                                  # C = 1 * op(A) op(B) + 0 * C
    _call_fortran13(fn, flags.ctypes.data, flags.ctypes.data + 1, ints, ints + width,
                    ints + 2 * width, scalars.ctypes.data, B.ctypes.data, ints + 3 * width,
                    A.ctypes.data, ints + 4 * width, scalars.ctypes.data + 4, C.ctypes.data,
                    ints + 5 * width)
    # used after the call, so that numba frees the argument arrays only once it has returned
    flags[0] = sizes[0] = small[0] = 0
    scalars[0] = 0


def _gemm_py(fn, ilp64, trans_a, A, trans_b, B, C):
    # NUMBA_DISABLE_JIT: the same checks, and the product with NumPy
    _check_gemm(trans_a, A, trans_b, B, C)
    np.matmul(A.T if trans_a else A, B.T if trans_b else B, out=C)


#: ``gemm(fn, ilp64, trans_a, A, trans_b, B, C)``: ``C = op(A) @ op(B)`` for float32 matrices
#: whose rows are contiguous (views of blocks of rows or columns are fine), ``op`` the
#: transpose when ``trans_*`` is true, on the ``sgemm`` at ``fn`` (:func:`sgemm_address`).
#: Writes ``C``, returns None, raises ValueError for matrices it cannot take. Callable from
#: numba kernels (and from Python).
gemm = _gemm_py if JIT_DISABLED else _gemm_nb
