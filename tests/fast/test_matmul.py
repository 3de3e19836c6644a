"""The from-scratch numba matmul with a fused bias + activation epilogue vs ``X @ W + b``."""
import numpy as np
import pytest

from vae_np.fast.matmul import matmul_bias_act


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["identity", "relu"])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 5, 3), (9, 33, 17), (128, 20, 40), (13, 70, 129)])
def test_matmul_bias_act_matches_blas(dtype, act, m, k, n):
    rng = np.random.default_rng(m * 100 + k + n)
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    expected = A.astype(np.float64) @ B.astype(np.float64) + b
    if act == "relu":
        expected = np.maximum(expected, 0)
    tol = 1e-5 * np.sqrt(k) if dtype == np.float32 else 1e-12 * np.sqrt(k)
    # small blocks so that several k- and n-blocks and the row remainder are all exercised
    C = matmul_bias_act(A, B, b, act, kc=8, nc=16)
    assert C.dtype == dtype
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(matmul_bias_act(A, B, b, act), expected, rtol=tol, atol=tol)


def test_matmul_bias_act_out_and_views():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 10)).astype(np.float32)
    W = rng.standard_normal((6, 10)).astype(np.float32)
    b = np.zeros(6, np.float32)
    out = np.full((20, 6), np.nan, np.float32)
    C = matmul_bias_act(A, W.T, b, "identity", out=out)     # a transposed view
    assert C is out
    np.testing.assert_allclose(C, A @ W.T, rtol=1e-5, atol=1e-5)


def test_matmul_bias_act_validates():
    A, B, b = np.ones((3, 4)), np.ones((4, 5)), np.ones(5)
    with pytest.raises(ValueError, match="shapes do not fit"):
        matmul_bias_act(A, B.T, b)
    with pytest.raises(ValueError, match=("'act' parameter of matmul_bias_act must be"
                                          " a str among .*Got 'tanh'")):
        matmul_bias_act(A, B, b, "tanh")
