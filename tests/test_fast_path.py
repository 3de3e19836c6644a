"""The fused training step (vae_np.fused + the fused kernels) against the reference paths."""
import tracemalloc

import numpy as np
import pytest

import vae_np
from vae_np import fused, kernels

DTYPES = [np.float32, np.float64]


def _batch(rng, n, d, k, dtype):
    X = (rng.random((n, d)) < 0.4).astype(dtype)
    X[0, :3] = [0.25, 0.5, 1.0]                      # grey values are allowed too
    eps = rng.standard_normal((n, k)).astype(dtype)
    return X, eps


def _reference(model, X, eps, beta):
    with kernels.backend("numpy"):                   # the layer-by-layer path
        loss, grads = model.loss_and_grads(X, eps, beta)
    return loss, {k: g.copy() for k, g in grads.items()}, dict(model.terms)


def _assert_grads_close(got, ref, rtol):
    assert got.keys() == ref.keys()
    for name in ref:
        scale = max(np.abs(ref[name]).max(), 1e-30)
        err = np.abs(got[name] - ref[name]).max() / scale
        assert err < rtol, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,act", [((400,), "relu"), ((), "relu"), ((32, 16), "tanh"),
                                        ((24,), "sigmoid"), ((24,), "softplus"),
                                        ((24,), "identity")])
def test_fused_step_matches_layer_path(dtype, hidden, act):
    rng = np.random.default_rng(1)
    d, k = 784 if hidden == (400,) else 37, 5
    model = vae_np.VAE(d, hidden, k, activation=act, seed=3, dtype=dtype)
    for p in model.params.values():                  # non-zero biases: every term is exercised
        p += (0.1 * rng.standard_normal(p.shape)).astype(dtype)
    for n, beta in [(16, 1.0), (1, 0.0), (9, 2.5)]:
        X, eps = _batch(rng, n, d, k, dtype)
        loss_ref, g_ref, terms_ref = _reference(model, X, eps, beta)
        for backend in ("numba", "numpy"):
            with kernels.backend(backend):
                loss, grads = fused.vae_loss_and_grads(model, X, eps, beta)
            tol = 2e-5 if dtype == np.float32 else 1e-11
            assert grads is model.grads
            assert loss == pytest.approx(loss_ref, rel=tol)
            for key in ("recon", "kl"):
                assert model.terms[key] == pytest.approx(terms_ref[key], rel=tol, abs=tol)
            _assert_grads_close(grads, g_ref, rtol=tol * (50 if dtype == np.float32 else 1))


def test_model_uses_fused_path_only_with_numba_backend(monkeypatch):
    model = vae_np.VAE(12, (8,), 3, seed=0)
    X, eps = _batch(np.random.default_rng(0), 4, 12, 3, np.float32)
    calls = []
    real = fused.vae_loss_and_grads
    monkeypatch.setattr(fused, "vae_loss_and_grads", lambda *a: calls.append(1) or real(*a))
    with kernels.backend("numpy"):
        model.loss_and_grads(X, eps)
    assert calls == []
    with kernels.backend("numba"):
        model.loss_and_grads(X, eps)
    # under NUMBA_DISABLE_JIT the backend stays "numpy" and the fused path is not used
    assert calls == ([] if kernels.numba.config.DISABLE_JIT else [1])


def test_gaussian_likelihood_keeps_layer_path():
    model = vae_np.VAE(10, (6,), 2, likelihood="gaussian", seed=0)
    assert not fused.supports(model)
    assert not fused.supports(vae_np.Autoencoder(10, (6,), 2, seed=0))
    assert fused.supports(vae_np.VAE(10, (6,), 2, seed=0))


def test_fused_numba_and_numpy_kernels_agree_to_rounding():
    """The same fused step with the numba kernels and with their NumPy references."""
    rng = np.random.default_rng(5)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    X, eps = _batch(rng, 128, 784, 20, np.float32)
    out = {}
    for backend in ("numba", "numpy"):
        with kernels.backend(backend):
            loss, grads = fused.vae_loss_and_grads(model, X, eps, 1.0)
        out[backend] = loss, {k: g.copy() for k, g in grads.items()}
    assert out["numba"][0] == pytest.approx(out["numpy"][0], rel=1e-6)
    _assert_grads_close(out["numba"][1], out["numpy"][1], rtol=1e-6)


