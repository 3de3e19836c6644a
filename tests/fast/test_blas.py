"""vae_np.fast.blas: sgemm called from numba kernels, on NumPy's BLAS or SciPy's.

The tolerance is the float32 bound of a sum of k products in any order, gamma_k * sum |terms|
(gamma_k = k u / (1 - k u), u = 2**-24; see test_sparse.py), against a float64 product.
"""
import numba
import numpy as np
import pytest

from vae_np.fast import blas


def _check(C, A, B):
    exact = A.astype(np.float64) @ B.astype(np.float64)
    k = A.shape[1]
    u = 2.0 ** -24
    bound = (k * u / (1 - k * u)) * (np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64))
    assert np.all(np.abs(C - exact) <= bound + 1e-30)


@pytest.mark.parametrize("which", ["numpy", "scipy"])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_is_the_product_with_either_transposed(which, trans_a, trans_b):
    fn, ilp64 = blas.sgemm_address(which)
    rng = np.random.default_rng(int(trans_a) + 2 * int(trans_b))
    A = rng.standard_normal((37, 21)).astype(np.float32)
    B = rng.standard_normal((21, 45)).astype(np.float32)
    a = np.ascontiguousarray(A.T) if trans_a else A
    b = np.ascontiguousarray(B.T) if trans_b else B
    C = np.full((37, 45), np.nan, np.float32)
    blas.gemm(fn, ilp64, trans_a, a, trans_b, b, C)
    _check(C, A, B)


@pytest.mark.parametrize("which", ["numpy", "scipy"])
def test_gemm_reads_and_writes_blocks_of_columns_in_place(which):
    """What the several-core step does: dW[lo:hi] = H[:, lo:hi].T @ G, and a block of the
    columns of C, with nothing outside the block touched."""
    fn, ilp64 = blas.sgemm_address(which)
    rng = np.random.default_rng(1)
    H = rng.standard_normal((40, 30)).astype(np.float32)
    G = rng.standard_normal((40, 16)).astype(np.float32)
    dW = np.full((30, 16), np.nan, np.float32)
    for lo, hi in ((0, 11), (11, 30)):
        blas.gemm(fn, ilp64, True, H[:, lo:hi], False, G, dW[lo:hi])
    _check(dW, H.T, G)
    B = rng.standard_normal((30, 50)).astype(np.float32)
    C = np.full((40, 50), -7.0, np.float32)
    blas.gemm(fn, ilp64, False, H, False, B[:, 20:35], C[:, 20:35])
    _check(C[:, 20:35], H, B[:, 20:35])
    assert np.all(C[:, :20] == -7.0) and np.all(C[:, 35:] == -7.0)


def test_gemm_refuses_what_it_cannot_multiply():
    """Compiled or not (NUMBA_DISABLE_JIT), the same refusals: sgemm would otherwise report a
    bad argument and leave C as it was."""
    fn, ilp64 = blas.sgemm_address()
    A, B = np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)
    C = np.empty((4, 5), np.float32)
    with pytest.raises(ValueError, match="do not fit"):
        blas.gemm(fn, ilp64, False, A, False, B, np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        blas.gemm(fn, ilp64, True, A, False, B, C)
    for bad in (np.ones((3, 10), np.float32)[:, ::2],              # strided columns
                np.broadcast_to(np.ones(5, np.float32), (3, 5)),   # rows overlap (stride 0)
                np.ones((3, 5), np.float32)[::-1],                 # negative row stride
                np.ones((3, 5), np.int32),                         # 4 bytes, not float32
                np.ones((3, 5), np.float64)):
        with pytest.raises(ValueError, match="float32 matrices only"):
            blas.gemm(fn, ilp64, False, A, False, bad, C)
    assert blas.gemm(fn, ilp64, False, A, False, B, C) is None
    np.testing.assert_array_equal(C, np.full((4, 5), 3, np.float32))
    with pytest.raises(ValueError, match="'numpy' or 'scipy'"):
        blas.sgemm_address("mkl")


def test_numpys_sgemm_is_numpys_own_library_or_scipys():
    """The "numpy" choice is a 64-bit-integer sgemm of the library inside NumPy's package, or,
    when there is none, exactly SciPy's."""
    fn, ilp64 = blas.sgemm_address("numpy")
    if not ilp64:
        assert (fn, ilp64) == blas.sgemm_address("scipy")
    assert isinstance(fn, int) and fn != 0
    assert numba.config.DISABLE_JIT or blas.gemm is blas._gemm_nb
