"""The importance-weighted bound: gradient checks, k = 1 is the VAE, the bound tightens with k,
argument checks, and fit's use of noise_shape."""
import numpy as np
import pytest

import vae_np
from vae_np.nn.gradcheck import check_model, max_error
from vae_np.nn.iwae import IWAE, importance_weights


def _small(k, likelihood="bernoulli", analytic_kl=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    model = IWAE(7, [5], 3, activation="tanh", likelihood=likelihood, obs_std=0.5, seed=seed,
                 dtype=dtype, k=k, analytic_kl=analytic_kl)
    for name, p in model.params.items():   # non-zero biases so every term is exercised
        if name.endswith(".b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    X = rng.random((4, 7))
    if likelihood == "bernoulli":
        X = (X < 0.5).astype(float)
    return model, X.astype(dtype), rng.standard_normal((4, k, 3)).astype(dtype)


@pytest.mark.parametrize("k", [1, 3, 8])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("analytic_kl", [True, False])
def test_gradcheck_every_parameter(k, likelihood, analytic_kl):
    model, X, eps = _small(k, likelihood, analytic_kl, seed=k)
    errors = check_model(model, X, eps, beta=0.7)
    assert set(errors) == set(model.params)
    assert max_error(errors) < 1e-6, errors


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_k1_is_the_vae_exactly(beta):
    model, X, eps = _small(1)
    vae = vae_np.VAE(7, [5], 3, activation="tanh", seed=0, dtype=np.float64)
    for name, p in vae.params.items():
        p[...] = model.params[name]
    a, ga = vae.loss_and_grads(X, eps[:, 0], beta)
    ga = {name: g.copy() for name, g in ga.items()}
    b, gb = model.loss_and_grads(X, eps, beta)
    assert a == b
    assert vae.terms == model.terms
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name], err_msg=name)


def test_k1_is_the_vae_in_float32_too():
    model, X, eps = _small(1, dtype=np.float32)
    vae = vae_np.VAE(7, [5], 3, activation="tanh", seed=0)
    for name, p in vae.params.items():
        p[...] = model.params[name]
    a, ga = vae.loss_and_grads(X, eps[:, 0])
    ga = {name: g.copy() for name, g in ga.items()}
    b, gb = model.loss_and_grads(X, eps)
    assert a == b
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name], err_msg=name)


def test_both_estimators_agree_on_average():
    """With and without the closed-form KL: unbiased for the same bound and gradient."""
    a, X, _ = _small(4, analytic_kl=True, seed=5)
    b, _, _ = _small(4, analytic_kl=False, seed=5)
    rng = np.random.default_rng(0)
    la, lb, ga, gb = [], [], [], []
    for _ in range(3000):
        eps = rng.standard_normal((4, 4, 3))
        la.append(a.loss_and_grads(X, eps)[0])
        ga.append(a.grads["enc.0.W"].copy())
        lb.append(b.loss_and_grads(X, eps)[0])
        gb.append(b.grads["enc.0.W"].copy())
    la, lb, ga, gb = map(np.array, (la, lb, ga, gb))
    se = np.sqrt((la - lb).var() / len(la))
    assert abs(la.mean() - lb.mean()) < 4 * se
    diff = ga - gb
    z = diff.mean(0) / (diff.std(0) / np.sqrt(len(diff)) + 1e-12)
    assert np.abs(z).max() < 5


def test_the_bound_tightens_with_k_towards_log_px():
    rng = np.random.default_rng(0)
    model = IWAE(7, [5], 2, activation="tanh", seed=1, dtype=np.float64, k=1)
    X = (rng.random((3, 7)) < 0.5).astype(float)
    bounds = []
    for k in (1, 4, 32):
        model.k = k
        losses = [model.loss_and_grads(X, rng.standard_normal((3, k, 2)))[0] for _ in range(400)]
        bounds.append(-np.mean(losses))
    log_px = model.log_likelihood(X, np.random.default_rng(1), k=20000).mean()
    assert bounds[0] < bounds[1] < bounds[2] < log_px + 0.01
    assert log_px - bounds[2] < 0.5 * (log_px - bounds[0])


def test_importance_weights():
    log_w = np.log(np.array([[1.0, 3.0], [2.0, 2.0]])) + 1000.0   # huge: log-sum-exp needed
    bound, w = importance_weights(log_w)
    np.testing.assert_allclose(bound, np.log([2.0, 2.0]) + 1000.0)
    np.testing.assert_allclose(w, [[0.25, 0.75], [0.5, 0.5]])


def test_noise_shape_config_and_terms():
    model, X, eps = _small(3)
    assert model.noise_shape(10) == (10, 3, 3)
    assert model.config["k"] == 3 and model.config["analytic_kl"] is True
    loss, _ = model.loss_and_grads(X, eps, beta=0.5)
    t = model.terms
    assert t["loss"] == loss == pytest.approx(t["recon"] + 0.5 * t["kl"], rel=1e-12)
    assert t["kl"] > 0


def test_arguments_are_checked():
    model, X, eps = _small(3)
    with pytest.raises(vae_np.InvalidParameterError, match="'k'"):
        IWAE(7, [5], 3, k=0)
    with pytest.raises(vae_np.InvalidParameterError, match="'analytic_kl'"):
        IWAE(7, [5], 3, analytic_kl="yes")
    with pytest.raises(ValueError, match=r"\(4, 3, 3\)"):
        model.loss_and_grads(X, eps[:, :2])
    with pytest.raises(ValueError, match="3-D"):
        model.loss_and_grads(X, eps[:, 0])
    with pytest.raises(vae_np.InvalidParameterError, match="'beta'"):
        model.loss_and_grads(X, eps, beta=-1.0)


def test_fit_trains_it_on_the_reference_path():
    rng = np.random.default_rng(0)
    X = (rng.random((60, 7)) < 0.3).astype(np.float32)
    model = IWAE(7, [6], 2, seed=0, k=5)
    assert not vae_np.fast.step.supports(model)
    history = vae_np.fit(model, X, 15, 20, vae_np.Adam(lr=1e-2), seed=0, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] - 0.5