def test_fused_step_gradient_check():
    """Finite differences on the fused path itself (float64, fixed eps)."""
    rng = np.random.default_rng(2)
    model = vae_np.VAE(6, (5,), 2, seed=1, dtype=np.float64)
    X = rng.random((4, 6))               # no all-zero row: it would sit on the ReLU kink (b = 0)
    eps = rng.standard_normal((4, 2))
    with kernels.backend("numba"):
        _, grads = fused.vae_loss_and_grads(model, X, eps, 1.3)
        grads = {k: g.copy() for k, g in grads.items()}
        h = 1e-6
        for name, p in model.params.items():
            num = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + h
                lp = fused.vae_loss_and_grads(model, X, eps, 1.3)[0]
                p[i] = old - h
                lm = fused.vae_loss_and_grads(model, X, eps, 1.3)[0]
                p[i] = old
                num[i] = (lp - lm) / (2 * h)
            err = np.linalg.norm(num - grads[name]) / max(np.linalg.norm(num), 1e-12)
            assert err < 1e-6, (name, err)


def test_fused_step_allocates_almost_nothing():
    rng = np.random.default_rng(0)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    opt = vae_np.Adam(1e-3)
    X, eps = _batch(rng, 128, 784, 20, np.float32)
    with kernels.backend("numba"):
        for _ in range(2):                            # compile, build the buffers
            model._loss_and_grads(X, eps, 1.0)
            opt.step(model.params, model.grads)
        tracemalloc.start()
        try:
            for _ in range(3):
                model._loss_and_grads(X, eps, 1.0)
                opt.step(model.params, model.grads)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    if kernels.get_backend() == "numba":
        assert peak < 64 * 1024, f"a step allocated {peak} bytes"  # vs ~6 MB on the layer path


def test_workspace_cache_per_batch_size():
    model = vae_np.VAE(20, (8,), 3, seed=0)
    rng = np.random.default_rng(0)
    with kernels.backend("numba"):
        for n in (5, 5, 3, 1, 2, 4, 6):
            X, eps = _batch(rng, n, 20, 3, np.float32)
            loss, _ = fused.vae_loss_and_grads(model, X, eps)
            assert np.isfinite(loss)
    assert 1 <= len(model._fused_workspaces) <= fused._MAX_WORKSPACES
    fused.clear_workspaces(model)
    assert not hasattr(model, "_fused_workspaces")


def test_fit_same_history_on_both_paths():
    rng = np.random.default_rng(0)
    X = rng.random((200, 30))
    hist = {}
    for backend in ("numba", "numpy"):
        model = vae_np.VAE(30, (16,), 3, seed=0, dtype=np.float64)
        with kernels.backend(backend):
            h = vae_np.fit(model, X, 2, 64, vae_np.Adam(1e-2), seed=1, progress=False)
        hist[backend] = h.train_loss, model.params["enc.0.W"].copy()
    np.testing.assert_allclose(hist["numba"][0], hist["numpy"][0], rtol=1e-10)
    np.testing.assert_allclose(hist["numba"][1], hist["numpy"][1], rtol=1e-8, atol=1e-12)


