"""PCA via SVD: orthonormal directions, the covariance's eigenvectors, Eckart–Young optimality."""
import numpy as np
import pytest

from vae_np.prob.pca import PCA


def data(seed=0, n=300, d=6):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) * np.linspace(3, 0.2, d)
    return rng.standard_normal((n, d)) @ A.T + rng.standard_normal(d)


def test_components_are_orthonormal_eigenvectors_of_the_covariance():
    X = data()
    pca = PCA(3).fit(X)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(3), atol=1e-12)
    evals, evecs = np.linalg.eigh(np.cov(X, rowvar=False, bias=True))
    np.testing.assert_allclose(pca.explained_variance_, evals[::-1][:3], rtol=1e-10)
    # same directions up to sign
    np.testing.assert_allclose(np.abs(pca.components_ @ evecs[:, ::-1][:, :3]), np.eye(3),
                               atol=1e-8)


def test_reconstruction_error_is_the_discarded_variance_and_optimal():
    X = data(1)
    for k in (1, 3, 6):
        pca = PCA(k).fit(X)
        err = ((X - pca.reconstruct(X)) ** 2).sum(axis=1).mean()
        assert err == pytest.approx(pca.total_variance_ - pca.explained_variance_.sum(),
                                    abs=1e-9)
    # no other k-dimensional linear projection does better (Eckart–Young)
    rng = np.random.default_rng(2)
    pca = PCA(2).fit(X)
    best = ((X - pca.reconstruct(X)) ** 2).sum(axis=1).mean()
    for _ in range(20):
        Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], 2)))
        Xc = X - X.mean(axis=0)
        assert ((Xc - Xc @ Q @ Q.T) ** 2).sum(axis=1).mean() >= best - 1e-9


def test_transform_shapes_and_errors():
    X = data(3)
    pca = PCA(2).fit(X)
    assert pca.transform(X).shape == (len(X), 2)
    assert pca.inverse_transform(np.zeros((4, 2))).shape == (4, X.shape[1])
    with pytest.raises(RuntimeError, match="not fitted"):
        PCA(2).transform(X)
    with pytest.raises(ValueError, match="exceeds"):
        PCA(7).fit(X)
    with pytest.raises(ValueError, match="features"):
        pca.transform(X[:, :3])
