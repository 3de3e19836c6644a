"""Chapter 7's measurements: latent-code classifiers, the mean-image baseline, VAE inpainting and
the importance-sampling estimate of a VAE's log p(x_v) and log p(x_h | x_v), checked against
numerical integration over a 1-D latent space."""
import numpy as np
import pytest

import vae_np
from vae_np.analysis import conditional as cond
from vae_np.nn.losses import bernoulli_log_prob, logsumexp
from vae_np.nn.structured import quadrant_mask


# ------------------------------------------------------------------------------------ probes
def test_classifiers_on_separated_and_on_uninformative_codes():
    rng = np.random.default_rng(0)
    y_tr, y_te = rng.integers(0, 4, 400), rng.integers(0, 4, 200)
    centres = 10 * np.eye(4)[:, :3]
    Z_tr = centres[y_tr] + rng.normal(size=(400, 3))
    Z_te = centres[y_te] + rng.normal(size=(200, 3))
    assert cond.nearest_mean_accuracy(Z_tr, y_tr, Z_te, y_te) == 1.0
    assert cond.knn_accuracy(Z_tr, y_tr, Z_te, y_te, k=5) == 1.0
    noise_tr, noise_te = rng.normal(size=(400, 3)), rng.normal(size=(200, 3))   # no class info
    for acc in (cond.nearest_mean_accuracy(noise_tr, y_tr, noise_te, y_te),
                cond.knn_accuracy(noise_tr, y_tr, noise_te, y_te)):
        assert abs(acc - 0.25) < 0.1


def test_nearest_mean_predict_matches_the_brute_force_distances():
    rng = np.random.default_rng(1)
    y_tr = rng.integers(3, 7, 60)                       # labels need not start at 0
    Z_tr, Z_te = rng.normal(size=(60, 5)), rng.normal(size=(30, 5))
    classes = np.unique(y_tr)
    means = np.array([Z_tr[y_tr == c].mean(axis=0) for c in classes])
    brute = classes[[np.argmin([np.sum((z - m) ** 2) for m in means]) for z in Z_te]]
    assert np.array_equal(cond.nearest_mean_predict(Z_tr, y_tr, Z_te), brute)
    assert cond.nearest_mean_accuracy(Z_tr, y_tr, Z_te, brute) == 1.0


def test_knn_vote_and_errors():
    Z_tr = np.array([[0.0], [0.1], [0.2], [5.0]])
    y_tr = np.array([1, 1, 0, 0])
    assert cond.knn_accuracy(Z_tr, y_tr, np.array([[0.05]]), np.array([1]), k=3) == 1.0
    with pytest.raises(ValueError, match="more than"):
        cond.knn_accuracy(Z_tr, y_tr, Z_tr, y_tr, k=5)
    with pytest.raises(ValueError, match="one label per row"):
        cond.nearest_mean_accuracy(Z_tr, y_tr[:3], Z_tr, y_tr)
    with pytest.raises(ValueError, match="one label per row"):
        cond.nearest_mean_predict(Z_tr, y_tr[:3], Z_tr)
    with pytest.raises(ValueError, match="Z_test"):
        cond.nearest_mean_predict(Z_tr, y_tr, 3.0)


# ------------------------------------------------------------------------------------ mean image
def test_mean_image_and_its_likelihood():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(cond.mean_image(X), [1 / 5, 3 / 5])
    P = np.array([0.2, 0.9])
    np.testing.assert_allclose(cond.bernoulli_log_prob_of(P, X),
                               (np.log(np.where(X == 1, P, 1 - P))).sum(axis=1))
    with pytest.raises(ValueError, match="strictly"):
        cond.bernoulli_log_prob_of(np.array([0.0, 0.5]), X)


def test_completion_mse():
    vis = np.array([True, False, False])
    X = np.array([[0.5, 1.0, 0.0]])
    C = np.array([[[9.0, 0.5, 0.5]], [[9.0, 1.0, 0.0]]])       # two completions of one image
    np.testing.assert_allclose(cond.completion_mse(C, X, vis), [0.125])
    np.testing.assert_allclose(cond.completion_mse(C[1], X, vis), [0.0])


