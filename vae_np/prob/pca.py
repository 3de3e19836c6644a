"""Principal component analysis via the singular value decomposition.

PCA is the optimal *linear* autoencoder: among all ways to encode centred data with a linear map
to ``k`` numbers and decode linearly, projecting onto the top ``k`` right singular vectors of the
centred data matrix minimizes the squared reconstruction error (Eckart–Young theorem), and the
minimum is the sum of the discarded squared singular values divided by ``n``.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int

__all__ = ["PCA"]


class PCA:
    """Principal component analysis with ``k`` components, fitted by an SVD.

    Parameters
    ----------
    n_components : int
        Number of components ``k`` (the size of the code).

    Attributes
    ----------
    mean_ : ndarray of shape (d,)
        Mean of the training data.
    components_ : ndarray of shape (k, d)
        Orthonormal principal directions (rows), by decreasing variance.
    explained_variance_ : ndarray of shape (k,)
        Variance of the training data along each component: ``s_j**2 / n``.
    total_variance_ : float
        ``(1/n) sum_i ||x_i - mean||**2`` of the training data (all directions).

    Notes
    -----
    With the centred data ``Xc = X - mean = U S V^T`` (thin SVD), the code of ``x`` is
    ``z = V_k^T (x - mean)`` and the reconstruction is ``mean + V_k z``. The mean squared
    reconstruction error on the training data is ``(1/n) sum_{j > k} s_j**2``.
    """

    def __init__(self, n_components):
        self.n_components = check_positive_int(n_components, "n_components", "PCA")
        self.components_ = None

    def fit(self, X):
        """Compute the mean and the top ``k`` principal directions of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, d)

        Returns
        -------
        self
        """
        X = check_array(X, "X", dtype=np.float64)
        n, d = X.shape
        if self.n_components > min(n, d):
            raise ValueError(f"n_components={self.n_components} exceeds min(n, d) = {min(n, d)} "
                             f"for data of shape {X.shape}")
        self.mean_ = X.mean(axis=0)
        _, s, Vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        k = self.n_components
        self.components_ = Vt[:k]
        self.explained_variance_ = s[:k] ** 2 / n
        self.total_variance_ = float((s ** 2).sum() / n)
        return self

    def _check_fitted(self):
        if self.components_ is None:
            raise RuntimeError("this PCA is not fitted yet; call fit(X) first")

    def transform(self, X):
        """Codes ``Z = (X - mean) V_k``: X of shape (n, d) -> ndarray of shape (n, k)."""
        self._check_fitted()
        X = check_array(X, "X", n_features=self.mean_.size, dtype=np.float64)
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z):
        """Decode ``mean + Z V_k^T``: Z of shape (n, k) -> ndarray of shape (n, d)."""
        self._check_fitted()
        Z = check_array(Z, "Z", n_features=self.n_components, dtype=np.float64)
        return self.mean_ + Z @ self.components_

    def reconstruct(self, X):
        """Project onto the principal subspace: X of shape (n, d) -> ndarray of shape (n, d)."""
        return self.inverse_transform(self.transform(X))
