"""fit's options: weight decay (MAP training), a beta schedule, and models that ask for more noise."""
import numpy as np
import pytest

import vae_np
from vae_np.train import make_step


def _data(n=120, d=12, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.3).astype(np.float32)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_weight_decay_adds_lambda_theta_to_every_gradient(backend):
    X = _data()
    eps = np.random.default_rng(1).standard_normal((len(X), 3)).astype(np.float32)
    lam, lr = 0.05, 0.1
    with vae_np.fast.backend(backend):
        model = vae_np.VAE(12, [6], 3, seed=0)
        before = {k: v.copy() for k, v in model.params.items()}
        reference = vae_np.VAE(12, [6], 3, seed=0)
        reference.loss_and_grads(X, eps)
        make_step(model, vae_np.SGD(lr), weight_decay=lam)(X, eps)
    for name, p in model.params.items():
        expected = before[name] - np.float32(lr) * (reference.grads[name] + np.float32(lam) * before[name])
        np.testing.assert_allclose(p, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_weight_decay_shrinks_the_weights_and_fast_equals_reference():
    X = _data()
    norms = {}
    for backend in ("numba", "numpy"):
        for lam in (0.0, 0.05):
            with vae_np.fast.backend(backend):
                model = vae_np.VAE(12, [6], 3, seed=0)
                vae_np.fit(model, X, 3, 40, vae_np.Adagrad(0.05), seed=2, progress=False,
                           weight_decay=lam)
            norms[backend, lam] = sum(float((p.astype(np.float64) ** 2).sum())
                                      for p in model.params.values())
    assert norms["numba", 0.05] < norms["numba", 0.0]
    assert norms["numba", 0.05] == pytest.approx(norms["numpy", 0.05], rel=1e-4)


def test_a_constant_beta_schedule_equals_the_constant():
    X = _data()
    runs = []
    for beta in (0.3, lambda epoch: 0.3):
        model = vae_np.VAE(12, [6], 3, seed=0)
        h = vae_np.fit(model, X, 3, 40, vae_np.Adam(1e-2), seed=4, progress=False, beta=beta)
        runs.append((h.train_loss, model.params["dec.2.W"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_the_schedule_is_asked_once_per_epoch_and_changes_training():
    X = _data()
    asked = []

    def warm_up(epoch):
        asked.append(epoch)
        return min(1.0, (epoch - 1) / 2)

    model = vae_np.VAE(12, [6], 3, seed=0)
    warm = vae_np.fit(model, X, 4, 40, vae_np.Adam(1e-2), seed=4, progress=False, beta=warm_up)
    plain = vae_np.fit(vae_np.VAE(12, [6], 3, seed=0), X, 4, 40, vae_np.Adam(1e-2), seed=4,
                       progress=False)
    assert asked == [1, 2, 3, 4]
    assert warm.train_loss[0] != plain.train_loss[0]


@pytest.mark.parametrize("value", [-0.5, float("nan"), "1", None])
def test_a_bad_scheduled_beta_names_the_epoch(value):
    with pytest.raises(vae_np.InvalidParameterError, match=r"beta\(1\)"):
        vae_np.fit(vae_np.VAE(12, [6], 3, seed=0), _data(), 2, 40, vae_np.Adam(), seed=0,
                   progress=False, beta=lambda epoch: value)


@pytest.mark.parametrize("value", [-1e-3, float("inf"), "0.1", True])
def test_a_bad_weight_decay_is_refused(value):
    with pytest.raises(vae_np.InvalidParameterError, match="weight_decay"):
        vae_np.fit(vae_np.VAE(12, [6], 3, seed=0), _data(), 1, 40, vae_np.Adam(), seed=0,
                   progress=False, weight_decay=value)


def test_fit_draws_the_noise_shape_a_model_asks_for():
    shapes = []

    class TwoSamples(vae_np.VAE):
        def noise_shape(self, n):
            return (n, 2, self.latent_dim)

        def loss_and_grads(self, X, eps, beta=1.0):
            shapes.append(eps.shape)
            return super().loss_and_grads(X, eps[:, 0], beta)

    vae_np.fit(TwoSamples(12, [6], 3, seed=0), _data(), 1, 50, vae_np.Adam(), seed=0,
               progress=False)
    assert shapes == [(50, 2, 3), (50, 2, 3), (20, 2, 3)]
