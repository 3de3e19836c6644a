"""The fused training step (vae_np.fast.step) against the reference path of vae_np.nn."""
import copy
import tracemalloc

import numpy as np
import pytest
from fast_helpers import DTYPES, JIT_DISABLED, assert_grads_close, batch, copied, needs_jit

import vae_np
from vae_np.fast import step as fast_step
from vae_np.nn.gradcheck import check_model


def _reference(model, X, eps, beta):
    loss, grads = model.loss_and_grads(X, eps, beta)
    return loss, copied(grads), dict(model.terms)


def _perturb(model, rng):
    for p in model.params.values():                  # non-zero biases: every term is exercised
        p += (0.1 * rng.standard_normal(p.shape)).astype(p.dtype)


CASES = [(vae_np.VAE, {}), (vae_np.VAE, {"likelihood": "gaussian", "obs_std": 0.6}),
         (vae_np.Autoencoder, {}), (vae_np.Autoencoder, {"likelihood": "gaussian"}),
         (vae_np.Autoencoder, {"code_noise": 0.3})]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,kw", CASES)
@pytest.mark.parametrize("hidden,act", [((24,), "relu"), ((), "relu"), ((32, 16), "tanh"),
                                        ((24,), "sigmoid"), ((24,), "softplus"),
                                        ((24,), "identity")])
def test_fused_step_matches_the_reference(dtype, cls, kw, hidden, act):
    rng = np.random.default_rng(1)
    d, k = 37, 5
    model = cls(d, hidden, k, activation=act, seed=3, dtype=dtype, **kw)
    _perturb(model, rng)
    assert fast_step.supports(model)
    for n, beta in [(16, 1.0), (1, 0.0), (9, 2.5)]:
        X, eps = batch(rng, n, d, k, dtype)
        loss_ref, g_ref, terms_ref = _reference(model, X, eps, beta)
        loss, grads = fast_step.loss_and_grads(model, X, eps, beta)
        tol = 2e-5 if dtype == np.float32 else 1e-11
        assert grads is model.grads
        assert loss == pytest.approx(loss_ref, rel=tol)
        for key in ("recon", "kl"):
            assert model.terms[key] == pytest.approx(terms_ref[key], rel=tol, abs=tol)
        assert_grads_close(grads, g_ref, rtol=tol * (50 if dtype == np.float32 else 1))


@needs_jit
def test_fused_step_matches_the_reference_at_the_books_size():
    rng = np.random.default_rng(5)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    _perturb(model, rng)
    X, eps = batch(rng, 128, 784, 20, np.float32)
    loss_ref, g_ref, _ = _reference(model, X, eps, 1.0)
    loss, grads = fast_step.loss_and_grads(model, X, eps, 1.0)
    assert loss == pytest.approx(loss_ref, rel=1e-6)
    assert_grads_close(grads, g_ref, rtol=1e-5)


def test_supports_only_the_models_it_knows():
    assert fast_step.supports(vae_np.VAE(10, (6,), 2, likelihood="gaussian", seed=0))
    assert fast_step.supports(vae_np.Autoencoder(10, (6,), 2, seed=0))
    assert not fast_step.supports(vae_np.PCA(2))


@pytest.mark.parametrize("cls,kw", CASES)
def test_fused_step_gradient_check(cls, kw):
    """Finite differences on the fused path itself (float64, fixed eps)."""
    rng = np.random.default_rng(2)
    model = cls(6, (5,), 2, seed=1, dtype=np.float64, **kw)
    X = rng.random((4, 6))               # no all-zero row: it would sit on the ReLU kink (b = 0)
    eps = rng.standard_normal((4, 2))
    _, grads = fast_step.loss_and_grads(model, X, eps, 1.3)
    grads = copied(grads)
    h = 1e-6
    for name, p in model.params.items():
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            lp = fast_step.loss_and_grads(model, X, eps, 1.3)[0]
            p[i] = old - h
            lm = fast_step.loss_and_grads(model, X, eps, 1.3)[0]
            p[i] = old
            num[i] = (lp - lm) / (2 * h)
        err = np.linalg.norm(num - grads[name]) / max(np.linalg.norm(num), 1e-12)
        assert err < 1e-6, (name, err)


