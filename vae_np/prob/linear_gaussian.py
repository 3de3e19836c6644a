"""The linear-Gaussian latent variable model: a VAE-shaped model whose every quantity is exact.

Generative model (probabilistic PCA / factor analysis with isotropic noise)::

    z ~ N(0, I_k),    x | z ~ N(W z + b, sigma**2 I_d)

Everything a VAE can only estimate is here in closed form:

* the evidence ``p(x) = N(x; b, W W^T + sigma**2 I)``,
* the posterior ``p(z|x) = N(m(x), S)`` with ``S = (I + W^T W / sigma**2)^{-1}`` and
  ``m(x) = S W^T (x - b) / sigma**2`` (a *linear* function of ``x``: the ideal encoder is linear),
* the ELBO of any Gaussian ``q(z) = N(m, C)``, by exact expectation.

So the identity ``log p(x) = ELBO(q) + KL(q || p(z|x))`` can be checked to rounding error.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_float, check_positive_int, check_real, check_rng
from .gaussians import mvn_logpdf

__all__ = ["LinearGaussian"]

LOG_2PI = float(np.log(2 * np.pi))


class LinearGaussian:
    """``z ~ N(0, I_k)``, ``x | z ~ N(W z + b, sigma**2 I_d)``.

    Parameters
    ----------
    W : ndarray of shape (d, k)
        Loading matrix (the "decoder weights").
    b : ndarray of shape (d,)
        Offset (the data mean).
    sigma : float
        Observation noise standard deviation, > 0.

    Attributes
    ----------
    data_dim : int
        ``d``.
    latent_dim : int
        ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from vae_np import LinearGaussian
    >>> model = LinearGaussian.random(data_dim=3, latent_dim=2, sigma=0.5,
    ...                               rng=np.random.default_rng(0))
    >>> X, Z = model.sample(4, np.random.default_rng(1))
    >>> model.log_marginal(X).shape
    (4,)
    """

    def __init__(self, W, b, sigma):
        W = check_array(W, "W", ndim=2, dtype=np.float64)
        self.data_dim, self.latent_dim = W.shape
        self.W = W
        self.b = check_array(b, "b", ndim=1, n_features=self.data_dim, dtype=np.float64)
        self.sigma = check_positive_float(sigma, "sigma", "LinearGaussian")
        # Posterior precision Lambda = I + W^T W / sigma^2 (the same for every x).
        self._precision = np.eye(self.latent_dim) + W.T @ W / self.sigma ** 2
        self._post_cov = np.linalg.inv(self._precision)
        self._post_cov = 0.5 * (self._post_cov + self._post_cov.T)

    @classmethod
    def random(cls, data_dim, latent_dim, sigma, rng, scale=1.0):
        """A model with ``W`` and ``b`` drawn from ``N(0, scale**2)``.

        Parameters
        ----------
        data_dim, latent_dim : int
        sigma : float
        rng : numpy.random.Generator
        scale : float

        Returns
        -------
        LinearGaussian
        """
        d = check_positive_int(data_dim, "data_dim", "LinearGaussian.random")
        k = check_positive_int(latent_dim, "latent_dim", "LinearGaussian.random")
        check_rng(rng, "rng", "LinearGaussian.random")
        scale = check_positive_float(scale, "scale", "LinearGaussian.random")
        return cls(scale * rng.standard_normal((d, k)), scale * rng.standard_normal(d), sigma)

    def __repr__(self):
        return (f"LinearGaussian(data_dim={self.data_dim}, latent_dim={self.latent_dim}, "
                f"sigma={self.sigma:g})")

    # ------------------------------------------------------------------ checks
    def _X(self, X):
        return check_array(X, "X", ndim=2, n_features=self.data_dim, dtype=np.float64)

    def _Z(self, Z, name="Z"):
        Z = check_real(Z, name, finite=False)
        if Z.ndim < 1 or Z.shape[-1] != self.latent_dim:
            raise ValueError(f"{name} must have shape (..., {self.latent_dim}), got {Z.shape}")
        if not np.isfinite(Z).all():
            raise ValueError(f"{name} contains NaN or inf")
        return Z

    def _q(self, X, q_mean, q_cov):
        n, k = len(X), self.latent_dim
        q_mean = self._Z(q_mean, "q_mean")
        if q_mean.shape not in ((k,), (n, k)):
            raise ValueError(f"q_mean must have shape ({n}, {k}) or ({k},), got {q_mean.shape}")
        q_cov = check_real(q_cov, "q_cov")
        if q_cov.shape not in ((k, k), (n, k, k)):
            raise ValueError(f"q_cov must have shape ({k}, {k}) or ({n}, {k}, {k}), got "
                             f"{q_cov.shape}")
        return q_mean, q_cov

    # ------------------------------------------------------------------ generative model
    def sample(self, n, rng):
        """Draw ``(x, z)`` pairs from the joint.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator

        Returns
        -------
        X : ndarray of shape (n, d)
        Z : ndarray of shape (n, k)
        """
        n = check_positive_int(n, "n", "LinearGaussian.sample")
        check_rng(rng, "rng", "LinearGaussian.sample")
        Z = rng.standard_normal((n, self.latent_dim))
        X = Z @ self.W.T + self.b + self.sigma * rng.standard_normal((n, self.data_dim))
        return X, Z

    def log_likelihood(self, X, Z):
        """``log p(x | z) = log N(x; W z + b, sigma**2 I)``.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        Z : ndarray of shape (..., n, k)
            Latent points (leading axes, e.g. Monte Carlo samples, broadcast).

        Returns
        -------
        ndarray of shape (..., n)
        """
        X, Z = self._X(X), self._Z(Z)
        r = (X - Z @ self.W.T - self.b) / self.sigma
        return -0.5 * (r * r).sum(axis=-1) - self.data_dim * (0.5 * LOG_2PI + np.log(self.sigma))

    def log_prior(self, Z):
        """``log p(z) = log N(z; 0, I)``. Z : ndarray of shape (..., k); returns shape (...)."""
        Z = self._Z(Z)
        return -0.5 * (Z * Z).sum(axis=-1) - 0.5 * self.latent_dim * LOG_2PI

    def log_joint(self, X, Z):
        """``log p(x, z) = log p(x | z) + log p(z)``; shapes as in :meth:`log_likelihood`."""
        return self.log_likelihood(X, Z) + self.log_prior(Z)

    def marginal_cov(self):
        """Covariance of ``p(x)``: ``W W^T + sigma**2 I``, ndarray of shape (d, d)."""
        return self.W @ self.W.T + self.sigma ** 2 * np.eye(self.data_dim)

    def log_marginal(self, X):
        """Exact evidence ``log p(x) = log N(x; b, W W^T + sigma**2 I)``.

        Parameters
        ----------
        X : ndarray of shape (n, d)

        Returns
        -------
        ndarray of shape (n,)

        Notes
        -----
        ``x = W z + b + sigma * noise`` is a linear function of Gaussians, so it is Gaussian with
        mean ``b`` and covariance ``W W^T + sigma**2 I``. Evaluated through a Cholesky factor
        ``L`` of that covariance (:func:`vae_np.prob.gaussians.mvn_logpdf`):
        ``-0.5 * (d log 2 pi + 2 sum log L_ii + ||L^{-1}(x - b)||**2)``.
        """
        return mvn_logpdf(self._X(X), self.b, self.marginal_cov())

    # ------------------------------------------------------------------ exact posterior
    def posterior(self, X):
        """Exact posterior ``p(z | x) = N(mean, cov)``.

        Parameters
        ----------
        X : ndarray of shape (n, d)

        Returns
        -------
        mean : ndarray of shape (n, k)
            ``S W^T (x - b) / sigma**2``.
        cov : ndarray of shape (k, k)
            ``S = (I + W^T W / sigma**2)^{-1}``, the same for every ``x``.

        Notes
        -----
        ``log p(z|x) = log p(x|z) + log p(z) + const`` is quadratic in ``z``:
        ``-0.5 z^T (I + W^T W / sigma**2) z + z^T W^T (x - b) / sigma**2 + const``; completing the
        square gives the precision ``S^{-1}`` and the mean.
        """
        X = self._X(X)
        A, c = self.posterior_map()
        return X @ A.T + c, self._post_cov.copy()

    def posterior_map(self):
        """The exact encoder: ``mean(x) = A x + c``.

        Returns
        -------
        A : ndarray of shape (k, d)
            ``S W^T / sigma**2``.
        c : ndarray of shape (k,)
            ``-A b``.
        """
        A = self._post_cov @ self.W.T / self.sigma ** 2
        return A, -A @ self.b

    # ------------------------------------------------------------------ the ELBO, exactly
    def elbo(self, X, q_mean, q_cov):
        """Exact ELBO ``E_q[log p(x, z) - log q(z)]`` of a Gaussian ``q = N(q_mean, q_cov)``.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        q_mean : ndarray of shape (n, k) or (k,)
            Mean of each example's ``q`` (or one mean for all).
        q_cov : ndarray of shape (n, k, k) or (k, k)
            Covariance of each example's ``q`` (or one for all), symmetric positive definite.

        Returns
        -------
        ndarray of shape (n,)

        Notes
        -----
        With ``q = N(m, C)`` every expectation is a Gaussian moment:

        * ``E_q[log p(x|z)] = -d/2 log(2 pi sigma**2) - (||x - W m - b||**2 + tr(W C W^T)) / (2 sigma**2)``
        * ``E_q[log p(z)] = -k/2 log(2 pi) - (||m||**2 + tr C) / 2``
        * ``-E_q[log q(z)] = k/2 log(2 pi e) + 1/2 log det C`` (the entropy)

        and the ELBO is their sum, equivalently ``E_q[log p(x|z)] - KL(q || p(z))``.
        """
        X = self._X(X)
        m, C = self._q(X, q_mean, q_cov)
        try:
            L = np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            raise ValueError("q_cov is not positive definite") from None
        d, k, s2 = self.data_dim, self.latent_dim, self.sigma ** 2
        r = X - m @ self.W.T - self.b
        WtW = self.W.T @ self.W
        tr_C = np.trace(C, axis1=-2, axis2=-1)
        tr_WCW = np.einsum("ij,...ji->...", WtW, C)
        logdet_C = 2 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
        e_loglik = -0.5 * d * (LOG_2PI + np.log(s2)) - ((r * r).sum(axis=1) + tr_WCW) / (2 * s2)
        e_logprior = -0.5 * k * LOG_2PI - 0.5 * ((m * m).sum(axis=-1) + tr_C)
        entropy = 0.5 * k * (LOG_2PI + 1) + 0.5 * logdet_C
        return e_loglik + e_logprior + entropy

    def elbo_and_grads(self, X, q_mean, q_chol):
        """Exact ELBO of ``q = N(q_mean, L L^T)`` and its gradient w.r.t. ``q_mean`` and ``L``.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        q_mean : ndarray of shape (n, k)
        q_chol : ndarray of shape (n, k, k) or (k, k)
            Lower-triangular factor ``L`` of the covariance (its upper triangle is ignored;
            the diagonal must be nonzero).

        Returns
        -------
        elbo : ndarray of shape (n,)
        dmean : ndarray of shape (n, k)
            ``d ELBO_i / d m_i = W^T (x_i - W m_i - b) / sigma**2 - m_i``.
        dchol : ndarray of shape (n, k, k)
            ``d ELBO_i / d L = tril(-Lambda L + L^{-T})`` with ``Lambda = I + W^T W / sigma**2``
            (one per example; sum over the first axis for a shared ``L``).

        Notes
        -----
        Up to terms that do not depend on ``q``,
        ``ELBO = -||x - W m - b||**2 / (2 sigma**2) - ||m||**2 / 2 - tr(Lambda C) / 2
        + log det C / 2`` with ``C = L L^T``, ``log det C = 2 sum_j log |L_jj|``.
        At the maximum both gradients vanish: ``m = m(x)`` and ``C = Lambda^{-1}``, the exact
        posterior.
        """
        X = self._X(X)
        n, k = len(X), self.latent_dim
        L = check_real(q_chol, "q_chol")
        if L.shape not in ((k, k), (n, k, k)):
            raise ValueError(f"q_chol must have shape ({k}, {k}) or ({n}, {k}, {k}), got {L.shape}")
        L = np.tril(L)
        diag = np.diagonal(L, axis1=-2, axis2=-1)
        if np.any(diag == 0):
            raise ValueError("q_chol has a zero on its diagonal: the covariance L L^T is singular")
        C = L @ np.swapaxes(L, -1, -2)
        elbo = self.elbo(X, q_mean, C)
        m = self._Z(q_mean, "q_mean")
        dmean = (X - m @ self.W.T - self.b) @ self.W / self.sigma ** 2 - m
        Linv_T = np.swapaxes(np.linalg.inv(L), -1, -2)
        dchol = np.tril(-self._precision @ L + Linv_T)
        return elbo, dmean, np.broadcast_to(dchol, (n, k, k)).copy()
