"""Kullback-Leibler divergences between Gaussians in closed form, and by numerical integration.

``KL(q || p) = E_q[log q(z) - log p(z)] >= 0``, with equality only when ``q = p``.

Parameterization: as everywhere in ``vae_np``, a diagonal Gaussian is given by its mean and its
**log-variance** ``logvar`` (``std = exp(0.5 * logvar)``); a full-covariance Gaussian by its mean
and covariance matrix.

The special case ``KL(N(mu, diag(exp(logvar))) || N(0, I))`` that the VAE trains with lives in
:func:`vae_np.nn.losses.kl_normal_std` (with its gradients); :func:`kl_diag_normal` with the default
``mu_p = 0, logvar_p = 0`` gives the same numbers (a test checks it).
"""
from __future__ import annotations

import numpy as np

from .._validation import check_callable, check_float, check_real

__all__ = ["kl_normal", "kl_diag_normal", "kl_mvn", "kl_quadrature"]


def _as_float(a, name):
    a = check_real(a, name, finite=False)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; every mean and log-variance must be finite")
    return a


def kl_normal(mu_q, logvar_q, mu_p=0.0, logvar_p=0.0):
    """Elementwise ``KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p)))`` of univariate Gaussians.

    Parameters
    ----------
    mu_q, logvar_q : float or ndarray
        Mean and log-variance of ``q``.
    mu_p, logvar_p : float or ndarray broadcastable with ``mu_q``
        Mean and log-variance of ``p`` (default: the standard normal).

    Returns
    -------
    ndarray of the broadcast shape (float64; a 0-d array for scalar inputs)

    Raises
    ------
    ValueError
        If an input is NaN or inf.

    Notes
    -----
    With variances :math:`s_q^2 = e^{\\ell_q}`, :math:`s_p^2 = e^{\\ell_p}`:

    .. math:: \\mathrm{KL}(q\\|p) = \\tfrac12\\Big[\\ell_p - \\ell_q
              + \\frac{s_q^2 + (\\mu_q - \\mu_p)^2}{s_p^2} - 1\\Big]

    computed as ``exp(logvar_q - logvar_p)`` and ``(mu_q - mu_p)**2 * exp(-logvar_p)`` so that no
    variance is formed on its own (no overflow for large log-variances of equal size).
    """
    mu_q, logvar_q = _as_float(mu_q, "mu_q"), _as_float(logvar_q, "logvar_q")
    mu_p, logvar_p = _as_float(mu_p, "mu_p"), _as_float(logvar_p, "logvar_p")
    try:
        np.broadcast_shapes(mu_q.shape, logvar_q.shape, mu_p.shape, logvar_p.shape)
    except ValueError:
        raise ValueError(f"mu_q, logvar_q, mu_p and logvar_p must broadcast to one shape, got "
                         f"shapes {mu_q.shape}, {logvar_q.shape}, {mu_p.shape} and "
                         f"{logvar_p.shape}") from None
    d = mu_q - mu_p
    return 0.5 * (logvar_p - logvar_q + np.exp(logvar_q - logvar_p) + d * d * np.exp(-logvar_p)
                  - 1.0)


def kl_diag_normal(mu_q, logvar_q, mu_p=0.0, logvar_p=0.0):
    """``KL(q || p)`` of two diagonal Gaussians: the univariate KL summed over the last axis.

    Parameters
    ----------
    mu_q, logvar_q : ndarray of shape (..., k)
        Mean and log-variances of ``q = N(mu_q, diag(exp(logvar_q)))``.
    mu_p, logvar_p : float or ndarray broadcastable to (..., k)
        Mean and log-variances of ``p`` (default: ``N(0, I)``).

    Returns
    -------
    ndarray of shape (...)
        One KL per row (a 0-d array for a single Gaussian of shape (k,)).

    Notes
    -----
    A diagonal Gaussian is a product of independent univariate Gaussians, and the KL of two
    products of independent factors is the sum of the factors' KLs:
    :math:`\\mathrm{KL}(q\\|p) = \\sum_j \\mathrm{KL}(q_j\\|p_j)`.
    """
    mu_q = _as_float(mu_q, "mu_q")
    if mu_q.ndim == 0:
        raise ValueError("mu_q must have a last axis of size k (shape (..., k)); for univariate "
                         "Gaussians use kl_normal")
    return kl_normal(mu_q, logvar_q, mu_p, logvar_p).sum(axis=-1)


def _chol(cov, name):
    cov = _as_float(cov, name)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name} must have shape (..., k, k), got {cov.shape}")
    if not np.allclose(cov, np.swapaxes(cov, -1, -2), rtol=1e-10,
                       atol=1e-12 * max(1.0, float(np.abs(cov).max()))):
        raise ValueError(f"{name} must be symmetric; use (cov + cov.T) / 2")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite; a covariance matrix needs every "
                         "eigenvalue > 0") from None


