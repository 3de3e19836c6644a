"""The class-conditional VAE: gradient checks with a fixed eps, labels, evaluation, the training
loop of chapter 7, and the importance-sampling helper."""
import numpy as np
import pytest
from cvae_helpers import check_loss

import vae_np
from vae_np.nn.cvae import ConditionalVAE, fit_conditional, importance_log_mean, one_hot
from vae_np.nn.gradcheck import max_error


def _small(likelihood="bernoulli", activation="tanh", seed=0, n_classes=3):
    rng = np.random.default_rng(seed)
    d, k = int(rng.integers(5, 8)), int(rng.integers(2, 4))
    model = ConditionalVAE(d, n_classes, [int(rng.integers(3, 6))], k, activation=activation,
                           likelihood=likelihood, obs_std=0.5, seed=seed, dtype=np.float64)
    for name, p in model.params.items():   # non-zero biases so every term is exercised
        if name.endswith(".b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    n = 5
    X = rng.random((n, d))
    if likelihood == "bernoulli":
        X = (X < 0.5).astype(float)
        X[0, :2] = [0.3, 0.8]
    Y = rng.integers(0, n_classes, n)
    return model, X, Y, rng.standard_normal((n, k))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cvae_gradcheck_every_parameter(likelihood, activation, seed):
    model, X, Y, eps = _small(likelihood, activation, seed)
    errors = check_loss(lambda: model.loss_and_grads(X, Y, eps, beta=0.7), model.params)
    assert set(errors) == set(model.params)
    assert max_error(errors) < 1e-6, errors


def test_cvae_gradcheck_with_label_rows():
    """Soft labels (rows of weights) are inputs too; the check holds for them."""
    model, X, Y, eps = _small(seed=3)
    rows = np.random.default_rng(0).dirichlet(np.ones(3), size=len(X))
    assert max_error(check_loss(lambda: model.loss_and_grads(X, rows, eps), model.params)) < 1e-6


def test_labels_and_one_hot_rows_give_the_same_numbers():
    model, X, Y, eps = _small(seed=4)
    a, _ = model.loss_and_grads(X, Y, eps)
    b, _ = model.loss_and_grads(X, one_hot(Y, 3, np.float64), eps)
    assert a == b
    Z = np.random.default_rng(1).standard_normal((len(X), model.latent_dim))
    np.testing.assert_array_equal(model.decode(Z, Y), model.decode(Z, one_hot(Y, 3)))


def test_the_label_changes_the_decoder_output_and_receives_gradient():
    model, X, Y, eps = _small(seed=5)
    Z = np.zeros((3, model.latent_dim))
    out = model.decode(Z, np.arange(3))
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])
    _, grads = model.loss_and_grads(X, Y, eps)
    W0 = grads["dec.0.W"]                   # rows latent_dim.. are the label's columns
    assert np.abs(W0[model.latent_dim:]).sum() > 0
    assert grads["enc.0.W"].shape == (model.input_dim + 3, model.encoder.sizes[1])


def test_loss_is_mean_over_batch_and_terms_add_up():
    model, X, Y, eps = _small(seed=6)
    loss, _ = model.loss_and_grads(X, Y, eps, beta=0.5)
    per = [model.loss_and_grads(X[i:i + 1], Y[i:i + 1], eps[i:i + 1], 0.5)[0] for i in range(5)]
    assert loss == pytest.approx(np.mean(per), rel=1e-12)
    model.loss_and_grads(X, Y, eps, beta=0.5)
    t = model.terms
    assert t["loss"] == pytest.approx(t["recon"] + 0.5 * t["kl"], rel=1e-12)


def test_one_hot_and_its_errors():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 2, np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="0..2"):
        one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([0.5]), 3)
    model, X, Y, eps = _small(seed=7)
    with pytest.raises(ValueError, match="rows"):
        model.loss_and_grads(X, Y[:-1], eps)
    with pytest.raises(ValueError, match="features"):
        model.loss_and_grads(X, np.ones((len(X), 4)), eps)


