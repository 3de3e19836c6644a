"""Every numba kernel of vae_np.fast against the nn reference formulas (float32 and float64).

Under NUMBA_DISABLE_JIT=1 the same functions run their kernels as plain Python loops, so these
tests also check the kernels' Python source.
"""
import numpy as np
import pytest

from vae_np.fast import backends, elementwise, flat, reparam
from vae_np.nn import losses
from vae_np.nn.layers import ACTIVATIONS
from vae_np.nn.vae import reparameterize

ACTS = ["relu", "identity", "tanh", "sigmoid", "softplus"]


@pytest.fixture(params=[np.float32, np.float64])
def dtype(request):
    return request.param


def _tol(dtype, f32=1e-6, f64=1e-13):
    return f32 if dtype == np.float32 else f64


@pytest.mark.parametrize("act", ACTS)
def test_bias_act_forward_is_the_layer_formula(dtype, act):
    rng = np.random.default_rng(0)
    Z = (rng.standard_normal((7, 5)) * 3).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    expected = ACTIVATIONS[act].f(Z + b)
    got = elementwise.bias_act_forward(Z.copy(), b, act)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=_tol(dtype), atol=_tol(dtype))


@pytest.mark.parametrize("act", ACTS)
def test_act_backward_bias_is_the_layer_backward(dtype, act):
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((7, 5)) * 3).astype(dtype)
    layer = ACTIVATIONS[act]()
    Y = layer.forward(X)
    G = rng.standard_normal((7, 5)).astype(dtype)
    expected = layer.backward(G)
    db = np.empty(5, dtype)
    got = elementwise.act_backward_bias(G.copy(), Y, act, db)
    np.testing.assert_allclose(got, expected, rtol=_tol(dtype), atol=_tol(dtype))
    np.testing.assert_allclose(db, expected.sum(0), rtol=10 * _tol(dtype), atol=10 * _tol(dtype))


@pytest.mark.parametrize("act", ACTS)
def test_act_backward_bias_of_a_transposed_gradient(dtype, act):
    # 37 rows: two full blocks of 16 and a remainder
    rng = np.random.default_rng(2)
    Y = ACTIVATIONS[act].f((rng.standard_normal((37, 9)) * 3).astype(dtype))
    GT = rng.standard_normal((9, 37)).astype(dtype)
    db, db_t = np.empty(9, dtype), np.empty(9, dtype)
    expected = elementwise.act_backward_bias(np.ascontiguousarray(GT.T), Y, act, db)
    G = np.full((37, 9), np.nan, dtype)
    got = elementwise.act_backward_bias(G, Y, act, db_t, GT=GT)
    assert got is G
    np.testing.assert_array_equal(G, expected)          # the same operations in the same order
    np.testing.assert_array_equal(db_t, db)


def test_act_backward_bias_checks_the_transposed_gradient():
    Y, GT = np.zeros((4, 3), np.float32), np.zeros((3, 4), np.float32)
    db, G = np.zeros(3, np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="GT"):
        elementwise.act_backward_bias(G, Y, "relu", db, GT=GT.T.copy())    # not transposed
    with pytest.raises(ValueError, match="GT"):
        elementwise.act_backward_bias(G, Y, "relu", db, GT=GT.astype(np.float64))


def test_softplus_derivative_from_its_output_is_the_sigmoid_of_its_input():
    X = np.linspace(-40, 40, 801)
    Y = ACTIVATIONS["softplus"].f(X)
    np.testing.assert_allclose(ACTIVATIONS["softplus"].df(Y), losses.sigmoid(X), rtol=1e-12)


