"""Structured output prediction: quadrant masks, the KL between two diagonal Gaussians, gradient
checks of the baseline and of the CVAE with a learned prior, and the importance-sampling
estimate of the conditional log-likelihood."""
import numpy as np
import pytest
from cvae_helpers import check_loss

from vae_np.nn.gradcheck import max_error, numerical_gradient, relative_error
from vae_np.nn.losses import bernoulli_log_prob, kl_normal_std, log_normal_diag
from vae_np.nn.structured import (
    MaskedBaseline,
    StructuredCVAE,
    kl_normal_diag,
    kl_normal_diag_per_example,
    masked_input,
    quadrant_mask,
)
from vae_np.prob.divergences import kl_diag_normal

SHAPE = (4, 4)          # 16-pixel images: quadrants of 2 x 2 pixels


def _data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 16)) < 0.5).astype(float)
    X[0, :3] = [0.3, 0.8, 0.5]                     # grey targets are valid too
    return X, rng


def _nonzero_biases(model, rng):
    for name, p in model.params.items():
        if name.endswith(".b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)


# ------------------------------------------------------------------------------------ masks
def test_quadrant_masks_follow_pyro():
    m1, m2, m3 = (quadrant_mask(q).reshape(28, 28) for q in (1, 2, 3))
    assert [m.sum() for m in (m1, m2, m3)] == [196, 392, 588]
    assert m1[14:, :14].all() and not m1[:14].any() and not m1[:, 14:].any()   # bottom-left
    assert m2[:, :14].all() and not m2[:, 14:].any()                            # left half
    assert not m3[14:, 14:].any() and m3.sum() == 784 - 196                    # all but BR
    assert (m1 <= m2).all() and (m2 <= m3).all()                               # nested
    assert quadrant_mask(2, SHAPE).tolist() == [True, True, False, False] * 4
    with pytest.raises(ValueError, match="1, 2 or 3"):
        quadrant_mask(4)
    with pytest.raises(ValueError, match="even"):
        quadrant_mask(1, (5, 4))


def test_masked_input_marks_hidden_pixels():
    X, _ = _data()
    vis = quadrant_mask(1, SHAPE)
    M = masked_input(X, vis)
    np.testing.assert_array_equal(M[:, vis], X[:, vis])
    assert (M[:, ~vis] == -1).all() and M.dtype == X.dtype
    assert (masked_input(X.astype(np.float32), vis, fill=0.5)[:, ~vis] == 0.5).all()


# ------------------------------------------------------------------------------------ KL
def test_kl_normal_diag_matches_prob_and_the_standard_case():
    rng = np.random.default_rng(0)
    mq, lq, mp, lp = (rng.normal(size=(5, 3)) for _ in range(4))
    np.testing.assert_allclose(kl_normal_diag_per_example(mq, lq, mp, lp),
                               kl_diag_normal(mq, lq, mp, lp), rtol=1e-12)
    np.testing.assert_allclose(kl_normal_diag_per_example(mq, lq, mq, lq), 0, atol=1e-12)
    zero = np.zeros_like(mq)
    ours, std = kl_normal_diag(mq, lq, zero, zero), kl_normal_std(mq, lq)
    assert ours[0] == pytest.approx(std[0], rel=1e-12)
    np.testing.assert_allclose(ours[1], std[1], rtol=1e-12)
    np.testing.assert_allclose(ours[2], std[2], rtol=1e-12)


def test_kl_normal_diag_gradients():
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(4, 3)) for _ in range(4)]
    _, *grads = kl_normal_diag(*args)
    for a, g in zip(args, grads):
        num = numerical_gradient(lambda: kl_normal_diag(*args)[0], a)
        assert relative_error(g, num) < 1e-8


# ------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_baseline_gradcheck(q, activation):
    X, rng = _data(seed=q)
    model = MaskedBaseline(quadrant_mask(q, SHAPE), [5], activation=activation, seed=q,
                           dtype=np.float64)
    _nonzero_biases(model, rng)
    errors = check_loss(lambda: model.loss_and_grads(X), model.params)
    assert set(errors) == {"net.0.W", "net.0.b", "net.2.W", "net.2.b"}
    assert max_error(errors) < 1e-6, errors


@pytest.mark.parametrize("q, activation, beta", [(1, "relu", 1.0), (2, "relu", 0.6),
                                                  (3, "relu", 1.0), (1, "tanh", 0.6),
                                                  (2, "softplus", 1.0), (3, "tanh", 0.6)])
def test_structured_cvae_gradcheck_every_parameter(q, activation, beta):
    X, rng = _data(seed=10 + q)
    model = StructuredCVAE(quadrant_mask(q, SHAPE), [5], 3, activation=activation, seed=q,
                           dtype=np.float64)
    _nonzero_biases(model, rng)
    eps = rng.standard_normal((len(X), 3))
    errors = check_loss(lambda: model.loss_and_grads(X, eps, beta), model.params)
    assert {k.split(".")[0] for k in errors} == {"prior", "recog", "gen"}
    assert max_error(errors) < 1e-6, errors


def test_structured_cvae_prior_network_learns_only_from_the_kl_term():
    X, rng = _data(seed=3)
    model = StructuredCVAE(quadrant_mask(2, SHAPE), [5], 3, seed=0, dtype=np.float64)
    eps = rng.standard_normal((len(X), 3))
    _, grads = model.loss_and_grads(X, eps, beta=0.0)
    assert all(np.all(g == 0) for k, g in grads.items() if k.startswith("prior."))
    assert any(np.any(g != 0) for k, g in grads.items() if k.startswith("recog."))


