"""Every numba kernel against its pure-NumPy reference (float32 and float64)."""
import numpy as np
import pytest

from vae_np import kernels


@pytest.fixture(params=[np.float32, np.float64])
def dtype(request):
    return request.param


def _rng():
    return np.random.default_rng(42)


def test_bias_relu_and_bias_add(dtype):
    rng = _rng()
    Z = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    ref = kernels.bias_act_forward_ref(Z.copy(), b, "relu")
    np.testing.assert_array_equal(kernels._bias_relu_nb(Z.copy(), b), ref)
    np.testing.assert_array_equal(kernels._bias_add_nb(Z.copy(), b), Z + b)


def test_relu_backward(dtype):
    rng = _rng()
    dY = rng.standard_normal((6, 4)).astype(dtype)
    Y = np.maximum(rng.standard_normal((6, 4)), 0).astype(dtype)
    out = kernels._relu_backward_nb(dY, Y, np.empty_like(dY))
    np.testing.assert_array_equal(out, kernels.act_backward_ref(dY, Y, "relu"))


def test_bernoulli_nll_grad(dtype):
    rng = _rng()
    logits = (rng.standard_normal((5, 9)) * 20).astype(dtype)
    logits[0, :3] = [-1e4, 1e4, 0]
    X = rng.random((5, 9)).astype(dtype)
    nll_ref, d_ref = kernels.bernoulli_nll_grad_ref(logits, X, dtype(0.2))
    with kernels.backend("numba"):
        nll, d = kernels.bernoulli_nll_grad(logits, X, 0.2)
    np.testing.assert_allclose(nll, nll_ref, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(d, d_ref, rtol=1e-6, atol=1e-7)
    assert np.isfinite(nll).all()
    # the interpreted kernel (what NUMBA_DISABLE_JIT runs) gives the same numbers
    E = np.exp(-np.abs(logits))
    interpreted = getattr(kernels._bernoulli_nll_grad_nb, "py_func", kernels._bernoulli_nll_grad_nb)
    nll2, d2 = interpreted(
        logits, X, E, np.log1p(E), dtype(0.2), np.empty(5), np.empty_like(logits))
    np.testing.assert_allclose(nll2, nll, rtol=1e-6)
    np.testing.assert_allclose(d2, d, rtol=1e-6, atol=1e-7)


def test_reparam_backward(dtype):
    rng = _rng()
    dz, eps, mu, logvar = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(4))
    std = np.exp(0.5 * logvar)
    ref = kernels.reparam_backward_ref(dz, eps, std, mu, logvar, 0.5, 0.25)
    with kernels.backend("numba"):
        got = kernels.reparam_backward(dz, eps, std, mu, logvar, 0.5, 0.25)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_optimizer_kernels(dtype, name):
    rng = _rng()
    p0 = rng.standard_normal((3, 4)).astype(dtype)
    g = rng.standard_normal((3, 4)).astype(dtype)
    s0 = np.abs(rng.standard_normal((3, 4))).astype(dtype)
    out = {}
    for backend in ("numba", "numpy"):
        p, s1, s2 = p0.copy(), s0.copy(), s0.copy()
        with kernels.backend(backend):
            if name == "sgd":
                kernels.sgd_update(p, g, s1, 0.1, 0.9)
            elif name == "adagrad":
                kernels.adagrad_update(p, g, s1, 0.1, 1e-8)
            else:
                kernels.adam_update(p, g, s1, s2, 0.01, 0.9, 0.999, 1e-8)
        out[backend] = (p, s1, s2)
        assert p.dtype == dtype
    for a, b in zip(out["numba"], out["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_set_backend_validates():
    with pytest.raises(ValueError, match="unknown backend"):
        kernels.set_backend("cuda")
    before = kernels.get_backend()
    with kernels.backend("numpy"):
        assert kernels.get_backend() == "numpy"
    assert kernels.get_backend() == before


def test_read_only_package_gets_a_writable_numba_cache(monkeypatch, tmp_path):
    """Without NUMBA_CACHE_DIR and with an unwritable package folder, the cache goes to tmp."""
    import os
    import tempfile
    import numba
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    kernels._ensure_cache_dir()
    assert numba.config.CACHE_DIR.startswith(str(tmp_path))
    assert os.path.isdir(numba.config.CACHE_DIR)
