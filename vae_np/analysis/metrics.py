"""Measurements of a trained VAE beyond the ELBO: rate and distortion, per-dimension KL, active
latent units, nearest-template distances, and a deliberately *naive* binary cross-entropy that
shows why the loss must be computed from logits.

All quantities are in nats per example (a sum over pixels or latent dimensions, a mean over the
examples), the convention used everywhere in ``vae_np``.
"""
from __future__ import annotations

import numpy as np

from .._validation import (
    check_array,
    check_instance,
    check_positive_float,
    check_positive_int,
    check_real,
    check_rng,
)
from ..nn.losses import kl_normal_std_per_example
from ..nn.vae import VAE

__all__ = ["encode_all", "kl_per_dimension", "active_units", "rate_distortion",
           "bernoulli_nll_naive", "nearest_template"]


def encode_all(model, X, batch_size=1000):
    """Posterior parameters of every row of ``X``, in batches.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    batch_size : int
        Rows encoded at once (memory only; does not change the result).

    Returns
    -------
    mu : ndarray of shape (n, latent_dim), float64
    logvar : ndarray of shape (n, latent_dim), float64
        Log-variances of ``q(z|x)``.
    """
    _check_vae(model, "encode_all")
    batch_size = check_positive_int(batch_size, "batch_size", "encode_all")
    X = model._check_X(X)
    parts = [model.encode(X[s:s + batch_size]) for s in range(0, len(X), batch_size)]
    mu = np.concatenate([p[0] for p in parts]).astype(np.float64)
    logvar = np.concatenate([p[1] for p in parts]).astype(np.float64)
    return mu, logvar


def _check_vae(model, owner):
    check_instance(model, VAE, "model", owner, "a vae_np.VAE (an Autoencoder has no posterior "
                   "variance)")


def kl_per_dimension(mu, logvar):
    """Mean KL to the prior of each latent dimension.

    Parameters
    ----------
    mu, logvar : ndarray of shape (n, k)
        Posterior means and log-variances of ``n`` examples.

    Returns
    -------
    ndarray of shape (k,)
        ``(1/n) sum_i 0.5 (exp(logvar_ij) + mu_ij**2 - 1 - logvar_ij)``; the entries sum to the
        mean KL per example (the *rate*). A dimension with KL near 0 carries no information
        about ``x``: its posterior is the prior for every input.
    """
    mu = check_array(mu, "mu", dtype=np.float64)
    logvar = check_array(logvar, "logvar", n_features=mu.shape[1], dtype=np.float64)
    if logvar.shape != mu.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {mu.shape} and "
                         f"{logvar.shape}")
    return (0.5 * (np.exp(logvar) + mu * mu - 1 - logvar)).mean(axis=0)


def active_units(mu, threshold=1e-2):
    """Count the latent dimensions whose posterior mean varies across the data.

    Parameters
    ----------
    mu : ndarray of shape (n, k)
        Posterior means ``E_q[z|x_i]`` of ``n >= 2`` examples.
    threshold : float
        A unit is active when the variance of its mean across the data exceeds it (Burda et al.,
        2015, use 0.01).

    Returns
    -------
    n_active : int
    variances : ndarray of shape (k,)
        ``Var_i(mu_ij)`` for each dimension ``j`` (population variance).

    Notes
    -----
    ``A_u = Cov_x(E_{u ~ q(u|x)}[u]) > threshold``. An inactive unit has the same posterior mean
    for every input, so the decoder cannot use it: it has "collapsed" to the prior.
    """
    mu = check_array(mu, "mu", dtype=np.float64)
    if len(mu) < 2:
        raise ValueError(f"active_units needs at least 2 examples to measure a variance, got "
                         f"{len(mu)}")
    threshold = check_positive_float(threshold, "threshold", "active_units")
    variances = mu.var(axis=0)
    return int((variances > threshold).sum()), variances


