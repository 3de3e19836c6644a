"""Gaussian log-densities (univariate and multivariate) and sampling, written out from the formulas.

Log-densities rather than densities: a density of a 784-dimensional point underflows to 0 in
floating point, its logarithm does not. The multivariate density is evaluated through a Cholesky
factor ``Sigma = L L^T`` (never an explicit inverse), which is both stable and cheap:

* ``(x - mu)^T Sigma^{-1} (x - mu) = ||L^{-1} (x - mu)||^2`` (one triangular solve), and
* ``log det Sigma = 2 sum_i log L_ii``.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from .._validation import check_array, check_positive_int, check_real, check_rng

__all__ = ["LOG_2PI", "normal_logpdf", "mvn_logpdf", "mvn_sample", "cholesky"]

LOG_2PI = float(np.log(2 * np.pi))


def normal_logpdf(x, mean=0.0, std=1.0):
    """Log-density of the univariate normal distribution ``N(mean, std**2)``.

    Parameters
    ----------
    x : float or ndarray of any shape
        Points where the density is evaluated.
    mean : float or ndarray broadcastable with ``x``
    std : float or ndarray broadcastable with ``x``
        Standard deviation (not the variance), every value > 0.

    Returns
    -------
    ndarray of the broadcast shape of ``x``, ``mean`` and ``std`` (float64)

    Raises
    ------
    ValueError
        If a standard deviation is not a finite number > 0.

    Notes
    -----
    .. math:: \\log \\mathcal{N}(x; \\mu, \\sigma^2)
              = -\\tfrac12 \\log(2\\pi) - \\log\\sigma - \\frac{(x - \\mu)^2}{2\\sigma^2}
    """
    x = check_real(x, "x", finite=False)
    mean = check_real(mean, "mean", finite=False)
    std = check_real(std, "std", finite=False)
    if not (np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError(f"std must be finite and > 0 (it is a standard deviation), got {std!r}")
    try:
        np.broadcast_shapes(x.shape, mean.shape, std.shape)
    except ValueError:
        raise ValueError(f"x, mean and std must broadcast to one shape, got shapes {x.shape}, "
                         f"{mean.shape} and {std.shape}") from None
    r = (x - mean) / std
    return -0.5 * LOG_2PI - np.log(std) - 0.5 * r * r


def cholesky(cov, name="cov"):
    """Lower-triangular Cholesky factor ``L`` with ``cov = L @ L.T``, with a clear error.

    Parameters
    ----------
    cov : ndarray of shape (d, d)
        A symmetric positive-definite matrix.
    name : str
        Name used in the error message.

    Returns
    -------
    ndarray of shape (d, d), lower triangular, float64

    Raises
    ------
    ValueError
        If ``cov`` is not a square, symmetric, positive-definite matrix.
    """
    cov = check_real(cov, name, finite=False)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} contains NaN or inf")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(cov).max())):
        raise ValueError(f"{name} must be symmetric; use (cov + cov.T) / 2")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite (smallest eigenvalue "
                         f"{np.linalg.eigvalsh(cov).min():.3g}); add a small multiple of the "
                         "identity or remove redundant dimensions") from None


def mvn_logpdf(X, mean, cov):
    """Log-density of the multivariate normal ``N(mean, cov)`` at each row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points, one per row (a single point of shape (d,) is accepted and gives shape ()).
    mean : ndarray of shape (d,)
    cov : ndarray of shape (d, d)
        Symmetric positive-definite covariance matrix.

    Returns
    -------
    ndarray of shape (n,), float64

    Notes
    -----
    .. math:: \\log \\mathcal{N}(x; \\mu, \\Sigma) = -\\tfrac d2 \\log(2\\pi)
              - \\tfrac12 \\log\\det\\Sigma - \\tfrac12 (x - \\mu)^\\top \\Sigma^{-1} (x - \\mu)

    evaluated with ``Sigma = L L^T``: the quadratic form is ``||L^{-1}(x - mu)||^2`` and
    ``log det Sigma = 2 sum_i log L_ii``.
    """
    single = np.ndim(X) == 1
    mean = check_real(mean, "mean")
    if mean.ndim != 1:
        raise ValueError(f"mean must have shape (d,), got {mean.shape}")
    d = mean.shape[0]
    X = check_array(np.atleast_2d(X), "X", n_features=d, dtype=np.float64)
    L = cholesky(cov)
    if L.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match mean, got {L.shape}")
    out = _mvn_logpdf_chol(X, mean, L)
    return out[0] if single else out


def _mvn_logpdf_chol(X, mean, L):
    """``log N(x; mean, L L^T)`` per row. X (n, d), mean (d,), L (d, d) lower; returns (n,)."""
    d = X.shape[1]
    R = solve_triangular(L, (X - mean).T, lower=True)           # (d, n) = L^{-1} (x - mu)
    log_det = 2.0 * np.log(np.diag(L)).sum()
    return -0.5 * (d * LOG_2PI + log_det + (R * R).sum(axis=0))


def mvn_sample(n, mean, cov, rng):
    """Draw ``n`` samples of ``N(mean, cov)`` as ``mean + L @ eps`` with ``eps ~ N(0, I)``.

    Parameters
    ----------
    n : int
    mean : ndarray of shape (d,)
    cov : ndarray of shape (d, d)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, d), float64

    Notes
    -----
    If ``eps ~ N(0, I)`` then ``L eps`` has covariance ``L I L^T = Sigma``: every Gaussian is a
    linear transformation of a standard one (the reparameterization used by the VAE).
    """
    n = check_positive_int(n, "n", "mvn_sample")
    check_rng(rng, "rng", "mvn_sample")
    mean = check_real(mean, "mean")
    if mean.ndim != 1:
        raise ValueError(f"mean must have shape (d,), got {mean.shape}")
    L = cholesky(cov)
    if L.shape != (mean.size, mean.size):
        raise ValueError(f"cov must have shape ({mean.size}, {mean.size}), got {L.shape}")
    return mean + rng.standard_normal((n, mean.size)) @ L.T
