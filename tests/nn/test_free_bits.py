"""Free bits: the floored KL and its gradient, the model's gradient check, the floor's effect."""
import numpy as np
import pytest

import vae_np
from vae_np.nn.free_bits import FreeBitsVAE, free_bits_kl
from vae_np.nn.gradcheck import check_model, max_error, numerical_gradient, relative_error
from vae_np.nn.losses import kl_normal_std


def _small(free_bits, likelihood="bernoulli", seed=0):
    rng = np.random.default_rng(seed)
    model = FreeBitsVAE(7, [5], 4, activation="tanh", likelihood=likelihood, obs_std=0.5,
                        seed=seed, dtype=np.float64, free_bits=free_bits)
    for name, p in model.params.items():
        if name.endswith(".b"):
            p[:] = 0.3 * rng.standard_normal(p.shape)
    X = rng.random((6, 7))
    if likelihood == "bernoulli":
        X = (X < 0.5).astype(float)
    return model, X, rng.standard_normal((6, 4))


def test_floored_kl_values_and_gradient():
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((5, 6)), 0.5 * rng.standard_normal((5, 6))
    mu[:, :2] *= 0.05                      # two dimensions close to the prior: under the floor
    logvar[:, :2] *= 0.05
    floored, per_dim, dmu, dlogvar = free_bits_kl(mu, logvar, 0.2)
    assert per_dim.sum() == pytest.approx(kl_normal_std(mu, logvar)[0], rel=1e-12)
    below = per_dim <= 0.2
    assert below[:2].all() and not below.all()
    assert floored == pytest.approx(np.maximum(per_dim, 0.2).sum(), rel=1e-12)
    assert np.all(dmu[:, below] == 0) and np.all(dlogvar[:, below] == 0)
    f = lambda: free_bits_kl(mu, logvar, 0.2)[0]  # noqa: E731
    assert relative_error(dmu, numerical_gradient(f, mu)) < 1e-6
    assert relative_error(dlogvar, numerical_gradient(f, logvar)) < 1e-6


def test_zero_floor_is_the_kl():
    rng = np.random.default_rng(1)
    mu, logvar = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    floored, _, dmu, dlogvar = free_bits_kl(mu, logvar, 0.0)
    kl, dmu0, dlogvar0 = kl_normal_std(mu, logvar)
    assert floored == pytest.approx(kl, rel=1e-12)
    np.testing.assert_array_equal(dmu, dmu0)
    np.testing.assert_array_equal(dlogvar, dlogvar0)


@pytest.mark.parametrize("free_bits", [0.0, 0.05, 0.3, 10.0])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_gradcheck_every_parameter(free_bits, likelihood):
    model, X, eps = _small(free_bits, likelihood, seed=2)
    model.loss_and_grads(X, eps)
    assert model.terms["kl_floored"] >= model.terms["kl"]
    errors = check_model(model, X, eps, beta=0.8)
    assert max_error(errors) < 1e-6, errors


def test_the_floor_is_partly_active_in_the_checked_model():
    """The parametrised check above covers a mix of dimensions above and below the floor."""
    model, X, eps = _small(0.3, seed=2)
    mu, logvar = model.encode(X)
    per_dim = free_bits_kl(mu, logvar, 0.3)[1]
    assert (per_dim > 0.3).any() and (per_dim < 0.3).any()


def test_zero_floor_is_the_vae():
    model, X, eps = _small(0.0, seed=3)
    vae = vae_np.VAE(7, [5], 4, activation="tanh", seed=3, dtype=np.float64)
    for name, p in vae.params.items():
        p[...] = model.params[name]
    a, ga = vae.loss_and_grads(X, eps)
    ga = {name: g.copy() for name, g in ga.items()}
    b, gb = model.loss_and_grads(X, eps)
    assert b == pytest.approx(a, rel=1e-12)
    for name in ga:
        np.testing.assert_allclose(gb[name], ga[name], rtol=1e-12, atol=1e-15)


def test_a_huge_floor_removes_the_kl_gradient():
    model, X, eps = _small(100.0, seed=4)
    loss, grads = model.loss_and_grads(X, eps)
    assert model.terms["kl_floored"] == pytest.approx(100.0 * 4)
    assert loss == pytest.approx(model.terms["recon"] + 400.0)
    # the decoder's gradient is the reconstruction's alone: same as with beta = 0 in a VAE
    vae = vae_np.VAE(7, [5], 4, activation="tanh", seed=4, dtype=np.float64)
    for name, p in vae.params.items():
        p[...] = model.params[name]
    _, gv = vae.loss_and_grads(X, eps, beta=0.0)
    for name in gv:
        np.testing.assert_allclose(grads[name], gv[name], rtol=1e-12, atol=1e-15)


def test_arguments_are_checked_and_fit_runs():
    with pytest.raises(vae_np.InvalidParameterError, match="'free_bits'"):
        FreeBitsVAE(7, [5], 3, free_bits=-0.1)
    with pytest.raises(vae_np.InvalidParameterError, match="'free_bits'"):
        free_bits_kl(np.zeros((2, 2)), np.zeros((2, 2)), float("nan"))
    with pytest.raises(ValueError, match="rows"):
        _small(0.1)[0].loss_and_grads(np.zeros((3, 7)), np.zeros((2, 4)))
    model = FreeBitsVAE(7, [6], 2, seed=0, free_bits=0.5)
    assert model.config["free_bits"] == 0.5
    assert not vae_np.fast.step.supports(model)
    X = (np.random.default_rng(0).random((60, 7)) < 0.3).astype(np.float32)
    history = vae_np.fit(model, X, 10, 20, vae_np.Adam(lr=1e-2), seed=0, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