def test_bernoulli_kernel_is_the_reference_loss(dtype):
    rng = np.random.default_rng(0)
    A0 = (rng.standard_normal((6, 9)) * 30).astype(dtype)    # large logits: stability
    A0[0, :3] = [1e4, -1e4, 0]
    b = rng.standard_normal(9).astype(dtype)
    X = (rng.random((6, 9)) < 0.5).astype(dtype)
    X[1, :2] = [0.3, 0.7]
    nll_ref, d_ref = losses.bernoulli_nll(A0 + b, X)            # mean over the batch
    A, db = A0.copy(), np.empty(9, dtype)
    nll = elementwise.bernoulli_nll_grad_bias(A, b, X, 1 / 6, np.empty_like(A),
                                              np.empty_like(A), db)
    assert np.isfinite(nll) and nll / 6 == pytest.approx(nll_ref, rel=_tol(dtype, 1e-6, 1e-12))
    np.testing.assert_allclose(A, d_ref, rtol=_tol(dtype, 1e-5, 1e-12),
                               atol=_tol(dtype, 3e-7, 1e-15))
    np.testing.assert_allclose(db, d_ref.sum(0), rtol=1e-5, atol=_tol(dtype, 1e-6, 1e-14))


def test_float32_bce_kernel_over_the_whole_range():
    """The one-pass float32 kernel (inline polynomial exp and log1p) against float64 maths."""
    a = np.concatenate([np.linspace(-120, 120, 4001), [0.0, -0.0, 1e-30, -1e-30, 88.7, -88.7,
                                                        103.9, -103.9, 104, -104, 1e4, -1e4]])
    a = a.astype(np.float32)
    for x in (0.0, 1.0, 0.3):
        X = np.full((1, a.size), x, np.float32)
        G, db = a[None].copy(), np.empty(a.size, np.float32)
        rows = []
        for j in range(a.size):                          # per-pixel losses: one column at a time
            g1, d1 = G[:, j:j + 1].copy(), np.empty(1, np.float32)
            rows.append(elementwise.bernoulli_nll_grad_bias(
                g1, np.zeros(1, np.float32), X[:, j:j + 1], 1.0, None, None, d1))
        elementwise.bernoulli_nll_grad_bias(G, np.zeros(a.size, np.float32), X, 1.0, None, None,
                                            db)
        col = np.array(rows)
        a64, x64 = a.astype(np.float64), float(np.float32(x))
        nll = np.logaddexp(0, a64) - x64 * a64
        sig = np.exp(-np.logaddexp(0, -a64))
        # float32 rounding of max(a,0) - x a (up to |a| ulps) plus a few ulps of log1p
        assert np.all(np.abs(col - nll) <= 4e-7 * (1 + np.abs(a64))), x
        assert np.abs(G[0] - (sig - x64)).max() <= 2.5e-7, x
        np.testing.assert_array_equal(db, G[0])
    G = np.array([[np.nan, np.inf, -np.inf]], np.float32)
    with np.errstate(invalid="ignore"):              # 0 * inf when interpreted
        total = elementwise.bernoulli_nll_grad_bias(G, np.zeros(3, np.float32), np.zeros_like(G),
                                                    1.0, None, None, np.empty(3, np.float32))
    assert np.isnan(total)                           # the loss of a non-finite logit is NaN
    assert np.isnan(G[0, 0]) and G[0, 1] == 1 and G[0, 2] == 0   # limits of sigmoid(a) - 0


@pytest.mark.parametrize("n", [37, 3000])
def test_float32_bce_with_bias_scale_and_many_rows(n):
    """The float32 kernel's loss does not drift with the batch size (block sums in float64)."""
    rng = np.random.default_rng(n)
    d = 50
    A0 = (rng.standard_normal((n, d)) * 4).astype(np.float32)
    b = (rng.standard_normal(d) * 2).astype(np.float32)              # a real output bias
    X = (rng.random((n, d)) < 0.4).astype(np.float32)
    X[0, :3] = [0.25, 0.5, 0.75]
    scale = 1.0 / n
    A, db = A0.copy(), np.empty(d, np.float32)
    nll = elementwise.bernoulli_nll_grad_bias(A, b, X, scale, None, None, db)
    a = A0.astype(np.float64) + b
    exact = float((np.logaddexp(0, a) - X * a).sum())
    assert nll == pytest.approx(exact, rel=1e-6)
    grad = (np.exp(-np.logaddexp(0, -a)) - X) * scale
    np.testing.assert_allclose(A, grad, rtol=0, atol=3e-7 * scale)
    np.testing.assert_allclose(db, grad.sum(0), rtol=1e-5, atol=1e-7)


