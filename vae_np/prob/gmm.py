"""A Gaussian mixture model fitted from scratch with the EM algorithm.

The model (``K`` components, full covariances)::

    p(x) = sum_k pi_k N(x; mu_k, Sigma_k)

is the simplest *latent variable model*: a hidden discrete ``z in {1..K}`` with ``p(z = k) = pi_k``
and ``p(x | z = k) = N(mu_k, Sigma_k)``. EM alternates

* **E-step** — responsibilities ``r_ik = p(z = k | x_i)``, computed in log space:
  ``log r_ik = log pi_k + log N(x_i; mu_k, Sigma_k) - logsumexp_j(...)``;
* **M-step** — ``N_k = sum_i r_ik``, ``pi_k = N_k / n``, ``mu_k = sum_i r_ik x_i / N_k``,
  ``Sigma_k = (sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T + reg_covar I) / N_k``.

Each iteration cannot decrease the objective (Dempster, Laird and Rubin, 1977). With
``reg_covar = 0`` the objective is the log-likelihood itself; with ``reg_covar > 0`` the M-step is
the exact maximizer of the log-likelihood plus the penalty ``-reg_covar/2 sum_k tr(Sigma_k^{-1})``
(a MAP estimate that keeps covariances away from singular), and that penalized objective is what
is guaranteed to be monotone. Both are recorded.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_float, check_positive_int, check_real, check_rng, check_seed
from ..nn.losses import logsumexp
from .gaussians import _mvn_logpdf_chol, cholesky

__all__ = ["GaussianMixture", "NotFittedError"]


class NotFittedError(RuntimeError):
    """The mixture was used before ``fit`` (or ``set_params``)."""


def _as_2d(X, name="X", d=None):
    """Accept (n, d) data, or a 1-D array of n scalars (taken as shape (n, 1))."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    return check_array(X, name, n_features=d, dtype=np.float64)