def test_fit_does_not_copy_the_training_set():
    """Training never makes a copy of the data set (no shuffled copy, no dtype copy).

    The input check's boolean ``isfinite`` temporary (a quarter of a float32 array) is allowed.
    """
    X = (np.random.default_rng(0).random((20_000, 784), dtype=np.float32) < 0.5).astype(np.float32)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    tracemalloc.start()
    try:
        vae_np.fit(model, X, 1, 128, vae_np.Adam(1e-3), seed=0, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.9 * X.nbytes, f"peak {peak / 1e6:.1f} MB for a {X.nbytes / 1e6:.1f} MB set"


# ------------------------------------------------------------------------------ kernels vs refs
def _nb(f):
    """The compiled kernel, or its Python function under NUMBA_DISABLE_JIT."""
    return getattr(f, "py_func", f) if kernels.numba.config.DISABLE_JIT else f


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["relu", "identity", "tanh", "sigmoid", "softplus"])
def test_act_backward_bias(dtype, act):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((7, 5)).astype(dtype) * 3
    Y = kernels.bias_act_forward_ref(Z.copy(), np.zeros(5, dtype), act)
    G = rng.standard_normal((7, 5)).astype(dtype)
    db_ref = np.empty(5, dtype)
    ref = kernels.act_backward_bias_ref(G.copy(), Y, act, db_ref)
    # the derivative written with the output equals the layer path's derivative
    expected = kernels.act_backward_ref(G, Y, act, X=Z)
    np.testing.assert_allclose(ref, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(db_ref, expected.sum(0), rtol=1e-5, atol=1e-5)
    if act == "relu":
        db = np.empty(5, dtype)
        got = _nb(kernels._relu_backward_bias_nb)(G.copy(), Y, db)
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_allclose(db, db_ref, rtol=1e-6)
    if act == "identity":
        db = np.empty(5, dtype)
        _nb(kernels._colsum_nb)(G, db)
        np.testing.assert_allclose(db, db_ref, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_nll_grad_bias(dtype):
    rng = np.random.default_rng(0)
    A0 = (rng.standard_normal((6, 9)) * 30).astype(dtype)    # large logits: stability
    A0[0, :3] = [1e4, -1e4, 0]
    b = rng.standard_normal(9).astype(dtype)
    X = (rng.random((6, 9)) < 0.5).astype(dtype)
    scale = dtype(1 / 6)
    E, L = np.empty_like(A0), np.empty_like(A0)
    db_ref = np.empty(9, dtype)
    A_ref = A0.copy()
    nll_ref = kernels.bernoulli_nll_grad_bias_ref(A_ref, b, X, scale, E, L, db_ref)
    rows, d = kernels.bernoulli_nll_grad_ref(A0 + b, X, scale)   # the layer path's kernel
    assert np.isfinite(nll_ref) and nll_ref == pytest.approx(float(rows.sum()), rel=1e-6)
    np.testing.assert_allclose(A_ref, d, rtol=1e-6, atol=1e-7)
    # numba pieces
    A = A0.copy()
    _nb(kernels._bias_negabs_nb)(A, b, E)
    np.exp(E, out=E)
    np.log1p(E, out=L)
    db = np.empty(9, dtype)
    _nb(kernels._bce_grad_bias_nb)(A, X, E, L, scale, db)
    np.testing.assert_array_equal(A, A_ref)
    assert float(E.sum()) == pytest.approx(nll_ref, rel=1e-6)
    np.testing.assert_allclose(db, db_ref, rtol=1e-5, atol=1e-7)


def test_float32_bce_kernel_over_the_whole_range():
    """The one-pass float32 kernel (inline polynomial exp and log1p) against float64 maths."""
    a = np.concatenate([np.linspace(-120, 120, 4001), [0.0, -0.0, 1e-30, -1e-30, 88.7, -88.7,
                                                        103.9, -103.9, 104, -104, 1e4, -1e4]])
    a = a.astype(np.float32)
    b = np.zeros(a.size, np.float32)
    kernel = _nb(kernels._bce_grad_bias_f32_nb)
    for x in (0.0, 1.0, 0.3):
        X = np.full((1, a.size), x, np.float32)
        G, db, col = a[None].copy(), np.empty_like(b), np.empty_like(b)
        total = np.empty(a.size)
        kernel(G, b, X, np.float32(1), db, col, total)
        col = total
        a64, x64 = a.astype(np.float64), float(np.float32(x))
        nll = np.logaddexp(0, a64) - x64 * a64
        sig = np.exp(-np.logaddexp(0, -a64))
        # float32 rounding of max(a,0) - x a (up to |a| ulps) plus a few ulps of log1p
        assert np.all(np.abs(col - nll) <= 4e-7 * (1 + np.abs(a64))), x
        assert np.abs(G[0] - (sig - x64)).max() <= 2.5e-7, x
        np.testing.assert_array_equal(db, G[0])
    G = np.array([[np.nan, np.inf, -np.inf]], np.float32)
    total = np.empty(3)
    with np.errstate(invalid="ignore"):              # 0 * inf when interpreted
        kernel(G, np.zeros(3, np.float32), np.zeros_like(G), np.float32(1),
               np.empty(3, np.float32), np.empty(3, np.float32), total)
    assert np.isnan(total).all()                     # the loss of a non-finite logit is NaN
    assert np.isnan(G[0, 0]) and G[0, 1] == 1 and G[0, 2] == 0   # limits of sigmoid(a) - 0


@pytest.mark.parametrize("n", [37, 3000])
def test_float32_bce_dispatch_with_bias_scale_and_many_rows(n):
    """The float32 numba path of bernoulli_nll_grad_bias against the NumPy reference and float64."""
    rng = np.random.default_rng(n)
    d = 50
    A0 = (rng.standard_normal((n, d)) * 4).astype(np.float32)
    b = (rng.standard_normal(d) * 2).astype(np.float32)              # a real output bias
    X = (rng.random((n, d)) < 0.4).astype(np.float32)
    X[0, :3] = [0.25, 0.5, 0.75]
    scale = 1.0 / n
    out = {}
    for backend in ("numba", "numpy"):
        A, db = A0.copy(), np.empty(d, np.float32)
        with kernels.backend(backend):
            nll = kernels.bernoulli_nll_grad_bias(A, b, X, scale, np.empty_like(A),
                                                  np.empty_like(A), db)
        out[backend] = nll, A, db
    a = A0.astype(np.float64) + b
    exact = float((np.logaddexp(0, a) - X * a).sum())
    assert out["numba"][0] == pytest.approx(exact, rel=1e-6)          # no growth with n
    assert out["numba"][0] == pytest.approx(out["numpy"][0], rel=1e-6)
    np.testing.assert_allclose(out["numba"][1], out["numpy"][1], rtol=0, atol=3e-7 * scale)
    np.testing.assert_allclose(out["numba"][2], out["numpy"][2], rtol=1e-5, atol=1e-7)
    grad = (np.exp(-np.logaddexp(0, -a)) - X) * scale
    np.testing.assert_allclose(out["numba"][1], grad, rtol=0, atol=3e-7 * scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparam_kernels(dtype):
    rng = np.random.default_rng(0)
    n, k = 5, 3
    H = rng.standard_normal((n, 2 * k)).astype(dtype)
    eps = rng.standard_normal((n, k)).astype(dtype)
    S_ref, Z_ref = np.empty((n, k), dtype), np.empty((n, k), dtype)
    kl_ref = kernels.reparam_kl_ref(H, eps, S_ref, Z_ref)
    z, std = kernels.reparameterize_ref(H[:, :k], H[:, k:], eps)
    np.testing.assert_allclose(Z_ref, z, rtol=1e-6)
    assert kl_ref == pytest.approx(
        float(vae_np.losses.kl_normal_std_per_example(H[:, :k], H[:, k:]).sum()), rel=1e-5)
    S, Z = np.empty_like(S_ref), np.empty_like(Z_ref)
    _nb(kernels._half_logvar_nb)(H, S)
    np.exp(S, out=S)
    kl = _nb(kernels._reparam_kl_nb)(H, eps, S, Z)
    np.testing.assert_array_equal(S, S_ref)
    np.testing.assert_array_equal(Z, Z_ref)
    assert kl == pytest.approx(kl_ref, rel=1e-6)
    dz = rng.standard_normal((n, k)).astype(dtype)
    dH_ref, db_ref = np.empty((n, 2 * k), dtype), np.empty(2 * k, dtype)
    kernels.reparam_backward_bias_ref(dz, eps, S, H, 0.3, dH_ref, db_ref)
    dmu, dlv = kernels.reparam_backward_ref(dz, eps, S, H[:, :k], H[:, k:], 0.3, 1.0)
    np.testing.assert_allclose(dH_ref, np.concatenate([dmu, dlv], 1), rtol=1e-5, atol=1e-6)
    dH, db = np.empty_like(dH_ref), np.empty_like(db_ref)
    _nb(kernels._reparam_backward_bias_nb)(dz, eps, S, H, dtype(0.3), dH, db)
    np.testing.assert_allclose(dH, dH_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, db_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_finite(dtype):
    a = np.zeros((50, 7), dtype)
    a[3, 4] = np.finfo(dtype).max
    for backend in ("numba", "numpy"):
        with kernels.backend(backend):
            assert kernels.all_finite(a)
            for bad in (np.inf, -np.inf, np.nan):
                b = a.copy()
                b[49, 6] = bad
                assert not kernels.all_finite(b)
                assert not kernels.all_finite(b[:, 3:])     # non-contiguous view
    itype, mask = kernels._EXP_MASKS[np.dtype(dtype)]
    b = a.copy()
    b[0, 0] = np.nan
    assert _nb(kernels._any_nonfinite_nb)(b.reshape(-1).view(itype), itype(mask))
    assert not _nb(kernels._any_nonfinite_nb)(a.reshape(-1).view(itype), itype(mask))


def test_gradcheck_catches_a_different_eps_in_fused_backward(monkeypatch):
    """The fused path's backward must use the forward pass's eps (the classic NumPy-VAE bug)."""
    from vae_np.gradcheck import check_model
    rng = np.random.default_rng(0)
    model = vae_np.VAE(6, (5,), 2, seed=1, dtype=np.float64)
    X, eps = rng.random((4, 6)), rng.standard_normal((4, 2))
    with kernels.backend("numba"):
        assert max(check_model(model, X, eps).values()) < 1e-6
        original = kernels.reparam_backward_bias
        monkeypatch.setattr(kernels, "reparam_backward_bias",
                            lambda dz, e, *a: original(dz, rng.standard_normal(e.shape), *a))
        errors = check_model(model, X, eps)
    if not kernels.numba.config.DISABLE_JIT:  # otherwise the layer path ran
        assert max(errors[k] for k in errors if k.startswith("enc.")) > 1e-2