# ------------------------------------------------------------------------------------ inpainting
@pytest.fixture
def tiny_vae():
    """A VAE on 16-pixel images with a 1-D code, weights large enough to matter."""
    model = vae_np.VAE(16, [6], 1, activation="tanh", seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    for p in model.params.values():
        p[...] = 1.2 * rng.standard_normal(p.shape)
    X = (rng.random((5, 16)) < 0.5).astype(float)
    return model, X


def test_inpainting_keeps_visible_pixels_and_is_reproducible(tiny_vae):
    model, X = tiny_vae
    vis = quadrant_mask(2, (4, 4))
    out, path = cond.vae_inpaint(model, X, vis, np.random.default_rng(0), n_iter=4, n_chains=3,
                                 return_path=True)
    assert out.shape == (3, 5, 16) and path.shape == (4, 3, 5, 8)
    np.testing.assert_array_equal(out[:, :, vis], np.broadcast_to(X[:, vis], (3, 5, 8)))
    np.testing.assert_array_equal(out[:, :, ~vis], path[-1])
    again = cond.vae_inpaint(model, X, vis, np.random.default_rng(0), n_iter=4, n_chains=3)
    np.testing.assert_array_equal(out, again)


def test_one_round_of_inpainting_is_encode_sample_decode(tiny_vae):
    model, X = tiny_vae
    vis = quadrant_mask(1, (4, 4))
    out = cond.vae_inpaint(model, X, vis, np.random.default_rng(3), n_iter=1, init=0.5)
    start = np.where(vis, X, 0.5)
    rng = np.random.default_rng(3)
    mu, logvar = model.encode(start)
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape)
    np.testing.assert_allclose(out[0][:, ~vis], model.decode(z)[:, ~vis], rtol=1e-12)


def _exact_log_p(model, X, pixels, n_grid=20001):
    """log p(x_pixels) = log integral of p(x_pixels | z) N(z; 0, 1) dz, on a grid (1-D code)."""
    z = np.linspace(-9, 9, n_grid)[:, None]
    logits = model.decoder.forward(z)
    log_prior = -0.5 * z[:, 0] ** 2 - 0.5 * np.log(2 * np.pi)
    out = []
    for x in X:
        lp = bernoulli_log_prob(logits[:, pixels], np.tile(x[pixels], (n_grid, 1)))
        out.append(logsumexp(lp + log_prior) + np.log(z[1, 0] - z[0, 0]))
    return np.array(out)


@pytest.mark.parametrize("q", [1, 2, 3])
def test_visible_log_likelihood_matches_numerical_integration(tiny_vae, q):
    model, X = tiny_vae
    vis = quadrant_mask(q, (4, 4))
    comps = cond.vae_inpaint(model, X, vis, np.random.default_rng(q), n_iter=5, n_chains=4)
    est = cond.visible_log_likelihood(model, X, vis, comps, np.random.default_rng(0), k=20000)
    np.testing.assert_allclose(est, _exact_log_p(model, X, vis), atol=0.06)   # ~3 std errors
    # log p(x_h | x_v) = log p(x) - log p(x_v), both estimated from one stream of numbers
    ours = cond.vae_conditional_log_likelihood(model, X, vis, comps, np.random.default_rng(1),
                                               k=500)
    rng = np.random.default_rng(1)
    log_px = model.log_likelihood(X, rng, k=500)
    np.testing.assert_array_equal(
        ours, log_px - cond.visible_log_likelihood(model, X, vis, comps, rng, k=500))

def test_visible_log_likelihood_is_a_stochastic_lower_bound(tiny_vae):
    model, X = tiny_vae
    vis = quadrant_mask(1, (4, 4))
    comps = cond.vae_inpaint(model, X, vis, np.random.default_rng(0), n_iter=3, n_chains=2)
    exact = _exact_log_p(model, X, vis)
    small = np.mean([cond.visible_log_likelihood(model, X, vis, comps, np.random.default_rng(s),
                                                 k=3) for s in range(300)], axis=0)
    assert np.all(small < exact + 1e-3)        # Jensen: E[log estimate] <= log p(x_v)
    with pytest.raises(ValueError, match="fewer than"):
        cond.visible_log_likelihood(model, X, vis, comps, np.random.default_rng(0), k=2)
    with pytest.raises(ValueError, match="completions must have shape"):
        cond.visible_log_likelihood(model, X, vis, comps[0], np.random.default_rng(0), k=9)