class GaussianMixture:
    """Gaussian mixture with full covariance matrices, fitted by expectation-maximization.

    Parameters
    ----------
    n_components : int
        Number of Gaussians ``K``.
    max_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the objective (mean per example, in nats) improves by less than ``tol``.
    reg_covar : float
        ``>= 0``. Added to the scatter matrix of each component before dividing by ``N_k``
        (see the module notes); 0 gives plain maximum-likelihood EM.
    seed : int
        Seed of the initialization (k-means++-style choice of initial means among the data).

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
        Mixing proportions ``pi_k`` (sum to 1).
    means_ : ndarray of shape (K, d)
    covariances_ : ndarray of shape (K, d, d)
    log_likelihood_ : list of float
        Mean log-likelihood per example ``(1/n) sum_i log p(x_i)`` *before* each M-step, i.e. of
        the parameters entering iteration ``t`` (so entry 0 is the initialization), plus the
        final value after the last M-step.
    objective_ : list of float
        The quantity EM maximizes, per example: ``log_likelihood_`` minus the ``reg_covar``
        penalty divided by ``n`` (equal to ``log_likelihood_`` when ``reg_covar == 0``).
        Never decreases (up to rounding).
    n_iter_ : int
        Number of EM iterations run.
    converged_ : bool
        Whether the ``tol`` criterion was met before ``max_iter``.
    """

    def __init__(self, n_components, max_iter=200, tol=1e-6, reg_covar=1e-6, seed=0):
        owner = "GaussianMixture"
        self.n_components = check_positive_int(n_components, "n_components", owner)
        self.max_iter = check_positive_int(max_iter, "max_iter", owner)
        self.tol = check_float(tol, "tol", owner, low=0.0)
        self.reg_covar = check_float(reg_covar, "reg_covar", owner, low=0.0)
        self.seed = check_seed(seed, "seed", owner)
        self.weights_ = self.means_ = self.covariances_ = None

    # ------------------------------------------------------------------ parameters
    def set_params(self, weights, means, covariances):
        """Set the mixture's parameters directly (e.g. a known mixture to sample from).

        Parameters
        ----------
        weights : ndarray of shape (K,)
            Non-negative, summing to 1.
        means : ndarray of shape (K, d)
        covariances : ndarray of shape (K, d, d)
            Symmetric positive definite.

        Returns
        -------
        self
        """
        w = check_real(weights, "weights")
        m = np.atleast_2d(check_real(means, "means"))
        c = check_real(covariances, "covariances")
        K = self.n_components
        if w.shape != (K,) or m.shape[0] != K or c.shape != (K, m.shape[1], m.shape[1]):
            raise ValueError(f"expected weights (K,), means (K, d), covariances (K, d, d) with "
                             f"K={K}; got {w.shape}, {m.shape}, {c.shape}")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError(f"weights must be >= 0 and sum to 1, got {w}")
        self.weights_, self.means_, self.covariances_ = w, m, c
        self._chol = np.stack([cholesky(ck, f"covariances[{k}]") for k, ck in enumerate(c)])
        return self

    def _check_fitted(self):
        if self.means_ is None:
            raise NotFittedError("this GaussianMixture is not fitted yet; call fit(X) first "
                                 "(or set_params(...))")

    @property
    def n_features(self):
        """Dimension ``d`` of the data."""
        self._check_fitted()
        return self.means_.shape[1]

    # ------------------------------------------------------------------ E-step pieces
    def _log_joint(self, X):
        """``log pi_k + log N(x_i; mu_k, Sigma_k)``: ndarray of shape (n, K)."""
        with np.errstate(divide="ignore"):                             # log 0 = -inf is fine
            log_w = np.log(self.weights_)
        return log_w + np.column_stack([_mvn_logpdf_chol(X, self.means_[k], self._chol[k])
                                        for k in range(self.n_components)])

    def _penalty(self):
        """``(reg_covar / 2) sum_k tr(Sigma_k^{-1})`` (0 when ``reg_covar == 0``)."""
        if self.reg_covar == 0:
            return 0.0
        inv_L = [np.linalg.inv(L) for L in self._chol]
        return 0.5 * self.reg_covar * float(sum((Li * Li).sum() for Li in inv_L))

    # ------------------------------------------------------------------ fitting
    def _init_params(self, X, rng):
        n, d = X.shape
        K = self.n_components
        if n < K:
            raise ValueError(f"cannot fit {K} components to {n} points; use fewer components")
        # k-means++ seeding: each new mean is a data point drawn with probability proportional
        # to its squared distance from the nearest mean chosen so far (spreads the start).
        means = [X[rng.integers(n)]]
        for _ in range(1, K):
            d2 = np.min([((X - m) ** 2).sum(axis=1) for m in means], axis=0)
            p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
            means.append(X[rng.choice(n, p=p)])
        cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True)) + (self.reg_covar + 1e-12) * np.eye(d)
        self.set_params(np.full(K, 1.0 / K), np.array(means), np.repeat(cov[None], K, axis=0))

    def _m_step(self, X, resp):
        n, d = X.shape
        Nk = resp.sum(axis=0)                                          # (K,)
        if np.any(Nk < 1e-10 * n):
            k = int(np.argmin(Nk))
            raise FloatingPointError(
                f"component {k} lost all its points (N_k = {Nk[k]:.3g}); use fewer components, "
                "another seed, or a larger reg_covar")
        means = (resp.T @ X) / Nk[:, None]                             # (K, d)
        covs = np.empty((self.n_components, d, d))
        for k in range(self.n_components):
            D = X - means[k]
            covs[k] = ((resp[:, k, None] * D).T @ D + self.reg_covar * np.eye(d)) / Nk[k]
            covs[k] = 0.5 * (covs[k] + covs[k].T)
        try:
            self.set_params(Nk / n, means, covs)
        except ValueError as e:
            raise FloatingPointError(f"EM produced a singular covariance ({e}); set reg_covar > 0 "
                                     "(e.g. 1e-6) or use fewer components") from None

    def fit(self, X):
        """Fit the mixture to data with EM.

        Parameters
        ----------
        X : ndarray of shape (n, d), or of shape (n,) for 1-D data

        Returns
        -------
        self
        """
        X = _as_2d(X)
        rng = np.random.default_rng(self.seed)
        self._init_params(X, rng)
        self.log_likelihood_, self.objective_ = [], []
        self.converged_ = False
        n = len(X)
        for it in range(self.max_iter):
            log_joint = self._log_joint(X)                             # (n, K)
            log_px = logsumexp(log_joint, axis=1)                      # (n,)
            ll = float(log_px.mean())
            self.log_likelihood_.append(ll)
            self.objective_.append(ll - self._penalty() / n)
            if it > 0 and self.objective_[-1] - self.objective_[-2] < self.tol:
                self.converged_ = True
                break
            resp = np.exp(log_joint - log_px[:, None])                 # E-step, rows sum to 1
            self._m_step(X, resp)                                      # M-step
        else:
            ll = self.score(X)
            self.log_likelihood_.append(ll)
            self.objective_.append(ll - self._penalty() / n)
        self.n_iter_ = len(self.log_likelihood_) - 1
        return self

    # ------------------------------------------------------------------ using the model
    def score_samples(self, X):
        """Log-density ``log p(x_i)`` of each row.

        Parameters
        ----------
        X : ndarray of shape (n, d), or of shape (n,) for 1-D data

        Returns
        -------
        ndarray of shape (n,)
            ``logsumexp_k [log pi_k + log N(x_i; mu_k, Sigma_k)]``.
        """
        self._check_fitted()
        return logsumexp(self._log_joint(_as_2d(X, d=self.n_features)), axis=1)

    def score(self, X):
        """Mean log-likelihood per example, ``(1/n) sum_i log p(x_i)`` (nats; higher is better).

        Parameters
        ----------
        X : ndarray of shape (n, d), or of shape (n,) for 1-D data

        Returns
        -------
        float
        """
        return float(self.score_samples(X).mean())

    def predict_proba(self, X):
        """Responsibilities ``p(z = k | x_i)`` (the E-step), computed in log space.

        Parameters
        ----------
        X : ndarray of shape (n, d), or of shape (n,) for 1-D data

        Returns
        -------
        ndarray of shape (n, K)
            Rows sum to 1.
        """
        self._check_fitted()
        log_joint = self._log_joint(_as_2d(X, d=self.n_features))
        return np.exp(log_joint - logsumexp(log_joint, axis=1)[:, None])

    def predict(self, X):
        """Most responsible component of each row: ndarray of shape (n,) of int."""
        return np.argmax(self.predict_proba(X), axis=1)

    def sample(self, n, rng):
        """Ancestral sampling: ``z ~ Categorical(pi)``, then ``x ~ N(mu_z, Sigma_z)``.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator

        Returns
        -------
        X : ndarray of shape (n, d)
        z : ndarray of shape (n,) of int
            The component each sample came from.
        """
        self._check_fitted()
        n = check_positive_int(n, "n", "GaussianMixture.sample")
        check_rng(rng, "rng", "GaussianMixture.sample")
        z = rng.choice(self.n_components, size=n, p=self.weights_)
        eps = rng.standard_normal((n, self.n_features))
        X = self.means_[z] + np.einsum("nij,nj->ni", self._chol[z], eps)
        return X, z

    def __repr__(self):
        return (f"GaussianMixture(n_components={self.n_components}, reg_covar={self.reg_covar}, "
                f"seed={self.seed})")