def rate_distortion(model, X, rng, n_samples=1, batch_size=1000):
    """The two terms of the negative ELBO of a VAE on ``X``.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    rng : numpy.random.Generator
        Source of the ``z`` samples of the distortion term.
    n_samples : int
        ``z`` samples per example for the distortion.
    batch_size : int

    Returns
    -------
    dict
        ``rate`` = mean ``KL(q(z|x) || p(z))`` (analytic), ``distortion`` = mean
        ``-E_q[log p(x|z)]`` (Monte Carlo), ``elbo`` = ``-(rate + distortion)``, all in nats per
        example (floats).

    Notes
    -----
    ``-ELBO = distortion + rate``. A beta-VAE minimizes ``distortion + beta * rate``, trading one
    for the other (Alemi et al., 2018).
    """
    _check_vae(model, "rate_distortion")
    check_rng(rng, "rng", "rate_distortion")
    n_samples = check_positive_int(n_samples, "n_samples", "rate_distortion")
    mu, logvar = encode_all(model, X, batch_size)
    rate = float(kl_normal_std_per_example(mu, logvar).mean())
    elbo = float(model.elbo(X, rng, n_samples=n_samples, batch_size=batch_size).mean())
    return {"rate": rate, "distortion": -elbo - rate, "elbo": elbo}


def bernoulli_nll_naive(logits, X):
    """Binary cross-entropy computed the naive way, through ``sigmoid`` then ``log``.

    **For demonstration only**: use :func:`vae_np.nn.losses.bernoulli_nll` (from logits).

    Parameters
    ----------
    logits : ndarray of shape (n, d)
        Decoder outputs; the arithmetic is done in their dtype (float32 or float64).
    X : ndarray of shape (n, d)
        Targets in [0, 1].

    Returns
    -------
    ndarray of shape (n,)
        ``-sum_j [x_j log p_j + (1 - x_j) log(1 - p_j)]`` with ``p = 1 / (1 + exp(-a))``.
        Entries are ``inf`` or ``nan`` once ``p`` rounds to exactly 1 (``a`` above about 16.6 in
        float32, 36.7 in float64) or to exactly 0 (``exp(-a)`` overflows: ``a`` below about
        -88.7 in float32, -709.8 in float64): ``log(0) = -inf`` and ``0 * log(0) = nan``, so
        even a confident *correct* prediction gives ``nan``. No warning is printed; the point
        is to look at the values.

    Notes
    -----
    The stable form is ``softplus(a) - x a`` with ``softplus(a) = max(a, 0) + log1p(exp(-|a|))``,
    finite for every finite ``a``.
    """
    a = np.asarray(logits)
    if a.dtype not in (np.float32, np.float64):
        a = check_real(a, "logits", finite=False)   # lists, ints: float64; complex: an error
    if a.ndim != 2:
        raise ValueError(f"logits must be 2-D, got shape {a.shape}")
    X = check_real(X, "X", finite=False).astype(a.dtype)
    if X.shape != a.shape:
        raise ValueError(f"X must have the shape of logits {a.shape}, got {X.shape}")
    one = a.dtype.type(1)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        p = one / (one + np.exp(-a))
        return -(X * np.log(p) + (one - X) * np.log(one - p)).sum(axis=1)


def nearest_template(images, templates):
    """For each image, the closest template and the root-mean-square distance to it.

    Parameters
    ----------
    images : ndarray of shape (n, d)
    templates : ndarray of shape (m, d)
        Reference images (e.g. moons at 201 phases).

    Returns
    -------
    index : ndarray of shape (n,) of int
        Row of the nearest template.
    rms : ndarray of shape (n,)
        ``sqrt(mean_j (image_j - template_j)**2)`` to that template: 0 when the image *is* a
        template, large when it is a blend of two different ones.
    """
    images = check_array(images, "images", dtype=np.float64)
    templates = check_array(templates, "templates", n_features=images.shape[1], dtype=np.float64)
    d2 = ((images * images).sum(1)[:, None] - 2 * images @ templates.T
          + (templates * templates).sum(1)[None, :])
    index = d2.argmin(axis=1)
    diff = images - templates[index]
    return index, np.sqrt((diff * diff).mean(axis=1))