def kl_mvn(mu_q, cov_q, mu_p, cov_p):
    """``KL(N(mu_q, cov_q) || N(mu_p, cov_p))`` of full-covariance Gaussians.

    Parameters
    ----------
    mu_q, mu_p : ndarray of shape (..., k)
        Means (leading axes broadcast, e.g. ``(n, k)`` against ``(k,)``).
    cov_q, cov_p : ndarray of shape (..., k, k)
        Symmetric positive-definite covariances (leading axes broadcast with the means').

    Returns
    -------
    ndarray of shape (...)
        (a 0-d array for single Gaussians)

    Raises
    ------
    ValueError
        If a covariance is not square, symmetric and positive definite, or shapes disagree.

    Notes
    -----
    .. math:: \\mathrm{KL}(q\\|p) = \\tfrac12\\Big[\\operatorname{tr}(\\Sigma_p^{-1}\\Sigma_q)
              + (\\mu_p - \\mu_q)^\\top \\Sigma_p^{-1} (\\mu_p - \\mu_q) - k
              + \\log\\det\\Sigma_p - \\log\\det\\Sigma_q\\Big]

    evaluated with Cholesky factors :math:`\\Sigma = LL^\\top`:
    :math:`\\operatorname{tr}(\\Sigma_p^{-1}\\Sigma_q) = \\|L_p^{-1}L_q\\|_F^2`, the quadratic
    form is :math:`\\|L_p^{-1}(\\mu_p - \\mu_q)\\|^2` and
    :math:`\\log\\det\\Sigma = 2\\sum_j \\log L_{jj}`. No inverse is formed.
    """
    mu_q, mu_p = _as_float(mu_q, "mu_q"), _as_float(mu_p, "mu_p")
    Lq, Lp = _chol(cov_q, "cov_q"), _chol(cov_p, "cov_p")
    k = Lq.shape[-1]
    if mu_q.shape[-1:] != (k,) or mu_p.shape[-1:] != (k,) or Lp.shape[-1] != k:
        raise ValueError(f"shapes disagree: mu_q {mu_q.shape}, cov_q {Lq.shape}, mu_p "
                         f"{mu_p.shape}, cov_p {Lp.shape}; means need shape (..., k) and "
                         "covariances (..., k, k) with the same k")
    batch = np.broadcast_shapes(mu_q.shape[:-1], mu_p.shape[:-1], Lq.shape[:-2], Lp.shape[:-2])
    Lp_b = np.broadcast_to(Lp, batch + (k, k))
    M = np.linalg.solve(Lp_b, np.broadcast_to(Lq, batch + (k, k)))          # L_p^{-1} L_q
    r = np.linalg.solve(Lp_b, np.broadcast_to(mu_p - mu_q, batch + (k,))[..., None])[..., 0]
    logdet_q = 2.0 * np.log(np.diagonal(Lq, axis1=-2, axis2=-1)).sum(axis=-1)
    logdet_p = 2.0 * np.log(np.diagonal(Lp, axis1=-2, axis2=-1)).sum(axis=-1)
    return 0.5 * ((M * M).sum(axis=(-2, -1)) + (r * r).sum(axis=-1) - k + logdet_p - logdet_q)


def kl_quadrature(log_p, log_q, lower=-np.inf, upper=np.inf, **quad_kwargs):
    """``KL(p || q) = integral of p(x) (log p(x) - log q(x)) dx`` for 1-D densities, by quadrature.

    Parameters
    ----------
    log_p, log_q : callable
        Log-densities of one float (``log_p(x) -> float``).
    lower, upper : float
        Integration limits (infinite by default).
    **quad_kwargs
        Passed to :func:`scipy.integrate.quad` (e.g. ``points``, ``limit``, ``epsabs``).

    Returns
    -------
    kl : float
    abserr : float
        Quadrature's estimate of its absolute error.

    Notes
    -----
    Where ``p(x)`` underflows to 0 the integrand is taken as 0 (the limit of
    :math:`p \\log p` as :math:`p \\to 0`), so far tails never produce ``0 * inf = nan``.
    This is a check for closed forms and a tool for densities without one (mixtures).
    """
    from scipy.integrate import quad
    check_callable(log_p, "log_p", "kl_quadrature")
    check_callable(log_q, "log_q", "kl_quadrature")
    lower = check_float(lower, "lower", "kl_quadrature", allow_inf=True)
    upper = check_float(upper, "upper", "kl_quadrature", allow_inf=True)
    if not lower < upper:
        raise ValueError(f"kl_quadrature needs lower < upper, got lower={lower!r}, upper={upper!r}")

    def integrand(x):
        lp = log_p(x)
        if lp == -np.inf:
            return 0.0
        return float(np.exp(lp) * (lp - log_q(x)))

    kl, err = quad(integrand, lower, upper, **quad_kwargs)
    return float(kl), float(err)
