"""Why a VAE needs an encoder: the naive Monte Carlo estimate of ``log p(x)`` from prior samples.

The evidence is an average over the prior, ``p(x) = E_{z ~ p(z)}[p(x|z)]``, so the obvious
estimate is ``log (1/S) sum_s p(x|z_s)`` with ``z_s ~ p(z)``. It is consistent, but almost every
prior sample explains a given image very badly: the sum is dominated by the rare samples that
land where the posterior ``p(z|x)`` lives, and the number of samples needed grows roughly like
``exp(KL(p(z|x) || p(z)))`` (Chatterjee & Diaconis, 2018). The importance-weighted estimate of
:meth:`vae_np.VAE.log_likelihood` draws ``z`` from the encoder's ``q(z|x)`` instead and needs
a few hundred.

:func:`prior_log_likelihood` computes the naive estimate for many images and many sample sizes
at once: the prior samples do not depend on the image, so every decoded sample is scored against
every image with one matrix product (``log p(x|z)`` is linear in ``x`` for a Bernoulli decoder,
and a quadratic for a Gaussian one).
"""
from __future__ import annotations

import numpy as np

from .._validation import check_instance, check_positive_int, check_rng, check_sizes
from ..nn.losses import bernoulli_log_prob, gaussian_log_prob, logsumexp
from ..nn.vae import VAE

__all__ = ["pairwise_log_px", "prior_log_likelihood"]


def pairwise_log_px(model, X, out):
    """``log p(x_i | z_s)`` for every image ``i`` and every decoded sample ``s``.

    Parameters
    ----------
    model : vae_np.VAE
        Only its likelihood (and ``obs_std``) is used.
    X : ndarray of shape (n, input_dim)
    out : ndarray of shape (S, input_dim)
        Decoder outputs for ``S`` codes: logits (Bernoulli) or means (Gaussian).

    Returns
    -------
    ndarray of shape (n, S), float64

    Notes
    -----
    Bernoulli: ``log p(x|z) = sum_j x_j a_j - softplus(a_j)``, i.e. ``X @ A.T`` plus the
    log-probability of the all-zero image under each sample. Gaussian:
    ``-(||x||^2 - 2 x.m) / (2 s^2)`` plus the log-density of the zero image (both from
    :mod:`vae_np.nn.losses`). The arithmetic is in the model's dtype, like its decoder: for a
    float32 model the results carry float32 rounding (about 1e-4 nats on a few hundred), and are
    returned as float64.
    """
    check_instance(model, VAE, "model", "pairwise_log_px", "a vae_np.VAE")
    X = model._check_X(X)
    out = np.ascontiguousarray(out, dtype=model.dtype)
    if out.ndim != 2 or out.shape[1] != model.input_dim:
        raise ValueError(f"out must have shape (S, {model.input_dim}), got {out.shape}")
    zeros = np.zeros_like(out)
    if model.likelihood == "bernoulli":
        log_px = X @ out.T + bernoulli_log_prob(out, zeros)[None, :]
    else:
        s2 = model.obs_std ** 2
        log_px = ((2 * X @ out.T - (X * X).sum(axis=1)[:, None]) / (2 * s2)
                  + gaussian_log_prob(out, zeros, model.obs_std)[None, :])
    return log_px.astype(np.float64)

def prior_log_likelihood(model, X, rng, sizes, batch_size=5000):
    """Naive estimates ``log (1/S) sum_{s <= S} p(x|z_s)``, ``z_s ~ p(z)``, for several ``S``.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    rng : numpy.random.Generator
        Source of the prior samples, shared by all images (the first ``S`` samples give the
        estimate for ``S``, so the estimates for growing ``S`` are nested).
    sizes : sequence of int
        Sample sizes ``S``, increasing; ``max(sizes)`` samples are drawn.
    batch_size : int
        Prior samples decoded at once (memory: about ``batch_size * (input_dim + n)`` floats).

    Returns
    -------
    dict
        ``"log_px"``: ndarray of shape (len(sizes), n), the estimates in nats (float64);
        ``"ess"``: ndarray of shape (len(sizes), n), the effective sample size
        ``(sum_s w_s)^2 / sum_s w_s^2`` of the weights ``w_s = p(x|z_s)``: how many of the
        ``S`` samples actually contribute (1 when one sample dominates the sum).

    Notes
    -----
    Running log-sum-exps of ``log w`` and ``2 log w`` are kept per image, so memory does not
    grow with ``S``. ``E[log (1/S) sum w]`` is a lower bound on ``log p(x)`` that increases with
    ``S`` (Burda et al.'s argument holds for any proposal, here the prior).
    """
    check_instance(model, VAE, "model", "prior_log_likelihood", "a vae_np.VAE")
    X = model._check_X(X)
    check_rng(rng, "rng", "prior_log_likelihood")
    sizes = check_sizes(sizes, "sizes", "prior_log_likelihood", min_len=1)
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes must be strictly increasing, got {list(sizes)}")
    batch_size = check_positive_int(batch_size, "batch_size", "prior_log_likelihood")
    n = len(X)
    lse1 = np.full(n, -np.inf)            # log sum_s w_s
    lse2 = np.full(n, -np.inf)            # log sum_s w_s^2
    log_px, ess = [], []
    done = 0
    for size in sizes:
        while done < size:
            b = min(batch_size, size - done)
            z = rng.standard_normal((b, model.latent_dim)).astype(model.dtype)
            log_w = pairwise_log_px(model, X, model.decoder.forward(z))      # (n, b)
            lse1 = np.logaddexp(lse1, logsumexp(log_w, axis=1))
            lse2 = np.logaddexp(lse2, logsumexp(2 * log_w, axis=1))
            done += b
        log_px.append(lse1 - np.log(size))
        ess.append(np.exp(2 * lse1 - lse2))
    return {"log_px": np.array(log_px), "ess": np.array(ess)}

