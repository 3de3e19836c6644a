"""Wake-sleep: finite-difference checks of both phases, training, determinism, arguments."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import paper
from vae_np.nn.gradcheck import numerical_gradient, relative_error
from vae_np.nn.losses import log_normal_diag, log_normal_std, sigmoid
from vae_np.nn.wake_sleep import (
    dream,
    fit_wake_sleep,
    sleep_loss_and_grads,
    wake_loss_and_grads,
    wake_sleep_loss_and_grads,
)


def small(likelihood="bernoulli", **kw):
    return vae_np.VAE(9, [7], 3, activation="tanh", likelihood=likelihood, seed=2,
                      dtype=np.float64, **kw)


def batch(n=6, d=9, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.random((n, d)) < 0.4).astype(float), rng.standard_normal((n, k)),
            rng.standard_normal((n, k)), rng.random((n, d)))


def _check(model, loss, prefix):
    """Relative errors of the analytic gradients of the ``prefix`` parameters; others are zero."""
    analytic = {name: g.copy() for name, g in model.grads.items()}
    errors = {}
    for name, p in model.params.items():
        if name.startswith(prefix):
            errors[name] = relative_error(analytic[name], numerical_gradient(loss, p))
        else:
            assert not analytic[name].any(), f"{name} should get no gradient in this phase"
    return errors


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_wake_gradients_match_finite_differences(likelihood):
    model = small(likelihood)
    X, eps, _, _ = batch()
    wake_loss_and_grads(model, X, eps)
    errors = _check(model, lambda: wake_loss_and_grads(model, X, eps)[0], "dec.")
    assert len(errors) == 4 and max(errors.values()) < 1e-6


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_sleep_gradients_match_finite_differences(likelihood):
    model = small(likelihood)
    _, _, Z, U = batch(seed=1)
    U = U if likelihood == "bernoulli" else np.random.default_rng(4).standard_normal(U.shape)
    Xd = dream(model, Z, U)
    sleep_loss_and_grads(model, Z, Xd)
    errors = _check(model, lambda: sleep_loss_and_grads(model, Z, Xd)[0], "enc.")
    assert len(errors) == 4 and max(errors.values()) < 1e-6


def test_losses_are_the_negative_log_densities():
    model = small()
    X, eps, Z, U = batch(seed=3)
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * eps
    p = sigmoid(model.decoder.forward(z))
    log_pxz = (X * np.log(p) + (1 - X) * np.log1p(-p)).sum(1) + log_normal_std(z)
    assert np.isclose(wake_loss_and_grads(model, X, eps)[0], -log_pxz.mean())
    Xd = dream(model, Z, U)
    mu_d, logvar_d = model.encode(Xd)
    assert np.isclose(sleep_loss_and_grads(model, Z, Xd)[0],
                      -log_normal_diag(Z, mu_d, logvar_d).mean())


def test_combined_step_is_wake_then_sleep():
    model = small()
    X, eps, Z, U = batch(seed=5)
    wake, sleep, grads = wake_sleep_loss_and_grads(model, X, eps, Z, U)
    combined = {name: g.copy() for name, g in grads.items()}
    w, g_w = wake_loss_and_grads(model, X, eps)
    dec = {name: g.copy() for name, g in g_w.items() if name.startswith("dec.")}
    s, g_s = sleep_loss_and_grads(model, Z, dream(model, Z, U))
    assert w == wake and s == sleep
    for name, g in combined.items():
        expected = dec[name] if name.startswith("dec.") else g_s[name]
        np.testing.assert_array_equal(g, expected)


def test_dreams_follow_the_decoder():
    model = small()
    Z = np.random.default_rng(0).standard_normal((4000, 3))
    U = np.random.default_rng(1).random((4000, 9))
    Xd = dream(model, Z, U)
    assert set(np.unique(Xd)) <= {0.0, 1.0}
    p = model.decode(Z)
    # the dream frequencies match the Bernoulli means (5 standard errors at most)
    assert np.abs(Xd.mean(0) - p.mean(0)).max() < 5 * 0.5 / np.sqrt(4000)


def test_training_raises_the_bound_and_is_deterministic():
    data = vae_np.load_mnist(binarize_method="stochastic")
    X = data.X_train[:600, ::4]                             # 196 pixels: a small, real problem
    def run():
        model = vae_np.VAE(196, [32], 4, activation="tanh", init="normal", seed=0)
        before = model.elbo(X, np.random.default_rng(0)).mean()
        hist = fit_wake_sleep(model, X, 8, 50, vae_np.Adagrad(0.05), seed=1,
                              weight_decay=1 / len(X))
        return model, before, hist
    model, before, hist = run()
    after = model.elbo(X, np.random.default_rng(0)).mean()
    assert after > before + 20
    assert hist.wake_loss[-1] < hist.wake_loss[0] and hist.sleep_loss[-1] < hist.sleep_loss[0]
    assert hist.epoch == list(range(1, 9))
    model2, _, hist2 = run()
    assert hist2.wake_loss == hist.wake_loss
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], model2.params[name])


class _SpyVAE(vae_np.VAE):
    """Records the batches and noise of every step (fit then takes the reference path)."""

    def loss_and_grads(self, X, eps, beta=1.0):
        self.seen.append((X.copy(), eps.copy()))
        return super().loss_and_grads(X, eps, beta)


def test_data_side_matches_fit(monkeypatch):
    # the same seed gives wake-sleep exactly fit's batches, binarization and noise eps
    X = np.random.default_rng(0).random((50, 9)).astype(np.float32)
    ae = _SpyVAE(9, [5], 2, seed=0)
    ae.seen = []
    vae_np.fit(ae, X, 2, 20, vae_np.SGD(lr=0.01), seed=7, progress=False,
               dynamic_binarization=True)
    from vae_np.nn import wake_sleep
    captured, real = [], wake_sleep.wake_sleep_loss_and_grads

    def spy(model, xb, eps, Z, U):
        captured.append((xb.copy(), eps.copy()))
        return real(model, xb, eps, Z, U)
    monkeypatch.setattr(wake_sleep, "wake_sleep_loss_and_grads", spy)
    fit_wake_sleep(vae_np.VAE(9, [5], 2, seed=0), X, 2, 20, vae_np.SGD(lr=0.01), seed=7,
                   dynamic_binarization=True)
    assert len(captured) == len(ae.seen) == 6
    for (x1, e1), (x2, e2) in zip(ae.seen, captured):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(e1, e2)


def test_weight_decay_shrinks_the_weights():
    X = (np.random.default_rng(0).random((40, 9)) < 0.5).astype(np.float32)
    norms = []
    for lam in (0.0, 0.5):
        model = vae_np.VAE(9, [5], 2, activation="tanh", seed=0)
        fit_wake_sleep(model, X, 5, 10, vae_np.SGD(lr=0.05), seed=0, weight_decay=lam)
        norms.append(sum(float((p ** 2).sum()) for p in model.params.values()))
    assert norms[1] < norms[0]


def test_arguments_are_validated():
    model = small()
    X, eps, Z, U = batch()
    with pytest.raises(vae_np.InvalidParameterError, match="model"):
        wake_loss_and_grads(vae_np.Autoencoder(9, [5], 3), X, eps)
    with pytest.raises(ValueError, match="eps"):
        wake_loss_and_grads(model, X, eps[:3])
    with pytest.raises(ValueError, match="Z"):
        sleep_loss_and_grads(model, Z[:2], X)
    with pytest.raises(ValueError, match="U"):
        dream(model, Z, U[:2])
    with pytest.raises(ValueError):
        dream(model, Z, U[:, :4])
    opt = vae_np.Adagrad(0.01)
    for kwargs, name in [({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"),
                         ({"seed": -3}, "seed"), ({"weight_decay": -1.0}, "weight_decay"),
                         ({"dynamic_binarization": 1}, "dynamic_binarization")]:
        args = {"epochs": 1, "batch_size": 2, "seed": 0, **kwargs}
        with pytest.raises(vae_np.InvalidParameterError, match=name):
            fit_wake_sleep(model, X, optimizer=opt, **args)
    with pytest.raises(vae_np.InvalidParameterError, match="optimizer"):
        fit_wake_sleep(model, X, 1, 2, "adagrad", 0)
    with pytest.raises(ValueError, match="dynamic_binarization"):
        fit_wake_sleep(small("gaussian"), X, 1, 2, opt, 0, dynamic_binarization=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nonfinite_training_raises():
    X = (np.random.default_rng(0).random((20, 9)) < 0.5).astype(np.float32)
    model = vae_np.VAE(9, [5], 2, activation="tanh", seed=0)
    with pytest.raises(FloatingPointError, match="NaN/inf"):
        fit_wake_sleep(model, X, 20, 10, vae_np.SGD(lr=1e30), seed=0)


def test_choose_adagrad_lr_and_bound_curve():
    data = vae_np.load_mnist(binarize_method="stochastic")
    X, Xt = data.X_train[:400, ::4], data.X_test[:100, ::4]
    def make():
        return vae_np.VAE(196, [16], 2, activation="tanh", init="normal", seed=0)
    for method in paper.METHODS:
        best, scores = paper.choose_adagrad_lr(make, method, X, 4, batch_size=50)
        assert set(scores) == set(paper.PAPER_LRS) and scores[best] == max(scores.values())
        curve = paper.bound_curve(make(), method, X, Xt, [1, 3], vae_np.Adagrad(best), seed=0,
                                  batch_size=50)
        assert list(curve["samples"]) == [400, 1200]
        assert curve["train"][1] > curve["train"][0] and curve["test"][1] > curve["test"][0]
    with pytest.raises(ValueError, match="rows"):
        paper.choose_adagrad_lr(make, "aevb", X, 100)
    with pytest.raises(vae_np.InvalidParameterError, match="method"):
        paper.choose_adagrad_lr(make, "em", X, 2)
    with pytest.raises(vae_np.InvalidParameterError, match="lrs"):
        paper.choose_adagrad_lr(make, "aevb", X, 2, lrs=[])
    with pytest.raises(vae_np.InvalidParameterError, match="epochs_at"):
        paper.bound_curve(make(), "aevb", X, Xt, [3, 1], vae_np.Adagrad(0.1), seed=0)


def test_bound_curve_subset_and_extra_measurements():
    data = vae_np.load_mnist(binarize_method="stochastic")
    X, Xt = data.X_train[:200, ::4], data.X_test[:100, ::4]
    def make():
        return vae_np.VAE(196, [16], 2, activation="tanh", init="normal", seed=0)
    seen = []
    def measure(model):              # records each checkpoint's parameters
        seen.append(model.params["dec.0.W"].copy())
        return float(len(seen))
    m_full, m_part = make(), make()
    full = paper.bound_curve(m_full, "aevb", X, Xt, [1, 2], vae_np.Adagrad(0.02), seed=0,
                             batch_size=50)
    part = paper.bound_curve(m_part, "aevb", X, Xt, [1, 2], vae_np.Adagrad(0.02), seed=0,
                             batch_size=50, n_eval=50, extra={"calls": measure})
    # n_eval and extra change what is measured, not the training
    assert all(np.array_equal(m_full.params[k], m_part.params[k]) for k in m_full.params)
    assert list(part["calls"]) == [1.0, 2.0] and not np.array_equal(seen[0], seen[1])
    assert np.array_equal(seen[1], m_part.params["dec.0.W"])
    assert list(part["samples"]) == list(full["samples"]) == [200, 400]
    # the last checkpoint is the final model: its bounds on the first 50 rows, or on all rows
    for curve, n in ((part, 50), (full, None)):
        for key, data_set in (("train", X), ("test", Xt)):
            want = float(m_part.elbo(data_set[:n], np.random.default_rng(0)).mean())
            assert curve[key][-1] == pytest.approx(want, rel=1e-12)
    assert part["train"][-1] != full["train"][-1]
    with pytest.raises(vae_np.InvalidParameterError, match="extra"):
        paper.bound_curve(make(), "aevb", X, Xt, [1], vae_np.Adagrad(0.1), seed=0,
                          extra={"train": measure})
    with pytest.raises(vae_np.InvalidParameterError, match="n_eval"):
        paper.bound_curve(make(), "aevb", X, Xt, [1], vae_np.Adagrad(0.1), seed=0, n_eval=0)


def test_gradient_noise_splits_the_variance():
    X = (np.random.default_rng(0).random((300, 9)) < 0.5).astype(np.float64)
    model = small()
    out = paper.gradient_noise(model, X, 4, 5, np.random.default_rng(0), batch_size=20)
    assert out["eps_var"] > 0 and out["batch_var"] > 0 and 0 < out["eps_share"] < 1
    # a batch of all the data has no batch noise left: that part's estimate is near zero
    full = paper.gradient_noise(model, X[:20], 6, 8, np.random.default_rng(1), batch_size=20)
    assert abs(full["batch_var"]) < 0.3 * full["eps_var"]
    with pytest.raises(ValueError, match="at least 2"):
        paper.gradient_noise(model, X, 1, 5, np.random.default_rng(0))