def test_a_different_eps_in_the_fused_backward_is_caught(monkeypatch):
    """The backward pass must use the forward pass's eps (the classic NumPy-VAE bug)."""
    rng = np.random.default_rng(0)
    model = vae_np.VAE(6, (5,), 2, seed=1, dtype=np.float64)
    X, eps = rng.random((4, 6)), rng.standard_normal((4, 2))
    _, grads = fast_step.loss_and_grads(model, X, eps)
    good = copied(grads)
    assert max(check_model(model, X, eps).values()) < 1e-6    # the reference is right
    original = fast_step._reparam_backward_bias          # the unchecked kernel the step calls
    monkeypatch.setattr(fast_step, "_reparam_backward_bias",
                        lambda dz, e, *a: original(dz, rng.standard_normal(e.shape), *a))
    _, grads = fast_step.loss_and_grads(model, X, eps)
    errors = [np.abs(grads[k] - good[k]).max() / np.abs(good[k]).max() for k in good
              if k.startswith("enc.")]
    assert max(errors) > 1e-2


@pytest.mark.parametrize("mode", ["sparse", "dense"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_the_step_counts_the_nonfinite_gradients_it_writes(mode, value, monkeypatch):
    """fast.finite.gradients_finite after a step: what make_step's finite check relies on."""
    rng = np.random.default_rng(4)
    model = vae_np.VAE(40, (12,), 3, seed=0)
    X = (rng.random((16, 40)) < 0.1).astype(np.float32)
    X[0, :3] = 1                                    # example 0 (the poisoned one) has pixels on
    eps = rng.standard_normal((16, 3)).astype(np.float32)
    assert vae_np.fast.finite.gradients_finite(model) is None          # no step yet
    with vae_np.fast.first_layer(mode):
        fast_step.loss_and_grads(model, X, eps)
        assert vae_np.fast.finite.gradients_finite(model) is True
        # the gradient at the first layer's output, poisoned in one example: only the first
        # layer's weight gradient becomes non-finite (the sparse kernel's own count, or the
        # count after the dense product), and the loss stays finite
        # (the decoder's hidden layer takes _act_backward_bias_t: the first call here is the
        # encoder's)
        backward = fast_step._act_backward_bias
        seen = []

        def poisoned(G, Y, act, db):
            out = backward(G, Y, act, db)
            seen.append(G.shape)
            if G.shape == (16, 12) and len(seen) == 1:            # the encoder's hidden layer
                out[0, 0] = value
            return out
        monkeypatch.setattr(fast_step, "_act_backward_bias", poisoned)
        with np.errstate(invalid="ignore"):
            loss, grads = fast_step.loss_and_grads(model, X, eps)
    assert np.isfinite(loss)
    assert [k for k, g in grads.items() if not np.isfinite(g).all()] == ["enc.0.W"]
    assert vae_np.fast.finite.gradients_finite(model) is False


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_abs_finds_the_largest_magnitude_and_any_nan_or_inf(dtype):
    rng = np.random.default_rng(5)
    A = rng.standard_normal((7, 33)).astype(dtype)
    A[3, 4] = -9.5                                   # the largest magnitude is negative
    assert vae_np.fast.finite.max_abs(A) == 9.5
    assert vae_np.fast.finite.max_abs(np.zeros((2, 3), dtype)) == 0.0
    for value in (np.nan, np.inf, -np.inf):
        B = A.copy()
        B[6, 32] = value
        assert vae_np.fast.finite.max_abs(B) == np.inf


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_bound_proves_a_gradient_finite_only_when_it_must_be(dtype):
    big = float(np.finfo(dtype).max)
    rng = np.random.default_rng(6)
    X, G = rng.standard_normal((16, 5)).astype(dtype), rng.standard_normal((16, 8)).astype(dtype)
    dW = X.T @ G
    assert fast_step._proven_finite(X, G, dW) is dW
    # 16 rows of 0.1 * max each: X.T @ G overflows, and the bound must not claim it finite
    X_big = np.full((16, 5), 0.1 * big, dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(X_big.T @ np.ones((16, 8), dtype)).all()
    assert fast_step._proven_finite(X_big, np.ones((16, 8), dtype), dW) is None
    for value in (np.nan, np.inf):
        G_bad = G.copy()
        G_bad[0, 0] = value
        assert fast_step._proven_finite(X, G_bad, dW) is None
        assert fast_step._proven_finite(np.zeros_like(X), G_bad, dW) is None    # inf * 0


def test_the_output_layer_gradient_is_counted_unless_the_bound_proves_it_finite(monkeypatch):
    # clean step: the bound holds and the decoder's output-layer weight gradient is not read
    # again; the gradient at the logits poisoned after the loss pass: the bound fails, the
    # gradient is counted and the step is found non-finite
    rng = np.random.default_rng(7)
    model = vae_np.VAE(40, (12,), 3, seed=0)
    X = (rng.random((16, 40)) < 0.1).astype(np.float32)
    eps = rng.standard_normal((16, 3)).astype(np.float32)
    count, counted = vae_np.fast.finite.count_nonfinite, []

    def recording(arrays):
        arrays = list(arrays)
        counted.extend(id(a) for a in arrays)
        return count(arrays)
    monkeypatch.setattr(vae_np.fast.finite, "count_nonfinite", recording)
    fast_step.loss_and_grads(model, X, eps)
    assert id(model.grads["dec.2.W"]) not in counted and id(model.grads["dec.0.W"]) in counted
    assert vae_np.fast.finite.gradients_finite(model) is True

    loss_pass, counted[:] = fast_step._bernoulli_nll_grad_bias, []

    def poisoned(A, *args):
        nll = loss_pass(A, *args)
        A[2, 5] = np.nan
        return nll
    monkeypatch.setattr(fast_step, "_bernoulli_nll_grad_bias", poisoned)
    with np.errstate(invalid="ignore"):
        loss, grads = fast_step.loss_and_grads(model, X, eps)
    assert np.isfinite(loss) and id(grads["dec.2.W"]) in counted
    assert vae_np.fast.finite.gradients_finite(model) is False


@needs_jit
def test_fused_step_allocates_almost_nothing():
    rng = np.random.default_rng(0)
    model = vae_np.VAE(784, (400,), 20, seed=0)
    step = vae_np.train.make_step(model, vae_np.Adam(1e-3))
    X, eps = batch(rng, 128, 784, 20, np.float32)
    for _ in range(2):                                # compile, build the buffers
        step(X, eps)
    tracemalloc.start()
    try:
        for _ in range(3):
            assert step(X, eps)[1] is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"a step allocated {peak} bytes"    # vs ~6 MB on the reference path


def test_workspace_cache_per_batch_size():
    model = vae_np.VAE(20, (8,), 3, seed=0)
    rng = np.random.default_rng(0)
    for n in (5, 5, 3, 1, 2, 4, 6):
        X, eps = batch(rng, n, 20, 3, np.float32)
        loss, _ = fast_step.loss_and_grads(model, X, eps)
        assert np.isfinite(loss)
    assert 1 <= len(fast_step._workspaces[model]) <= fast_step._MAX_WORKSPACES
    clone = copy.deepcopy(model)                     # a copy has buffers of its own
    fast_step.loss_and_grads(clone, X, eps)
    assert fast_step._workspaces[clone] is not fast_step._workspaces[model]
    fast_step.clear_workspaces(model)
    assert model not in fast_step._workspaces


@pytest.mark.parametrize("cls", [vae_np.VAE, vae_np.Autoencoder])
def test_fit_gives_the_same_history_on_both_paths(cls):
    rng = np.random.default_rng(0)
    X = rng.random((200, 30))
    hist = {}
    for backend in ("numba", "numpy"):
        model = cls(30, (16,), 3, seed=0, dtype=np.float64)
        with vae_np.fast.backend(backend):
            h = vae_np.fit(model, X, 2, 64, vae_np.Adam(1e-2), seed=1, progress=False)
        hist[backend] = h.train_loss, model.params["enc.0.W"].copy()
    np.testing.assert_allclose(hist["numba"][0], hist["numpy"][0], rtol=1e-10)
    np.testing.assert_allclose(hist["numba"][1], hist["numpy"][1], rtol=1e-8, atol=1e-12)


def test_fit_runs_the_fast_step_only_with_the_numba_backend(monkeypatch):
    model = vae_np.VAE(12, (8,), 3, seed=0)
    X, _ = batch(np.random.default_rng(0), 20, 12, 3, np.float32)
    calls = []
    real = fast_step.loss_and_grads
    monkeypatch.setattr(fast_step, "loss_and_grads", lambda *a: calls.append(1) or real(*a))
    with vae_np.fast.backend("numpy"):
        vae_np.fit(model, X, 1, 10, vae_np.Adam(1e-3), seed=0, progress=False)
    assert calls == []
    with vae_np.fast.backend("numba"):
        vae_np.fit(model, X, 1, 10, vae_np.Adam(1e-3), seed=0, progress=False)
    # under NUMBA_DISABLE_JIT the backend stays "numpy" and the fast step is not used
    assert calls == ([] if JIT_DISABLED else [1, 1])


@needs_jit
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
