"""The training loop: it learns, it is deterministic, it stops on NaN with a clear error."""
import inspect

import numpy as np
import pytest

import vae_np
from vae_np.train import NonFiniteLossError


@pytest.fixture(scope="module")
def mnist():
    return vae_np.load_mnist(binarize_method="stochastic", seed=0)


def test_short_training_improves_the_test_elbo_by_a_margin(mnist):
    model = vae_np.VAE(784, [200], 10, seed=0)
    X_test = mnist.X_test[:500]
    before = model.elbo(X_test, np.random.default_rng(1)).mean()
    hist = vae_np.fit(model, mnist.X_train, epochs=3, batch_size=100, optimizer=vae_np.Adam(1e-3),
                      seed=0, X_val=X_test, progress=False)
    after = model.elbo(X_test, np.random.default_rng(1)).mean()
    assert after - before > 300, (before, after)
    assert hist.val_loss[-1] < hist.val_loss[0]
    assert len(hist.epoch) == len(hist.train_loss) == len(hist.val_kl) == 3
    for a, b, c in zip(hist.train_loss, hist.train_recon, hist.train_kl):
        assert a == pytest.approx(b + c)


def test_training_is_deterministic_given_the_seed(mnist):
    X = mnist.X_train[:300]
    runs = []
    for _ in range(2):
        model = vae_np.VAE(784, [32], 4, seed=1)
        h = vae_np.fit(model, X, 2, 64, vae_np.Adam(1e-3), seed=5, progress=False,
                       dynamic_binarization=True)
        runs.append((h.train_loss, model.params["dec.2.W"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_autoencoder_trains_with_the_same_loop(mnist):
    ae = vae_np.Autoencoder(784, [64], 8, seed=0)
    h = vae_np.fit(ae, mnist.X_train[:1000], 3, 100, vae_np.Adam(1e-3), seed=0, progress=False)
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.train_kl == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_nan_stops_training_and_keeps_the_last_finite_parameters(mnist, backend, monkeypatch):
    model = vae_np.VAE(784, [16], 2, seed=0)
    X = mnist.X_train[:256]
    calls = {"n": 0}

    def poison(original):
        def poisoned(*args):
            calls["n"] += 1
            loss, grads = original(*args)
            if calls["n"] == 3:
                grads["dec.0.W"][0, 0] = np.nan
            return loss, grads
        return poisoned

    # whichever step fit runs (the fast one with "numba", the reference with "numpy"). The fused
    # steps count NaN/inf while they write the gradients: poison them before that, the one-core
    # step's after its decoder's backward pass, the several-core step's in what it reads
    reparam_backward = vae_np.fast.step._reparam_backward_bias

    def poisoned_reparam(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            model.grads["dec.0.W"][0, 0] = np.nan
        return reparam_backward(*args)
    monkeypatch.setattr(vae_np.fast.step, "_reparam_backward_bias", poisoned_reparam)
    weight_grads = vae_np.fast.parallel._weight_grads_nb
    dD1 = list(inspect.signature(getattr(weight_grads, "py_func", weight_grads)).parameters
               ).index("dD1")

    def poisoned_region(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            args[dD1][0, 0] = np.nan        # dL/d(decoder hidden): NaN in dL/d(dec.0.W)
        return weight_grads(*args)
    monkeypatch.setattr(vae_np.fast.parallel, "_weight_grads_nb", poisoned_region)
    monkeypatch.setattr(model, "loss_and_grads", poison(model.loss_and_grads))
    opt = vae_np.Adam(1e-3)
    with vae_np.fast.backend(backend):
        with pytest.raises(NonFiniteLossError, match=r"gradient of 'dec.0.W'.*epoch 1, step 3"):
            vae_np.fit(model, X, 1, 64, opt, seed=0, progress=False)
    assert calls["n"] == 3
    assert opt.t == 2                      # the third update never happened
    # the parameters are those after two finite steps: replay them on a fresh model
    twin = vae_np.VAE(784, [16], 2, seed=0)
    twin_opt = vae_np.Adam(1e-3)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    for step in range(2):
        xb = X[order[64 * step:64 * (step + 1)]]
        eps = rng.standard_normal((64, 2), dtype=np.float32)
        twin.loss_and_grads(xb, eps)
        twin_opt.step(twin.params, twin.grads)
    for k, v in model.params.items():
        np.testing.assert_allclose(v, twin.params[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_fit_rejects_bad_arguments(mnist):
    model = vae_np.VAE(784, [8], 2, seed=0)
    X = mnist.X_train[:10]
    with pytest.raises(ValueError, match="'batch_size' parameter of fit must be an int in the range"):
        vae_np.fit(model, X, 1, 0, vae_np.Adam(), seed=0)
    with pytest.raises(ValueError, match="'epochs' parameter of fit must be an int in the range"):
        vae_np.fit(model, X, -1, 4, vae_np.Adam(), seed=0)
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs \[0, 1\]"):
        vae_np.fit(model, X * 255, 1, 4, vae_np.Adam(), seed=0)
