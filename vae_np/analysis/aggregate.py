"""The aggregate posterior ``q(z) = (1/N) sum_i q(z|x_i)`` and Hoffman & Johnson's "ELBO surgery".

Averaged over the ``N`` training images, the KL term of the ELBO splits in two (Hoffman &
Johnson, 2016)::

    (1/N) sum_i KL(q(z|x_i) || p(z))  =  I(x; z)  +  KL(q(z) || p(z))

where ``x`` is drawn uniformly from the training images and ``z ~ q(z|x)``: the **mutual
information** between image index and code (at most ``log N``, the information needed to
single out one of ``N`` images), plus the **marginal KL** between the aggregate posterior and the
prior. The second term measures how the codes, taken together, differ from the prior, but it is
lenient about prior mass with no codes (leaving a fraction ``f`` of the prior empty costs only
``-log(1 - f)``), and a prior sample that lands where ``q(z)`` is thin lands where the decoder was
hardly trained.

``q(z)`` is a mixture of ``N`` diagonal Gaussians, so ``log q(z)`` is computed exactly, with a
log-sum-exp over all components; only the expectations over ``z`` are Monte Carlo.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int, check_rng
from ..nn.losses import (
    LOG_2PI,
    kl_normal_std_per_example,
    log_normal_diag,
    log_normal_std,
    logsumexp,
)
from ..prob.estimators import mean_and_stderr

__all__ = ["component_log_densities", "aggregate_log_density", "elbo_surgery"]


def _posterior_args(mu, logvar, owner):
    mu = check_array(mu, "mu", dtype=np.float64)
    logvar = check_array(logvar, "logvar", n_features=mu.shape[1], dtype=np.float64)
    if logvar.shape != mu.shape:
        raise ValueError(f"{owner}: mu and logvar must have the same shape (N, k), got "
                         f"{mu.shape} and {logvar.shape}")
    return mu, logvar


def component_log_densities(z, mu, logvar):
    """``log N(z_m; mu_i, diag(exp(logvar_i)))`` for every point ``m`` and component ``i``.

    Parameters
    ----------
    z : ndarray of shape (m, k)
    mu, logvar : ndarray of shape (N, k)
        Means and log-variances of the ``N`` components.

    Returns
    -------
    ndarray of shape (m, N), float64

    Notes
    -----
    :func:`vae_np.nn.losses.log_normal_diag` for all pairs, with the square expanded,
    ``sum_j (z_j - mu_ij)^2 / v_ij = z^2 . (1/v_i) - 2 z . (mu_i / v_i) + sum_j mu_ij^2 / v_ij``,
    so the work is two matrix products instead of an (m, N, k) array.
    """
    mu, logvar = _posterior_args(mu, logvar, "component_log_densities")
    z = check_array(z, "z", n_features=mu.shape[1], dtype=np.float64)
    inv_var = np.exp(-logvar)
    const = -0.5 * ((mu * mu * inv_var + logvar).sum(axis=1) + mu.shape[1] * LOG_2PI)
    quad = (z * z) @ inv_var.T - 2 * z @ (mu * inv_var).T
    return -0.5 * quad + const[None, :]


def aggregate_log_density(z, mu, logvar, batch_size=1000):
    """``log q(z) = log (1/N) sum_i N(z; mu_i, diag(exp(logvar_i)))`` for each row of ``z``.

    Parameters
    ----------
    z : ndarray of shape (m, k)
        Points at which to evaluate the density.
    mu, logvar : ndarray of shape (N, k)
        Posterior means and log-variances of the ``N`` training images.
    batch_size : int
        Rows of ``z`` evaluated at once (memory: ``batch_size * N`` floats).

    Returns
    -------
    ndarray of shape (m,), float64
    """
    mu, logvar = _posterior_args(mu, logvar, "aggregate_log_density")
    z = check_array(z, "z", n_features=mu.shape[1], dtype=np.float64)
    batch_size = check_positive_int(batch_size, "batch_size", "aggregate_log_density")
    out = np.empty(len(z))
    for s in range(0, len(z), batch_size):
        log_c = component_log_densities(z[s:s + batch_size], mu, logvar)
        out[s:s + batch_size] = logsumexp(log_c, axis=1) - np.log(len(mu))
    return out


def elbo_surgery(mu, logvar, rng, n_samples=1, batch_size=1000):
    """Estimate both terms of ``E_x KL(q(z|x) || p(z)) = I(x; z) + KL(q(z) || p(z))``.

    Parameters
    ----------
    mu, logvar : ndarray of shape (N, k)
        Posterior parameters of the ``N`` images that define ``q(z)`` (the training set).
    rng : numpy.random.Generator
        Source of ``z ~ q(z|x_i)``.
    n_samples : int
        Codes drawn per image.
    batch_size : int
        See :func:`aggregate_log_density`.

    Returns
    -------
    dict of str -> float
        ``rate``: the left side, the mean analytic KL; ``mutual_info`` and ``marginal_kl``: Monte
        Carlo estimates of the two terms, ``E[log q(z|x) - log q(z)]`` and
        ``E[log q(z) - log p(z)]``, with their standard errors ``mutual_info_se`` and
        ``marginal_kl_se``; ``rate_mc`` and ``rate_mc_se``: their sum, the Monte Carlo estimate of
        the rate (equal to ``rate`` within its error if the identity holds); ``log_n``: ``log N``,
        the upper bound on the mutual information. All in nats.

    Notes
    -----
    For each sample the two log-ratios add up to ``log q(z|x) - log p(z)`` exactly, so the
    identity holds for the estimates term by term; what is checked against ``rate`` is that the
    Monte Carlo estimate of ``E_q[log q(z|x) - log p(z)]`` is right.
    """
    mu, logvar = _posterior_args(mu, logvar, "elbo_surgery")
    check_rng(rng, "rng", "elbo_surgery")
    n_samples = check_positive_int(n_samples, "n_samples", "elbo_surgery")
    N, k = mu.shape
    if N * n_samples < 2:
        raise ValueError("elbo_surgery needs at least 2 codes for a standard error; pass more "
                         "images or n_samples >= 2")
    eps = rng.standard_normal((n_samples, N, k))
    z = (mu + np.exp(0.5 * logvar) * eps).reshape(-1, k)
    log_cond = log_normal_diag(z, np.tile(mu, (n_samples, 1)), np.tile(logvar, (n_samples, 1)))
    log_agg = aggregate_log_density(z, mu, logvar, batch_size)
    log_prior = log_normal_std(z)
    out = {"rate": float(kl_normal_std_per_example(mu, logvar).mean()), "log_n": float(np.log(N))}
    for name, values in (("mutual_info", log_cond - log_agg), ("marginal_kl", log_agg - log_prior),
                         ("rate_mc", log_cond - log_prior)):
        mean, se = mean_and_stderr(values)
        out[name], out[f"{name}_se"] = float(mean), float(se)
    return out