def test_gaussian_kernel_is_the_reference_loss(dtype):
    rng = np.random.default_rng(2)
    A0 = rng.standard_normal((5, 8)).astype(dtype)
    b = rng.standard_normal(8).astype(dtype)
    X = rng.standard_normal((5, 8)).astype(dtype)
    nll_ref, d_ref = losses.gaussian_nll(A0 + b, X, 0.7)
    A, db = A0.copy(), np.empty(8, dtype)
    nll = elementwise.gaussian_nll_grad_bias(A, b, X, 0.7, 1 / 5, db)
    assert nll / 5 == pytest.approx(nll_ref, rel=_tol(dtype, 1e-6, 1e-12))
    np.testing.assert_allclose(A, d_ref, rtol=_tol(dtype, 1e-5, 1e-12), atol=_tol(dtype, 1e-7))
    np.testing.assert_allclose(db, d_ref.sum(0), rtol=1e-5, atol=_tol(dtype, 1e-6, 1e-14))


def test_reparam_kernels_are_the_sampling_layer_and_the_kl(dtype):
    rng = np.random.default_rng(0)
    n, k = 5, 3
    H = rng.standard_normal((n, 2 * k)).astype(dtype)
    mu, logvar = H[:, :k], H[:, k:]
    eps = rng.standard_normal((n, k)).astype(dtype)
    S, Z = np.empty((n, k), dtype), np.empty((n, k), dtype)
    kl = reparam.reparam_kl(H, eps, S, Z)
    z, std = reparameterize(mu, logvar, eps)
    np.testing.assert_allclose(Z, z, rtol=_tol(dtype))
    np.testing.assert_allclose(S, std, rtol=_tol(dtype))
    kl_ref, dmu_kl, dlogvar_kl = losses.kl_normal_std(mu, logvar)
    assert kl / n == pytest.approx(kl_ref, rel=_tol(dtype, 1e-5, 1e-12))
    # backward: dmu = dz + beta dKL/dmu, dlogvar = 0.5 dz eps std + beta dKL/dlogvar
    dz = rng.standard_normal((n, k)).astype(dtype)
    beta = 0.3
    dH, db = np.empty((n, 2 * k), dtype), np.empty(2 * k, dtype)
    reparam.reparam_backward_bias(dz, eps, S, H, beta / n, dH, db)
    expected = np.concatenate([dz + beta * dmu_kl, 0.5 * dz * eps * std + beta * dlogvar_kl], 1)
    np.testing.assert_allclose(dH, expected, rtol=_tol(dtype, 1e-5, 1e-12), atol=_tol(dtype))
    np.testing.assert_allclose(db, expected.sum(0), rtol=1e-5, atol=_tol(dtype, 1e-6, 1e-14))


def test_all_finite(dtype):
    a = np.zeros((50, 7), dtype)
    a[3, 4] = np.finfo(dtype).max
    assert flat.all_finite(a)
    for bad in (np.inf, -np.inf, np.nan):
        b = a.copy()
        b[49, 6] = bad
        assert not flat.all_finite(b)
        assert not flat.all_finite(b[:, 3:])     # a non-contiguous view takes NumPy's way
        b[0, 0] = bad
        assert not flat.all_finite(b.reshape(-1))


def test_set_backend_validates():
    with pytest.raises(ValueError, match="'name' parameter of set_backend must be a str among .*Got 'cuda'"):
        backends.set_backend("cuda")
    before = backends.get_backend()
    with backends.backend("numpy"):
        assert backends.get_backend() == "numpy"
    assert backends.get_backend() == before


def test_read_only_package_gets_a_writable_numba_cache(monkeypatch, tmp_path):
    """Without NUMBA_CACHE_DIR and with an unwritable package folder, the cache goes to tmp."""
    import os
    import tempfile

    import numba

    from vae_np.fast import _jit
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    _jit._ensure_cache_dir()
    assert numba.config.CACHE_DIR.startswith(str(tmp_path))
    assert os.path.isdir(numba.config.CACHE_DIR)