def test_sample_shape_and_config():
    model = ConditionalVAE(12, 4, [8], 2, seed=1)
    S = model.sample(np.array([0, 1, 2, 3, 3]), np.random.default_rng(0))
    assert S.shape == (5, 12) and S.dtype == np.float32 and (S >= 0).all() and (S <= 1).all()
    assert model.config["n_classes"] == 4 and model.config["latent_dim"] == 2
    assert model.reconstruct(np.zeros((2, 12)), np.array([0, 1])).shape == (2, 12)


def test_importance_log_mean():
    log_w = np.array([[-1000.0, 0.0], [-1000.0, np.log(3.0)]])
    np.testing.assert_allclose(importance_log_mean(log_w), [-1000.0, np.log(2.0)])
    np.testing.assert_array_equal(importance_log_mean(log_w[:1]), log_w[0])   # k = 1
    with pytest.raises(ValueError, match="shape"):
        importance_log_mean(np.zeros(3))


def test_elbo_and_importance_weighted_bound():
    model, X, Y, _ = _small(seed=8)
    X, Y = np.tile(X, (60, 1)), np.tile(Y, 60)
    elbo = model.elbo(X, Y, np.random.default_rng(0), n_samples=10)
    iw1 = model.log_likelihood(X, Y, np.random.default_rng(1), k=1)
    iw100 = model.log_likelihood(X, Y, np.random.default_rng(2), k=100)
    se = iw1.std() / np.sqrt(len(iw1))
    assert abs(iw1.mean() - elbo.mean()) < 4 * se + 0.05    # k = 1: an estimate of the ELBO
    assert iw100.mean() > elbo.mean()
    assert model.elbo(X[:7], Y[:7], np.random.default_rng(3), batch_size=2).shape == (7,)


def test_fit_conditional_is_deterministic_and_learns(assert_same_params):
    rng = np.random.default_rng(0)
    X = rng.random((60, 10)).astype(np.float32)
    Y = rng.integers(0, 3, 60)
    runs = []
    for _ in range(2):
        model = ConditionalVAE(10, 3, [8], 2, seed=0)
        runs.append((model, fit_conditional(model, X, Y, epochs=15, batch_size=16,
                                            optimizer=vae_np.Adam(1e-2), seed=1)))
    assert_same_params(runs[0][0], runs[1][0])
    losses = runs[0][1]
    assert runs[1][1] == losses and len(losses) == 15 and losses[-1] < losses[0]


def test_fit_conditional_trains_a_vae_and_a_model_without_code():
    from vae_np.nn.structured import MaskedBaseline, quadrant_mask
    X = np.random.default_rng(1).random((40, 16)).astype(np.float32)
    vae = vae_np.VAE(16, [8], 2, seed=0)
    assert len(fit_conditional(vae, X, epochs=2, batch_size=8, optimizer=vae_np.Adam(1e-3),
                               seed=0)) == 2
    base = MaskedBaseline(quadrant_mask(2, (4, 4)), [8], seed=0)
    losses = fit_conditional(base, X, epochs=10, batch_size=8, optimizer=vae_np.Adam(1e-2),
                             seed=0)
    assert losses[-1] < losses[0]


def test_fit_conditional_stops_on_nan():
    model = ConditionalVAE(10, 3, [8], 2, seed=0)
    X = np.random.default_rng(0).random((20, 10)).astype(np.float32)
    model.params["dec.0.b"][:] = np.nan
    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit_conditional(model, X, np.zeros(20, int), epochs=1, batch_size=10,
                        optimizer=vae_np.Adam(1e-3), seed=0)
    with pytest.raises(ValueError, match="rows"):
        fit_conditional(model, X, np.zeros(19, int), epochs=1, batch_size=10,
                        optimizer=vae_np.Adam(1e-3), seed=0)

