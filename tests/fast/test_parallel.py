"""The several-core step (vae_np.fast.parallel) against the one-core step and the reference."""
import inspect

import numpy as np
import pytest
from fast_helpers import JIT_DISABLED, assert_grads_close, copied, needs_jit

import vae_np
from vae_np.fast import finite, flat, parallel
from vae_np.fast import step as fused
from vae_np.fast.backends import first_layer


def _model(d=12, h=8, k=2, seed=3, **kw):
    model = vae_np.VAE(d, (h,), k, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    for p in model.params.values():               # non-zero biases: every term is exercised
        p += (0.1 * rng.standard_normal(p.shape)).astype(p.dtype)
    return model


def _batch(rng, n, d, k, density=0.3):
    X = (rng.random((n, d)) < density).astype(np.float32)
    X[0, :3] = [0.25, 0.5, 1.0]                   # a few grey levels
    return X, rng.standard_normal((n, k)).astype(np.float32)


@pytest.mark.parametrize("mode", ["auto", "dense", "sparse"])
@pytest.mark.parametrize("n,parts", [(64, 2), (67, 2), (100, 3), (96, 2)])
def test_parallel_step_matches_the_reference_and_the_one_core_step(mode, n, parts):
    rng = np.random.default_rng(n + parts)
    model = _model(d=30, h=16, k=3)
    X, eps = _batch(rng, n, 30, 3)
    ref_loss, ref = model.loss_and_grads(X, eps, 0.7)
    ref, ref_terms = copied(ref), dict(model.terms)
    with first_layer(mode):
        loss1, g = fused.loss_and_grads(model, X, eps, 0.7)
        one = copied(g)
        loss, grads = parallel.loss_and_grads(model, X, eps, 0.7, parts)
    assert grads is model.grads
    assert loss == pytest.approx(ref_loss, rel=2e-6) and loss == pytest.approx(loss1, rel=2e-6)
    for key in ("recon", "kl"):
        assert model.terms[key] == pytest.approx(ref_terms[key], rel=2e-6, abs=1e-6)
    assert_grads_close(grads, ref, rtol=1e-5)
    assert_grads_close(grads, one, rtol=1e-5)


@needs_jit
def test_parallel_step_at_the_books_size():
    rng = np.random.default_rng(5)
    model = _model(784, 400, 20, seed=0)
    X, eps = _batch(rng, 128, 784, 20, density=0.13)
    ref_loss, ref = model.loss_and_grads(X, eps, 1.0)
    ref = copied(ref)
    loss, grads = parallel.loss_and_grads(model, X, eps, 1.0, 2)
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    assert_grads_close(grads, ref, rtol=1e-5)


def test_parallel_gradient_check():
    """Central differences of the float64 reference loss at the same parameters (float32
    arithmetic in the step: agreement to about 1e-5 of each gradient's size)."""
    rng = np.random.default_rng(2)
    model = _model(d=10, h=6, k=2, seed=1)
    X = rng.random((64, 10)).astype(np.float32)   # grey, no all-zero row (no ReLU kink at b)
    eps = rng.standard_normal((64, 2)).astype(np.float32)
    _, grads = parallel.loss_and_grads(model, X, eps, 1.3, 2)
    grads = copied(grads)
    exact = vae_np.VAE(10, (6,), 2, seed=1, dtype=np.float64)
    for name, p in exact.params.items():
        p[...] = model.params[name]
    X64, eps64, h = X.astype(np.float64), eps.astype(np.float64), 1e-6
    for name, p in exact.params.items():
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            lp = exact.loss_and_grads(X64, eps64, 1.3)[0]
            p[i] = old - h
            lm = exact.loss_and_grads(X64, eps64, 1.3)[0]
            p[i] = old
            num[i] = (lp - lm) / (2 * h)
        err = np.abs(num - grads[name]).max() / np.abs(num).max()
        assert err < 1e-4, (name, err)


def test_small_batches_take_the_one_core_step():
    rng = np.random.default_rng(0)
    model = _model()
    X, eps = _batch(rng, 2 * parallel.MIN_ROWS_PER_PART - 1, 12, 2)
    loss1, g = fused.loss_and_grads(model, X, eps)
    one = copied(g)
    loss, grads = parallel.loss_and_grads(model, X, eps, 1.0, 2)
    assert loss == loss1
    for name in one:
        np.testing.assert_array_equal(grads[name], one[name])


def test_parallel_step_is_deterministic():
    rng = np.random.default_rng(1)
    model = _model()
    X, eps = _batch(rng, 96, 12, 2)
    first = copied(parallel.loss_and_grads(model, X, eps, 1.0, 3)[1])
    again = parallel.loss_and_grads(model, X, eps, 1.0, 3)[1]
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])


def test_supports_only_the_books_shape_of_vae():
    assert parallel.supports(vae_np.VAE(10, (6,), 2, seed=0))
    assert not parallel.supports(vae_np.VAE(10, (6,), 2, seed=0, dtype=np.float64))
    assert not parallel.supports(vae_np.VAE(10, (6,), 2, likelihood="gaussian", seed=0))
    assert not parallel.supports(vae_np.VAE(10, (6, 4), 2, seed=0))
    assert not parallel.supports(vae_np.VAE(10, (6,), 2, activation="tanh", seed=0))
    assert not parallel.supports(vae_np.Autoencoder(10, (6,), 2, seed=0))
    assert not parallel.supports(vae_np.IWAE(10, (6,), 2, seed=0))