def test_the_networks_see_only_what_they_may():
    """Changing a hidden pixel changes neither the baseline's prediction nor the CVAE's
    completions, only what they are scored on."""
    X, rng = _data(seed=4)
    vis = quadrant_mask(1, SHAPE)
    base = MaskedBaseline(vis, [5], seed=0, dtype=np.float64)
    cvae = StructuredCVAE(vis, [5], 3, seed=0, dtype=np.float64)
    Y = X.copy()
    Y[:, ~vis] = 1 - np.round(Y[:, ~vis])
    np.testing.assert_array_equal(base.predict(X), base.predict(Y))
    np.testing.assert_array_equal(cvae.sample(X, np.random.default_rng(0), 3),
                                  cvae.sample(Y, np.random.default_rng(0), 3))
    assert not np.allclose(base.conditional_log_likelihood(X), base.conditional_log_likelihood(Y))


def test_baseline_likelihood_and_loss_agree():
    X, _ = _data(seed=5)
    model = MaskedBaseline(quadrant_mask(3, SHAPE), [5], seed=1, dtype=np.float64)
    loss, _ = model.loss_and_grads(X)
    assert -model.conditional_log_likelihood(X).mean() == pytest.approx(loss, rel=1e-12)
    P = model.predict(X)
    assert P.shape == (len(X), 4) and ((P > 0) & (P < 1)).all()


def test_complete_and_sample_shapes():
    X, _ = _data(seed=6)
    vis = quadrant_mask(2, SHAPE)
    model = StructuredCVAE(vis, [5], 3, seed=0)
    S = model.sample(X, np.random.default_rng(0), n_samples=4)
    assert S.shape == (4, len(X), 8) and S.dtype == np.float32
    full = model.complete(X, S)
    assert full.shape == (4, len(X), 16)
    np.testing.assert_array_equal(full[:, :, vis], np.broadcast_to(X[:, vis], (4, len(X), 8)))
    np.testing.assert_array_equal(full[:, :, ~vis], S)
    np.testing.assert_array_equal(model.hidden(X), X[:, ~vis])


def test_mask_validation():
    with pytest.raises(ValueError, match="boolean"):
        MaskedBaseline(np.ones(16), [4])
    with pytest.raises(ValueError, match="some pixels visible"):
        StructuredCVAE(np.ones(16, bool), [4], 2)
    with pytest.raises(ValueError, match="activation"):
        MaskedBaseline(quadrant_mask(1, SHAPE), [4], activation="elu")


# ------------------------------------------------------------------------------------ estimator
def _trained_looking_cvae(seed=0):
    X, rng = _data(n=8, seed=seed)
    model = StructuredCVAE(quadrant_mask(1, SHAPE), [6], 2, activation="tanh", seed=seed,
                           dtype=np.float64)
    for p in model.params.values():
        p[...] = 0.8 * rng.standard_normal(p.shape)
    return model, X


def test_k1_estimate_is_the_one_sample_conditional_elbo():
    model, X = _trained_looking_cvae()
    eps = np.random.default_rng(0).standard_normal((1, len(X), 2))
    mu_q, logvar_q = model._gaussian("recog", X)
    z = mu_q + np.exp(0.5 * logvar_q) * eps[0]
    mp, lp = model._gaussian("prior", masked_input(X, model.visible))
    logits = model._generate(z, masked_input(X, model.visible))
    by_hand = (bernoulli_log_prob(logits, model.hidden(X)) + log_normal_diag(z, mp, lp)
               - log_normal_diag(z, mu_q, logvar_q))
    np.testing.assert_allclose(model.log_weights(X, eps)[0], by_hand, rtol=1e-12)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_allclose(
        model.conditional_log_likelihood(X, rng_a, k=1),
        model.log_weights(X, rng_b.standard_normal((1, len(X), 2)))[0], rtol=1e-12)


def test_k1_estimate_averages_to_the_conditional_elbo():
    """E[log w] with one sample is the ELBO with its KL term in closed form."""
    model, X = _trained_looking_cvae(seed=1)
    reps = 4000
    Xr = np.tile(X, (reps, 1))
    iw1 = model.conditional_log_likelihood(Xr, np.random.default_rng(0), k=1).reshape(reps, -1)
    elbo = model.elbo(X, np.random.default_rng(1), n_samples=4000)
    se = iw1.std(axis=0) / np.sqrt(reps)
    assert np.all(np.abs(iw1.mean(axis=0) - elbo) < 4 * se + 1e-3)


def test_estimate_rises_with_k_and_bounds_stay_ordered():
    model, X = _trained_looking_cvae(seed=2)
    reps = 300
    Xr = np.tile(X, (reps, 1))
    means = [model.conditional_log_likelihood(Xr, np.random.default_rng(k), k=k).mean()
             for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2]
    assert model.elbo(X, np.random.default_rng(9), n_samples=2000).mean() < means[2]


def test_estimate_is_exact_when_the_recognition_network_is_the_prior():
    """A generation network that ignores z, and q = p(z|x_v): every weight is p(x_h|x_v)."""
    X, rng = _data(n=5, seed=7)
    model = StructuredCVAE(quadrant_mask(2, SHAPE), [6], 2, seed=0, dtype=np.float64)
    for net in ("prior", "recog"):
        for name, p in model.params.items():
            if name.startswith(net):
                p[...] = 0.0
    model.params["prior.2.b"][:] = model.params["recog.2.b"][:] = [0.3, -0.2, 0.1, -0.5]
    model.params["gen.0.W"][:2] = 0.0                       # the rows that multiply z
    est = model.conditional_log_likelihood(X, np.random.default_rng(0), k=7)
    logits = model._generate(np.zeros((len(X), 2)), masked_input(X, model.visible))
    np.testing.assert_allclose(est, bernoulli_log_prob(logits, model.hidden(X)), rtol=1e-12)
