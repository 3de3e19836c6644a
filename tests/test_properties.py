"""Property tests (hypothesis) for the numerics: finite and correct at extreme inputs.

* Bernoulli NLL from logits and its gradient: logits anywhere in [-1e4, 1e4] (float32 and
  float64, the nn reference and the fast kernel) give finite values equal to a float64 reference.
* The analytic KL and its gradients: ``logvar`` anywhere in [-50, 50] and ``mu`` in [-1e3, 1e3].
  No clamp is needed (or applied) there: ``exp(logvar)`` only overflows float32 above
  ``logvar = 88.7`` and ``exp(0.5*logvar)`` above 177. Beyond that, rather than silently clip,
  ``vae_np`` lets the value become inf and ``fit``'s guard stops training with an error naming it
  (tested in tests/test_validation.py).
* ``logsumexp``: equal to SciPy's, shift-equivariant, bounded by ``max`` and ``max + log n``,
  and ``-inf`` (not NaN) when every term is ``-inf``.
* A whole VAE forward/backward pass with extreme decoder logits and extreme encoder log-variances
  has a finite loss and finite gradients.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit
from scipy.special import logsumexp as scipy_logsumexp

from vae_np import VAE
from vae_np.fast import elementwise, reparam
from vae_np.fast import step as fast_step
from vae_np.nn.losses import (
    bernoulli_log_prob,
    bernoulli_nll,
    kl_normal_std,
    kl_normal_std_per_example,
    logsumexp,
)
from vae_np.nn.vae import reparameterize

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
PATHS = ["fast", "reference"]
DTYPES = [np.float32, np.float64]

shapes = st.tuples(st.integers(1, 5), st.integers(1, 7))
# Logits: the whole range, with the end points and "ordinary" values both well represented.
logit_values = st.one_of(st.sampled_from([-1e4, 1e4, 0.0, -88.0, 88.0, -745.0, 745.0]),
                         st.floats(-1e4, 1e4), st.floats(-30, 30))
unit_values = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1))


@st.composite
def logits_and_targets(draw, dtype):
    shape = draw(shapes)
    a = draw(arrays(np.float64, shape, elements=logit_values)).astype(dtype)
    x = draw(arrays(np.float64, shape, elements=unit_values)).astype(dtype)
    return a, x


def softplus_ref(a):
    return np.logaddexp(0.0, a)     # log(1 + e^a), exact in float64 for any finite a


def tol(dtype, magnitude):
    """Absolute tolerance: a few units in the last place of the dtype, times the size involved."""
    return 8 * np.finfo(dtype).eps * (magnitude + 1)


# ------------------------------------------------------------------------------------ BCE
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_bernoulli_nll_finite_and_correct_at_extreme_logits(path, dtype, data):
    a, x = data.draw(logits_and_targets(dtype))
    n = a.shape[0]
    if path == "reference":
        loss, dlogits = bernoulli_nll(a.copy(), x)
    else:
        dlogits = a.copy()
        total = elementwise.bernoulli_nll_grad_bias(
            dlogits, np.zeros(a.shape[1], dtype), x, 1.0 / n, np.empty_like(a),
            np.empty_like(a), np.empty(a.shape[1], dtype))
        loss = total / n
    a64, x64 = a.astype(np.float64), x.astype(np.float64)
    ref_rows = (softplus_ref(a64) - x64 * a64).sum(axis=1)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    assert dlogits.dtype == dtype and dlogits.shape == a.shape
    assert loss >= -tol(dtype, np.abs(a64).sum())            # BCE >= 0 (up to rounding)
    assert abs(loss - ref_rows.mean()) <= tol(dtype, np.abs(a64).sum())
    ref_grad = (expit(a64) - x64) / n
    assert np.all(np.abs(dlogits - ref_grad) <= tol(dtype, 1.0) / n)
    assert np.all(np.abs(dlogits) <= 1.0 / n * (1 + 1e-6))   # |sigmoid - x| <= 1


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_bernoulli_log_prob_finite_and_correct(dtype, data):
    a, x = data.draw(logits_and_targets(dtype))
    lp = bernoulli_log_prob(a, x)
    a64, x64 = a.astype(np.float64), x.astype(np.float64)
    ref = -(softplus_ref(a64) - x64 * a64).sum(axis=1)
    assert np.isfinite(lp).all()
    assert np.all(np.abs(lp - ref) <= tol(dtype, np.abs(a64).sum(axis=1)))


def test_bce_saturated_logits_exact():
    """The classic failure: log(sigmoid(a)) = log(0) = -inf once sigmoid underflows."""
    a = np.array([[1e4, -1e4, 1e4, -1e4]], dtype=np.float32)
    x = np.array([[1, 0, 0, 1]], dtype=np.float32)
    loss, d = bernoulli_nll(a, x)
    assert loss == pytest.approx(2e4, rel=1e-7)     # two confidently wrong pixels, 1e4 nats each
    np.testing.assert_allclose(d, [[0, 0, 1, -1]], atol=1e-7)


# ------------------------------------------------------------------------------------ KL
@st.composite
def mu_logvar(draw, dtype):
    shape = draw(shapes)
    mu = draw(arrays(np.float64, shape, elements=st.one_of(
        st.sampled_from([0.0, -1e3, 1e3]), st.floats(-1e3, 1e3), st.floats(-3, 3))))
    lv = draw(arrays(np.float64, shape, elements=st.one_of(
        st.sampled_from([-50.0, 50.0, 0.0, 1e-9]), st.floats(-50, 50), st.floats(-1, 1))))
    return mu.astype(dtype), lv.astype(dtype)


def kl_ref(mu, lv):
    """0.5 * (exp(lv) - 1 - lv + mu^2) without cancellation for small lv."""
    mu, lv = mu.astype(np.float64), lv.astype(np.float64)
    return 0.5 * (np.expm1(lv) - lv + mu * mu)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_kl_finite_and_correct_for_extreme_logvar(dtype, data):
    mu, lv = data.draw(mu_logvar(dtype))
    n = mu.shape[0]
    per = kl_normal_std_per_example(mu, lv)
    kl, dmu, dlv = kl_normal_std(mu, lv)
    ref = kl_ref(mu, lv)
    scale = (np.exp(lv.astype(np.float64)) + np.abs(lv) + mu.astype(np.float64) ** 2 + 1)
    assert np.isfinite(per).all() and np.isfinite(kl)
    assert np.isfinite(dmu).all() and np.isfinite(dlv).all()
    assert np.all(per >= -tol(dtype, scale.sum(axis=1)))              # KL >= 0
    assert np.all(np.abs(per - ref.sum(axis=1)) <= tol(dtype, scale.sum(axis=1)))
    assert abs(kl - ref.sum(axis=1).mean()) <= tol(dtype, scale.sum())
    np.testing.assert_allclose(dlv, 0.5 * np.expm1(lv.astype(np.float64)) / n,
                               rtol=16 * np.finfo(dtype).eps, atol=tol(dtype, 1.0) / n)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_reparameterization_gradients_finite_for_extreme_logvar(path, dtype, data):
    mu, lv = data.draw(mu_logvar(dtype))
    eps = data.draw(arrays(np.float64, mu.shape, elements=st.floats(-6, 6))).astype(dtype)
    dz = data.draw(arrays(np.float64, mu.shape, elements=st.floats(-1, 1))).astype(dtype)
    n, k = mu.shape
    if path == "reference":                   # as VAE.loss_and_grads computes them
        z, std = reparameterize(mu, lv, eps)
        _, dmu_kl, dlv_kl = kl_normal_std(mu, lv)
        dmu, dlv = dz + dmu_kl, 0.5 * dz * eps * std + dlv_kl
    else:
        H = np.concatenate([mu, lv], axis=1)
        z, std = np.empty_like(mu), np.empty_like(mu)
        reparam.reparam_kl(H, eps, std, z)
        dH = np.empty_like(H)
        reparam.reparam_backward_bias(dz, eps, std, H, 1.0 / n, dH, np.empty(2 * k, dtype))
        dmu, dlv = dH[:, :k], dH[:, k:]
    for arr in (z, std, dmu, dlv):
        assert np.isfinite(arr).all() and arr.dtype == dtype
    np.testing.assert_allclose(std, np.exp(0.5 * lv.astype(np.float64)),
                               rtol=16 * np.finfo(dtype).eps)


# ------------------------------------------------------------------------------------ logsumexp
finite_or_minus_inf = st.one_of(st.floats(-1e4, 1e4), st.just(-np.inf),
                                st.sampled_from([1e4, -1e4, 700.0, 800.0, -800.0]))


@SETTINGS
@given(a=arrays(np.float64, st.integers(1, 20), elements=finite_or_minus_inf))
def test_logsumexp_matches_scipy_and_is_bounded(a):
    out = logsumexp(a)
    ref = scipy_logsumexp(a)
    if np.isneginf(ref):
        assert np.isneginf(out)
        return
    assert np.isfinite(out)
    assert out == pytest.approx(ref, rel=1e-12, abs=1e-9)
    m = a.max()
    assert m - 1e-9 <= out <= m + np.log(len(a)) + 1e-9


@SETTINGS
@given(a=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                elements=st.floats(-1e4, 1e4)),
       c=st.floats(-1e4, 1e4), axis=st.sampled_from([0, 1]))
def test_logsumexp_shift_equivariant_along_axis(a, c, axis):
    out = logsumexp(a, axis=axis)
    assert out.shape == (a.shape[1 - axis],)
    np.testing.assert_allclose(logsumexp(a + c, axis=axis), out + c, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(out, scipy_logsumexp(a, axis=axis), rtol=1e-12, atol=1e-9)


def test_logsumexp_all_minus_inf_is_minus_inf_not_nan():
    with np.errstate(divide="ignore"):
        out = logsumexp(np.array([-np.inf, -np.inf]))
    assert np.isneginf(out)


# ------------------------------------------------------------------------------------ a whole VAE
@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=25, deadline=None, derandomize=True)
@given(logit_scale=st.sampled_from([1.0, 1e2, 1e3]),
       logvar_bias=st.sampled_from([-50.0, -10.0, 0.0, 10.0, 50.0]),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_vae_loss_and_gradients_finite_at_extremes(path, logit_scale, logvar_bias, dtype,
                                                    seed):
    """Decoder logits of size up to ~1e4 and encoder log-variances of +-50 keep everything finite."""
    rng = np.random.default_rng(seed)
    m = VAE(12, [8], 3, seed=seed, dtype=dtype)
    k = m.latent_dim
    enc_last = [key for key in m.params if key.startswith("enc.")][-2:]   # W, b of the last layer
    dec_last = [key for key in m.params if key.startswith("dec.")][-2]
    W, b = (m.params[key] for key in enc_last)                            # columns [mu | logvar]
    W[:, k:] = 0
    b[k:] = logvar_bias
    m.params[dec_last][...] *= logit_scale
    X = (rng.random((5, 12)) < 0.5).astype(dtype)
    eps = rng.standard_normal((5, k)).astype(dtype)
    if path == "reference":
        loss, grads = m.loss_and_grads(X, eps)
    else:
        loss, grads = fast_step.loss_and_grads(m, X, eps)
    assert np.isfinite(loss), (loss, m.terms)
    for name, g in grads.items():
        assert np.isfinite(g).all(), name
