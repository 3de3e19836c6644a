"""Losses: negative log-likelihoods and the analytic KL, each with its gradient.

Scaling convention (the one used everywhere in ``vae_np`` and in the book): a loss is a
**sum over pixels (and latent dimensions) and a mean over the batch**, i.e. nats per example.
So for a batch of ``n`` examples the gradients carry a factor ``1/n``.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_int, check_option, check_positive_float

__all__ = ["nll_and_grad", "log_likelihood", "bernoulli_nll", "bernoulli_log_prob",
           "gaussian_nll", "gaussian_log_prob",
           "kl_normal_std", "kl_normal_std_per_example", "log_normal_std", "log_normal_diag",
           "logsumexp", "sigmoid"]

LOG_2PI = float(np.log(2 * np.pi))
LIKELIHOODS = ("bernoulli", "gaussian")


def _same_shape(a, X, names, owner):
    """Both as arrays, of one 2-D shape (broadcasting would silently give a wrong loss)."""
    a, X = np.asarray(a), np.asarray(X)
    if a.shape != X.shape or a.ndim != 2:
        raise ValueError(f"{owner}: {names[0]} and {names[1]} must both have shape (n, d), got "
                         f"{a.shape} and {X.shape}")
    return a, X


def sigmoid(a):
    """Numerically stable logistic function: only ``exp`` of non-positive numbers is taken.

    Parameters
    ----------
    a : ndarray of any shape

    Returns
    -------
    ndarray of the same shape, values in [0, 1].
    """
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def logsumexp(a, axis=None):
    """``log(sum(exp(a), axis))`` without overflow: the maximum is factored out first.

    Parameters
    ----------
    a : ndarray
    axis : int, optional

    Returns
    -------
    ndarray with ``axis`` removed (a float when ``axis`` is None).
    """
    a = np.asarray(a)
    if axis is not None:
        axis = check_int(axis, "axis", "logsumexp", low=-max(a.ndim, 1), high=max(a.ndim - 1, 0))
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf when every term is -inf: correct
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.item()


def bernoulli_log_prob(logits, X):
    """Per-example ``log p(x|z)`` of a Bernoulli decoder, from logits.

    Parameters
    ----------
    logits : ndarray of shape (n, d)
    X : ndarray of shape (n, d), values in [0, 1]

    Returns
    -------
    ndarray of shape (n,)
        ``sum_j x_j log sigmoid(a_j) + (1 - x_j) log(1 - sigmoid(a_j))``
        ``= -sum_j softplus(a_j) - x_j a_j``.
    """
    a, X = _same_shape(logits, X, ("logits", "X"), "bernoulli_log_prob")
    return -(np.maximum(a, 0) - X * a + np.log1p(np.exp(-np.abs(a)))).sum(axis=1)


def bernoulli_nll(logits, X):
    """Bernoulli negative log-likelihood from logits (binary cross-entropy), and its gradient.

    Parameters
    ----------
    logits : ndarray of shape (n, d)
        Decoder outputs before the sigmoid; any finite value is fine.
    X : ndarray of shape (n, d)
        Targets in [0, 1].

    Returns
    -------
    loss : float
        ``(1/n) sum_i sum_j [softplus(a_ij) - x_ij a_ij]`` (sum over pixels, mean over batch).
    dlogits : ndarray of shape (n, d)
        ``(sigmoid(a) - x) / n``.

    Notes
    -----
    ``-log sigmoid(a) = softplus(-a)`` and ``-log(1 - sigmoid(a)) = softplus(a)``, so
    ``BCE = softplus(a) - x a``, with ``softplus(a) = max(a, 0) + log1p(exp(-|a|))``.
    Computing ``log(sigmoid(a))`` naively gives ``log(0) = -inf`` once ``sigmoid`` underflows.
    """
    logits, X = _same_shape(logits, X, ("logits", "X"), "bernoulli_nll")
    n = logits.shape[0]
    E = np.exp(-np.abs(logits))                    # in (0, 1]: never overflows
    nll = np.maximum(logits, 0) - X * logits + np.log1p(E)
    sig = np.where(logits >= 0, 1 / (1 + E), E / (1 + E))   # sigmoid from the same exp(-|a|)
    dlogits = (sig - X) * logits.dtype.type(1.0 / n)
    return float(nll.sum(axis=1, dtype=np.float64).mean()), dlogits


def gaussian_log_prob(mean, X, obs_std=1.0):
    """Per-example ``log N(x; mean, obs_std**2 I)``.

    Parameters
    ----------
    mean, X : ndarray of shape (n, d)
    obs_std : float

    Returns
    -------
    ndarray of shape (n,)
        ``-0.5 * sum_j [(x_j - m_j)**2 / s**2 + log(2 pi s**2)]``.
    """
    mean, X = _same_shape(mean, X, ("mean", "X"), "gaussian_log_prob")
    obs_std = check_positive_float(obs_std, "obs_std", "gaussian_log_prob")
    d = X.shape[1]
    r = (X - mean) / obs_std
    return -0.5 * (r * r).sum(axis=1) - 0.5 * d * (LOG_2PI + 2 * np.log(obs_std))


def gaussian_nll(mean, X, obs_std=1.0):
    """Gaussian negative log-likelihood with fixed standard deviation, and its gradient.

    Parameters
    ----------
    mean : ndarray of shape (n, d)
        Decoder means.
    X : ndarray of shape (n, d)
    obs_std : float
        The fixed observation noise ``s``.

    Returns
    -------
    loss : float
        ``(1/n) sum_i 0.5 * sum_j [(x_ij - m_ij)**2 / s**2 + log(2 pi s**2)]``: squared error
        divided by ``2 s**2``, plus a constant.
    dmean : ndarray of shape (n, d)
        ``(m - x) / (s**2 n)``.
    """
    mean, X = _same_shape(mean, X, ("mean", "X"), "gaussian_nll")
    n = X.shape[0]
    loss = float(-gaussian_log_prob(mean, X, obs_std).mean())
    dmean = (mean - X) / (obs_std ** 2 * n)
    return loss, dmean.astype(mean.dtype, copy=False)


def nll_and_grad(out, X, likelihood, obs_std=1.0):
    """The decoder's negative log-likelihood and its gradient, for either likelihood.

    Parameters
    ----------
    out : ndarray of shape (n, d)
        Decoder outputs: logits (``"bernoulli"``) or means (``"gaussian"``).
    X : ndarray of shape (n, d)
    likelihood : {"bernoulli", "gaussian"}
    obs_std : float
        Observation std of the Gaussian likelihood.

    Returns
    -------
    loss : float
        Summed over pixels, mean over the batch.
    dout : ndarray of shape (n, d)
        ∂loss/∂out.
    """
    if check_option(likelihood, "likelihood", LIKELIHOODS, "nll_and_grad") == "bernoulli":
        return bernoulli_nll(out, X)
    return gaussian_nll(out, X, obs_std)


def log_likelihood(out, X, likelihood, obs_std=1.0):
    """Per-example ``log p(x|z)`` from decoder outputs (logits or means), shape (n,)."""
    if check_option(likelihood, "likelihood", LIKELIHOODS, "log_likelihood") == "bernoulli":
        return bernoulli_log_prob(out, X)
    return gaussian_log_prob(out, X, obs_std)


def kl_normal_std_per_example(mu, logvar):
    """Per-example ``KL(N(mu, diag(exp(logvar))) || N(0, I))``.

    Parameters
    ----------
    mu, logvar : ndarray of shape (n, k)

    Returns
    -------
    ndarray of shape (n,)
        ``0.5 * sum_j (exp(logvar_j) + mu_j**2 - 1 - logvar_j)``.
    """
    return 0.5 * (np.exp(logvar) + mu * mu - 1 - logvar).sum(axis=1)


def kl_normal_std(mu, logvar):
    """Analytic ``KL(N(mu, exp(logvar)) || N(0, I))``, mean over the batch, and its gradients.

    Parameters
    ----------
    mu : ndarray of shape (n, k)
        Posterior means.
    logvar : ndarray of shape (n, k)
        Posterior **log-variances** (``std = exp(0.5 * logvar)``).

    Returns
    -------
    kl : float
        ``(1/n) sum_i 0.5 sum_j (exp(logvar_ij) + mu_ij**2 - 1 - logvar_ij)``.
    dmu : ndarray of shape (n, k)
        ``mu / n``.
    dlogvar : ndarray of shape (n, k)
        ``0.5 (exp(logvar) - 1) / n``.
    """
    mu, logvar = _same_shape(mu, logvar, ("mu", "logvar"), "kl_normal_std")
    n = mu.shape[0]
    kl = float(kl_normal_std_per_example(mu, logvar).mean())
    return kl, mu / n, 0.5 * (np.exp(logvar) - 1) / n


def log_normal_std(z):
    """Per-row ``log N(z; 0, I)``. z : ndarray of shape (..., k); returns shape (...)."""
    k = z.shape[-1]
    return -0.5 * (z * z).sum(axis=-1) - 0.5 * k * LOG_2PI


def log_normal_diag(z, mu, logvar):
    """Per-row ``log N(z; mu, diag(exp(logvar)))``. All of shape (..., k); returns shape (...)."""
    k = z.shape[-1]
    r = z - mu
    return -0.5 * (r * r * np.exp(-logvar) + logvar).sum(axis=-1) - 0.5 * k * LOG_2PI
