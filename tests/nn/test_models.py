"""The VAE and the AE: whole-model gradient checks with a fixed eps, the classic bugs,
evaluation."""
import numpy as np
import pytest

import vae_np
from vae_np.nn import vae
from vae_np.nn.gradcheck import check_model, max_error
from vae_np.nn.losses import bernoulli_log_prob


def _small(cls, likelihood="bernoulli", activation="relu", seed=0, **kw):
    rng = np.random.default_rng(seed)
    d, k = int(rng.integers(5, 9)), int(rng.integers(2, 4))
    hidden = [int(rng.integers(3, 7)), int(rng.integers(3, 6))]
    model = cls(d, hidden, k, activation=activation, likelihood=likelihood, seed=seed,
                dtype=np.float64, **kw)
    for name, p in model.params.items():  # non-zero biases so every term is exercised
        if name.endswith(".b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    n = 4
    X = rng.random((n, d))
    if likelihood == "bernoulli":
        X = (X < 0.5).astype(float)
        X[0, :2] = [0.3, 0.8]  # grey values are valid too
    eps = rng.standard_normal((n, k))
    return model, X, eps


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
@pytest.mark.parametrize("seed", [0, 1])
def test_vae_gradcheck_every_parameter(likelihood, activation, seed):
    model, X, eps = _small(vae_np.VAE, likelihood, activation, seed, obs_std=0.5)
    errors = check_model(model, X, eps, beta=0.7)
    assert set(errors) == set(model.params)
    assert max_error(errors) < 1e-6, errors


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("code_noise", [0.0, 0.3])
def test_autoencoder_gradcheck_every_parameter(likelihood, code_noise):
    model, X, eps = _small(vae_np.Autoencoder, likelihood, "tanh", 3, code_noise=code_noise)
    errors = check_model(model, X, eps)
    assert set(errors) == set(model.params)
    assert max_error(errors) < 1e-6, errors


def _patch_reparameterize(monkeypatch, buggy):
    """Make ``VAE.loss_and_grads`` sample z with ``buggy``; returns the list of its calls."""
    calls = []

    def spy(mu, logvar, eps):
        calls.append(eps.shape)
        return buggy(mu, logvar, eps)

    monkeypatch.setattr(vae, "reparameterize", spy)
    return calls


def test_gradcheck_catches_a_different_eps_in_backward(monkeypatch):
    """If the forward pass sampled z with other noise than the eps that the backward pass uses,
    the check must fail in the encoder (the decoder's gradients are still right)."""
    model, X, eps = _small(vae_np.VAE, seed=5)
    other = np.random.default_rng(0).standard_normal(eps.shape)   # fixed: the loss stays smooth
    original = vae.reparameterize
    calls = _patch_reparameterize(monkeypatch, lambda mu, logvar, _: original(mu, logvar, other))
    errors = check_model(model, X, eps)
    assert calls, "VAE.loss_and_grads no longer samples z with vae_np.nn.vae.reparameterize"
    assert max(errors[k] for k in errors if k.startswith("enc.")) > 1e-2
    assert max(errors[k] for k in errors if k.startswith("dec.")) < 1e-6


def _std_as_exp_logvar(mu, logvar, eps):
    std = np.exp(logvar)                   # the bug: exp(0.5 * logvar) is the std
    return mu + std * eps, std


def test_gradcheck_catches_std_as_exp_of_logvar(monkeypatch):
    """The classic bug in the sampling layer: the backward pass (d std / d logvar = 0.5*std)
    then no longer matches the forward pass, and the loss itself changes."""
    model, X, eps = _small(vae_np.VAE, seed=5)
    assert max_error(check_model(model, X, eps)) < 1e-6      # the same case without the bug
    right, _ = model.loss_and_grads(X, eps)
    calls = _patch_reparameterize(monkeypatch, _std_as_exp_logvar)
    wrong, _ = model.loss_and_grads(X, eps)
    errors = check_model(model, X, eps)
    assert calls, "VAE.loss_and_grads no longer samples z with vae_np.nn.vae.reparameterize"
    assert abs(wrong - right) > 1e-3 * abs(right)
    assert max(errors[k] for k in errors if k.startswith("enc.")) > 1e-2
    assert max(errors[k] for k in errors if k.startswith("dec.")) < 1e-6


def test_logvar_is_a_log_variance_not_a_log_std():
    """z = mu + exp(0.5*logvar)*eps: the empirical variance of z equals exp(logvar)."""
    mu = np.array([[0.5, -1.0]])
    logvar = np.array([[np.log(4.0), np.log(0.25)]])
    eps = np.random.default_rng(0).standard_normal((200_000, 2))
    z, std = vae.reparameterize(np.repeat(mu, len(eps), 0), np.repeat(logvar, len(eps), 0), eps)
    np.testing.assert_allclose(std[0], [2.0, 0.5])
    np.testing.assert_allclose(z.var(axis=0), [4.0, 0.25], rtol=0.02)
    # and the model's loss uses the same convention: KL term of a known posterior
    model, X, eps1 = _small(vae_np.VAE, seed=2)
    model.loss_and_grads(X, eps1)
    mu_m, logvar_m = model.encode(X)
    expected_kl = 0.5 * (np.exp(logvar_m) + mu_m ** 2 - 1 - logvar_m).sum(1).mean()
    assert model.terms["kl"] == pytest.approx(expected_kl, rel=1e-12)


def test_loss_is_mean_over_batch_and_sum_over_pixels():
    model, X, eps = _small(vae_np.VAE, seed=4)
    loss_all, _ = model.loss_and_grads(X, eps)
    per_example = [model.loss_and_grads(X[i:i + 1], eps[i:i + 1])[0] for i in range(len(X))]
    assert loss_all == pytest.approx(np.mean(per_example), rel=1e-12)
    doubled, _ = model.loss_and_grads(np.tile(X, (2, 1)), np.tile(eps, (2, 1)))
    assert doubled == pytest.approx(loss_all, rel=1e-12)


def test_loss_and_grads_is_deterministic_given_eps():
    model, X, eps = _small(vae_np.VAE, seed=6)
    a, ga = model.loss_and_grads(X, eps)
    ga = {k: v.copy() for k, v in ga.items()}
    b, gb = model.loss_and_grads(X, eps)
    assert a == b
    for k in ga:
        np.testing.assert_array_equal(ga[k], gb[k])


def test_elbo_is_below_importance_weighted_bound_and_bound_tightens():
    model, X, _ = _small(vae_np.VAE, seed=7)
    X = np.tile(X, (50, 1))
    elbo = model.elbo(X, np.random.default_rng(0), n_samples=20).mean()
    iw1 = model.log_likelihood(X, np.random.default_rng(1), k=1).mean()
    iw100 = model.log_likelihood(X, np.random.default_rng(2), k=100).mean()
    assert iw1 == pytest.approx(elbo, abs=0.5)  # k=1 is an unbiased estimate of the ELBO
    assert elbo < iw100


def test_importance_weighted_estimate_is_exact_when_q_is_the_posterior():
    """With a decoder that ignores z, p(z|x) = p(z); if q = p(z) every weight equals p(x)."""
    model = vae_np.VAE(3, [4], 2, seed=0, dtype=np.float64)
    for p in model.params.values():
        p[...] = 0.0
    model.params["dec.2.b"][:] = [0.3, -1.0, 2.0]
    X = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    exact = bernoulli_log_prob(np.tile([[0.3, -1.0, 2.0]], (2, 1)), X)
    np.testing.assert_allclose(model.log_likelihood(X, np.random.default_rng(0), k=10), exact)
    np.testing.assert_allclose(model.elbo(X, np.random.default_rng(0)), exact)


def test_api_shapes_and_dtypes():
    model = vae_np.VAE(784, [400], 20, seed=0)
    assert list(model.params)[:2] == ["enc.0.W", "enc.0.b"]
    assert model.params["enc.0.W"].shape == (784, 400)
    assert model.params["enc.2.W"].shape == (400, 40)
    assert model.params["dec.2.W"].shape == (400, 784)
    assert all(p.dtype == np.float32 for p in model.params.values())
    X = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    mu, logvar = model.encode(X)
    assert mu.shape == logvar.shape == (3, 20)
    assert model.decode(mu).shape == (3, 784)
    assert model.reconstruct(X).shape == (3, 784)
    s = model.sample(5, np.random.default_rng(0))
    assert s.shape == (5, 784) and s.min() >= 0 and s.max() <= 1
    assert model.elbo(X, np.random.default_rng(0)).shape == (3,)
    assert model.log_likelihood(X, np.random.default_rng(0), k=3).shape == (3,)
    ae = vae_np.Autoencoder(784, [64], 2, seed=0)
    assert ae.encode(X).shape == (3, 2)


def test_same_seed_same_weights():
    a, b = vae_np.VAE(10, [5], 2, seed=3), vae_np.VAE(10, [5], 2, seed=3)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    c = vae_np.VAE(10, [5], 2, seed=4)
    assert not np.array_equal(a.params["enc.0.W"], c.params["enc.0.W"])


def test_bad_input_errors():
    model = vae_np.VAE(4, [3], 2, seed=0)
    eps = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="4 features"):
        model.loss_and_grads(np.zeros((2, 5)), eps)
    with pytest.raises(ValueError, match="NaN or inf"):
        model.loss_and_grads(np.array([[0.1, np.nan, 0.2, 0.3]] * 2), eps)
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs \[0, 1\]"):
        model.loss_and_grads(np.full((2, 4), 255.0), eps)
    with pytest.raises(ValueError, match="eps must have 2 rows"):
        model.loss_and_grads(np.zeros((2, 4)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        model.encode(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=(r"'latent_dim' parameter of VAE must be an"
                                          r" int in the range \[1, inf\)")):
        vae_np.VAE(4, [3], 0)
    with pytest.raises(ValueError, match="'likelihood' parameter of VAE must be a str among .*Got 'poisson'"):
        vae_np.VAE(4, [3], 2, likelihood="poisson")
    with pytest.raises(ValueError, match="'activation' parameter of VAE must be a str among"):
        vae_np.VAE(4, [3], 2, activation="swish")
    # Gaussian likelihood accepts any finite values
    g = vae_np.VAE(4, [3], 2, likelihood="gaussian", seed=0)
    loss, _ = g.loss_and_grads(np.full((2, 4), 255.0), eps)
    assert np.isfinite(loss)


def test_docstring_has_shapes():
    assert "ndarray of shape (n, input_dim)" in vae_np.VAE.loss_and_grads.__doc__
    assert "of shape (d_in, d_out)" in vae_np.VAE.__doc__
