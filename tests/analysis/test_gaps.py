"""The inference gaps: the local ELBO's gradient, local optimisation raises the ELBO, the
importance-sampled log p(x), encoder training against a fixed decoder, argument checks."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import gaps
from vae_np.nn.gradcheck import numerical_gradient, relative_error


def _model(likelihood="bernoulli", seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    model = vae_np.VAE(8, [6], 3, activation="tanh", likelihood=likelihood, obs_std=0.5,
                       seed=seed, dtype=dtype)
    for name, p in model.params.items():
        if name.endswith(".b"):
            p[:] = 0.2 * rng.standard_normal(p.shape)
    X = rng.random((5, 8))
    if likelihood == "bernoulli":
        X = (X < 0.5).astype(float)
    return model, X.astype(dtype)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("n_samples", [1, 4])
def test_local_elbo_gradient(likelihood, n_samples):
    model, X = _model(likelihood, seed=n_samples)
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((5, 3)), 0.5 * rng.standard_normal((5, 3))
    eps = rng.standard_normal((5, n_samples, 3))
    before = {name: p.copy() for name, p in model.params.items()}
    elbo, dmu, dlogvar = gaps.local_elbo(model, X, mu, logvar, eps)
    f = lambda: gaps.local_elbo(model, X, mu, logvar, eps)[0].sum()  # noqa: E731
    assert relative_error(dmu, numerical_gradient(f, mu)) < 1e-6
    assert relative_error(dlogvar, numerical_gradient(f, logvar)) < 1e-6
    for name, p in model.params.items():           # the model is not changed
        np.testing.assert_array_equal(p, before[name])


def test_local_elbo_at_the_encoder_output_is_the_vae_elbo():
    model, X = _model()
    mu, logvar = model.encode(X)
    eps = np.random.default_rng(2).standard_normal((5, 1, 3))
    elbo = gaps.local_elbo(model, X, mu, logvar, eps)[0]
    vae_loss, _ = model.loss_and_grads(X, eps[:, 0])
    assert -elbo.mean() == pytest.approx(vae_loss, rel=1e-12)


def test_optimising_locally_raises_the_elbo_and_logpx_bounds_it():
    model, X = _model(seed=3)
    mu0, lv0 = model.encode(X)
    mu, lv = gaps.optimise_local(model, X, mu0, lv0, np.random.default_rng(0), steps=300,
                                 lr=0.05, n_samples=4)
    eps = np.random.default_rng(5).standard_normal((5, 4000, 3))
    before = gaps.local_elbo(model, X, mu0, lv0, eps)[0]
    after = gaps.local_elbo(model, X, mu, lv, eps)[0]
    assert np.all(after > before)
    log_px = gaps.local_log_likelihood(model, X, mu, lv, np.random.default_rng(6), k=20000)
    assert np.all(log_px > after)
    # the prior as the proposal: slow to converge but unbiased for p(x); 3 latent dimensions
    zeros = np.zeros((5, 3))
    exact = gaps.local_log_likelihood(model, X, zeros, zeros, np.random.default_rng(7), k=400000)
    np.testing.assert_allclose(log_px, exact, atol=0.1)
    encoder_q = gaps.local_log_likelihood(model, X, mu0, lv0, np.random.default_rng(8), k=20000)
    np.testing.assert_allclose(encoder_q, model.log_likelihood(X, np.random.default_rng(8),
                                                               k=20000), atol=0.02)


def test_inference_gaps_add_up():
    model, X = _model(seed=4)
    out = gaps.inference_gaps(model, X, np.random.default_rng(0), steps=200, lr=0.05, k=2000,
                              elbo_samples=2000)
    for key in ("log_px", "elbo_opt", "elbo_enc", "approximation", "amortization"):
        assert out[key].shape == (5,)
    np.testing.assert_allclose(out["approximation"] + out["amortization"],
                               out["log_px"] - out["elbo_enc"])
    assert np.all(out["approximation"] > 0) and np.all(out["amortization"] > 0)
    assert out["mu"].shape == out["logvar"].shape == (5, 3)


def test_fit_encoder_learns_against_the_fixed_decoder():
    rng = np.random.default_rng(0)
    X = (rng.random((200, 8)) < np.linspace(0.1, 0.9, 8)).astype(np.float32)
    model = vae_np.VAE(8, [6], 2, seed=0)
    vae_np.fit(model, X, 30, 20, vae_np.Adam(lr=1e-2), seed=0, progress=False)
    decoder_before = {k: p.copy() for k, p in model.params.items() if k.startswith("dec")}
    untrained = vae_np.nn.MLP([8, 4, 4], "relu", rng=np.random.default_rng(9))
    enc = gaps.fit_encoder(model, X, [4], epochs=30, batch_size=20, lr=1e-2, seed=1)
    assert enc.sizes == [8, 4, 4]
    for k, p in decoder_before.items():
        np.testing.assert_array_equal(model.params[k], p)
    eps = np.random.default_rng(2).standard_normal((200, 50, 2))
    trained = gaps.local_elbo(model, X, *gaps.encode_with(enc, X, 2), eps)[0].mean()
    start = gaps.local_elbo(model, X, *gaps.encode_with(untrained, X, 2), eps)[0].mean()
    assert trained > start + 0.5


def test_arguments_are_checked():
    model, X = _model()
    mu, lv = model.encode(X)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="same number of rows"):
        gaps.optimise_local(model, X, mu[:3], lv[:3], rng)
    with pytest.raises(vae_np.InvalidParameterError, match="'steps'"):
        gaps.optimise_local(model, X, mu, lv, rng, steps=0)
    with pytest.raises(vae_np.InvalidParameterError, match="'lr'"):
        gaps.optimise_local(model, X, mu, lv, rng, lr=-1.0)
    with pytest.raises(vae_np.InvalidParameterError, match="'rng'"):
        gaps.inference_gaps(model, X, 0)
    with pytest.raises(vae_np.InvalidParameterError, match="'model'"):
        gaps.inference_gaps(vae_np.Autoencoder(8, [6], 3), X, rng)
    with pytest.raises(vae_np.InvalidParameterError, match="'k'"):
        gaps.local_log_likelihood(model, X, mu, lv, rng, k=0)
    with pytest.raises(ValueError, match="3-D"):
        gaps.local_elbo(model, X, mu, lv, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="2 \\* latent_dim"):
        gaps.encode_with(vae_np.nn.MLP([8, 4, 5]), X, 3)
    with pytest.raises(vae_np.InvalidParameterError, match="'hidden_dims'"):
        gaps.fit_encoder(model, X, [0], epochs=1)