def test_bad_arguments_are_named():
    rng = np.random.default_rng(0)
    X, eps = _batch(rng, 64, 10, 2)
    with pytest.raises(ValueError, match="'model' parameter .* float32 Bernoulli"):
        parallel.loss_and_grads(vae_np.VAE(10, (6, 4), 2, seed=0), X, eps)
    for parts in (0, 1.5, "2"):
        with pytest.raises(ValueError, match="'parts' parameter .* must be an int"):
            parallel.loss_and_grads(_model(d=10, h=6), X, eps, 1.0, parts)
    with pytest.raises(ValueError, match="X"):
        parallel.loss_and_grads(_model(d=10, h=6), X[:, :5], eps)
    with pytest.raises(ValueError, match="parts"):
        flat.optimizer_step(vae_np.Adam(), {}, {}, parts=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_gradients_are_counted_as_they_are_written(value):
    rng = np.random.default_rng(0)
    model = _model()
    X, eps = _batch(rng, 64, 12, 2)
    parallel.loss_and_grads(model, X, eps, 1.0, 2)
    assert parallel.gradients_finite(model) is True
    A = np.zeros((3, 5), np.float32)
    assert finite._count_nonfinite_nb(A) == 0
    A[2, 4] = value
    assert finite._count_nonfinite_nb(A) == 1
    X1, eps1 = _batch(rng, 2 * parallel.MIN_ROWS_PER_PART - 1, 12, 2)
    assert parallel.gradients_finite(vae_np.VAE(12, [8], 2, seed=0)) is None   # no step yet
    model.params["dec.2.W"][0, 0] = value            # non-finite logits, then gradients
    parallel.loss_and_grads(model, X1, eps1, 1.0, 2)               # the one-core step counts too
    assert parallel.gradients_finite(model) is False


def test_a_nan_in_a_gradient_stops_the_update(monkeypatch):
    """The several-core step's own count, end to end: make_step names the gradient and does
    not update."""
    rng = np.random.default_rng(0)
    model, opt = _model(), vae_np.Adam(1e-3)
    X, eps = _batch(rng, 64, 12, 2)
    region = parallel._weight_grads_nb
    A = list(inspect.signature(getattr(region, "py_func", region)).parameters).index("A")

    def poisoned(*args):
        args[A][0, 0] = np.nan                  # dL/dlogits: NaN in the decoder output's dW
        return region(*args)
    monkeypatch.setattr(parallel, "_weight_grads_nb", poisoned)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    before = copied(model.params)
    with vae_np.fast.backend("numba"):
        _, problem = vae_np.train.make_step(model, opt)(X, eps)
    if JIT_DISABLED:                            # the reference step ran: nothing was poisoned
        assert problem is None
        return
    assert problem == "the gradient of 'dec.2.W'" and opt.t == 0
    for name in before:
        np.testing.assert_array_equal(model.params[name], before[name])


def test_adam_in_parts_gives_the_same_numbers():
    results = []
    for parts in (1, 2, 3):
        model = _model(d=30, h=16, k=3)
        opt = vae_np.Adam(lr=1e-2)
        rng = np.random.default_rng(4)
        for _ in range(3):
            for g in model.grads.values():
                g[...] = rng.standard_normal(g.shape).astype(g.dtype)
            flat.optimizer_step(opt, model.params, model.grads, parts)
        results.append(copied(model.params))
    for other in results[1:]:
        for name in results[0]:
            np.testing.assert_array_equal(other[name], results[0][name])


def test_make_step_runs_on_as_many_cores_as_blas_may_use(monkeypatch):
    calls = []
    original = parallel.loss_and_grads
    monkeypatch.setattr(parallel, "loss_and_grads",
                        lambda *a: calls.append(a[-1]) or original(*a))
    rng = np.random.default_rng(0)
    X, eps = _batch(rng, 64, 12, 2)
    with vae_np.fast.backend("numba"):
        monkeypatch.setattr(parallel, "cores", lambda: 2)
        loss, problem = vae_np.train.make_step(_model(), vae_np.Adam(1e-3))(X, eps)
        assert problem is None and calls == ([] if JIT_DISABLED else [2])
        monkeypatch.setattr(parallel, "cores", lambda: 1)
        vae_np.train.make_step(_model(), vae_np.Adam(1e-3))(X, eps)
        assert len(calls) == (0 if JIT_DISABLED else 1)


@needs_jit
def test_cores_follows_the_blas_thread_limit():
    with vae_np.blas_threads(1):
        assert parallel.cores() == 1
    with vae_np.blas_threads(2):
        assert parallel.cores() == min(2, len(__import__("os").sched_getaffinity(0)))


@needs_jit
def test_fit_on_several_cores_matches_the_reference_path(monkeypatch):
    rng = np.random.default_rng(3)
    X = (rng.random((256, 30)) < 0.3).astype(np.float32)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    histories = []
    for backend in ("numba", "numpy"):
        model = vae_np.VAE(30, (16,), 3, seed=0)
        with vae_np.fast.backend(backend):
            hist = vae_np.fit(model, X, 3, 64, vae_np.Adam(1e-2), seed=0, progress=False)
        histories.append(np.asarray(hist.train_loss))
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)
